// The crate's few lines of JavaScript (a wasm-bindgen snippet: one module, shipped beside the
// glue): what is cheaper or only possible on the JavaScript side.

// `new WebSocket(url, protocols)` with the global class, its binary type `arraybuffer` and its
// handlers: `open` and `close` (given the events), and `message`, called as `message(text)` when
// the payload is a string, else `message(undefined, event)` (one call into wasm per message
// instead of three: the closure, reading `data`, copying the string; and no event handle for a
// text message). Without a WebSocket class (Node.js before 22), it throws a message without a
// colon (the caller keeps what comes before one) that names what is missing. (The npm package's
// driver, in resocket.js, creates its sockets itself, with the class of its `WebSocket` option.)
// The error event is ignored (the close event after it carries what matters), but it has a
// listener: the `ws` package's socket, an EventEmitter, throws an error event nobody listens to.
export function socket(url, protocols, open, message, close) {
  const C = globalThis.WebSocket;
  if (typeof C != 'function') throw 'this runtime has no WebSocket class (Node.js before 22?)';
  const ws = protocols ? new C(url, protocols) : new C(url);
  ws.onerror = ignore;
  ws.binaryType = 'arraybuffer';
  ws.onopen = open;
  ws.onmessage = (e) => { const d = e.data; if (typeof d === 'string') message(d); else message(undefined, e); };
  ws.onclose = close;
  // Binary data is sent as a view of wasm memory. A browser copies it at once; a WebSocket
  // written in JavaScript (the `ws` package's) may keep it for later (while compressing), when
  // the memory holds something else: it gets a copy.
  if (!Function.prototype.toString.call(C).includes('[native code]')) {
    const send = ws.send;
    ws.send = (d) => send.call(ws, ArrayBuffer.isView(d) ? d.slice() : d);
  }
  return ws;
}
// Detaches the handlers `socket` set (so none can run into freed closures), then closes a
// socket still connecting or open with code 1000 (which cannot be refused; any error ignored).
export function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = null;
  if (ws.readyState < 2) try { ws.close(1000); } catch {}
}
const ignore = () => {};

// A readable message for a thrown value (sys::js_error_message): an Error's `name: message`
// (its message alone when its name is empty), a string as it is, anything else as JSON (not
// Rust's `Debug` of a JsValue, which would ship a JS value printer), or a fixed text when it
// has none (undefined, a function, a symbol) or JSON throws (a BigInt, a cycle).
export function errorMessage(v) {
  if (v instanceof Error) return v.name ? `${v.name}: ${v.message}` : `${v.message}`;
  if (typeof v == 'string') return v;
  try { const s = JSON.stringify(v); if (typeof s == 'string') return s; } catch {}
  return 'a thrown value that is not an Error';
}

// A task boundary marker (sys::TurnMarker): `mark()` posts to a MessageChannel, whose message
// task runs `f` once the current browser task (and its burst of socket messages) is over.
export class Turn {
  constructor(f) { const c = new MessageChannel(); this.a = c.port1; this.b = c.port2; this.a.onmessage = f; }
  mark() { this.b.postMessage(0); }
  stop() { this.a.onmessage = null; this.a.close(); this.b.close(); }
}

const win = () => (typeof Window == 'function' && globalThis instanceof Window ? globalThis : undefined);
// The page's signals a reconnecting socket acts on, as `f(kind, flag)`: 0 online/offline
// (flag: online), 1 visibilitychange (flag: visible), 2 pagehide and 3 pageshow (flag:
// persisted, the back/forward cache). Nothing in a worker. `stop()` removes every listener.
export class PageWatch {
  constructor(f) {
    const w = win();
    const d = w?.document;
    const on = (t, type, g) => { if (t) { t.addEventListener(type, g); this.l.push([t, type, g]); } };
    this.l = [];
    on(w, 'online', () => f(0, true));
    on(w, 'offline', () => f(0, false));
    on(d, 'visibilitychange', () => f(1, d.visibilityState == 'visible'));
    on(w, 'pagehide', (e) => f(2, !!e.persisted));
    on(w, 'pageshow', (e) => f(3, !!e.persisted));
  }
  stop() { for (const [t, type, g] of this.l) t.removeEventListener(type, g); this.l = []; }
}
// A runtime whose navigator has no `onLine` (Deno) counts as online.
export function isOnline() { const w = win(); return !w || w.navigator?.onLine !== false; }
