// The crate's few lines of JavaScript (a wasm-bindgen snippet: one module, shipped beside the
// glue): what is cheaper or only possible on the JavaScript side.

// Sets `ws.onmessage` to call `f(text)` when the payload is a string, else `f(undefined, event)`:
// one call into wasm per message instead of three (the closure, reading `data`, copying the
// string), and no event handle for a text message.
export function listen(ws, f) {
  ws.onmessage = (e) => { const d = e.data; if (typeof d === 'string') f(d); else f(undefined, e); };
}

// A task boundary marker (sys::TurnMarker): `mark()` posts to a MessageChannel, whose message
// task runs `f` once the current browser task (and its burst of socket messages) is over.
export class Turn {
  constructor(f) { const c = new MessageChannel(); this.a = c.port1; this.b = c.port2; this.a.onmessage = f; }
  mark() { this.b.postMessage(0); }
  stop() { this.a.onmessage = null; this.a.close(); this.b.close(); }
}

const win = () => (typeof Window == 'function' && globalThis instanceof Window ? globalThis : undefined);

// Adds (or removes) `f` as a `name` listener of the window, or for `visibilitychange` of its
// document; false where there is none (a worker).
export function onWindow(name, f, add) {
  const w = win();
  const t = name == 'visibilitychange' ? w?.document : w;
  if (t) (add ? t.addEventListener : t.removeEventListener).call(t, name, f);
  return !!t;
}
export function isOnline() { const w = win(); return !w || w.navigator.onLine; }
export function isVisible() { return win()?.document?.visibilityState == 'visible'; }
