// The npm package's entry module: the `ReSocket` class and its driver, `Core`, over the wasm
// engine (`resocket_core.js`, see src/js/mod.rs): the pure reconnect machine, the same Rust
// code the crate's `ReSocket` runs. The class is JavaScript because most of the browser
// WebSocket surface is JavaScript semantics: it extends EventTarget (addEventListener and
// friends are the browser's own), checks arguments, reads the options, and owns the message
// path, the `on*` handlers, async iteration and the queue of sends behind a Blob being read.
// The driver is JavaScript because the browser glue (sockets, timers, page listeners, events)
// costs a fraction of its wasm size there. Reconnection, backoff, the outbox, close codes and
// the heartbeat are the machine's decisions; the driver carries them out and dispatches its
// events through the socket's `Relay` as DOM events.
//
// The engine's wasm (src/js/abi.rs: it imports nothing, and its exports take and answer
// numbers) is supplied by the build's entry through `engineLoaded` (scripts/package.mjs): the
// bundler entry starts its fetch and compile at import without waiting for it, and a socket
// constructed meanwhile opens its WebSocket at once and hands it to the engine once it is
// there (see `Core`: the first message does not wait for the wasm's fetch and compile).
let x = null; // the wasm's exports, once loaded
let loadError = null; // why it could not be loaded
const booting = new Set(); // the cores constructed before it
// Set by the `resocket/resume` entry, whose engine has the resume protocol built in.
let resumeBuilt = false;
let readyResolve;
const ready = new Promise((resolve) => { readyResolve = resolve; });

// Called once by the entry with the wasm's exports, or with the error that kept it from
// loading.
function engineLoaded(exports, error) {
  if (x || loadError) return;
  if (exports) x = exports;
  else loadError = withKind(new Error(`the resocket engine (wasm) could not be loaded: ${errorMessage(error)}`), 'EngineLoad');
  for (const core of booting) core.boot();
  booting.clear();
  readyResolve();
}

// The bundler entry's URL of the wasm, once its fetch should start: after the task that
// imported the package, and then, while sockets constructed meanwhile are in their handshake
// (and none needs the engine to open), after those handshakes, for at most HEAD_START ms. Their
// `open` and first messages go out without the engine (see `Core`), and a download beside a
// handshake slows the handshake on a busy machine (measured in the bench: the first message
// 10 ms later). Sends wait for the engine either way.
const HEAD_START = 50;
let handshakes = 0; // early sockets in their handshake
let handshakesOver = null;
const engineUrl = (url) => new Promise((go) => setTimeout(go, 0)).then(() => new Promise((go) => {
  handshakesOver = go;
  if (handshakes > 0) setTimeout(go, HEAD_START);
  else go();
})).then(() => url);

// The engine's exports from what a page or a runtime hands over: a URL (fetched), a fetch
// `Response`, the wasm's bytes or a compiled `WebAssembly.Module` (or a promise of one).
// Compiled while it streams in where the server says `application/wasm`.
async function instantiate(input) {
  let source = await input;
  if (typeof source === 'string' || source instanceof URL) source = await fetch(source);
  if (typeof Response === 'function' && source instanceof Response) {
    if (!source.ok) throw new Error(`fetching ${source.url} answered HTTP ${source.status}`);
    if (/^application\/wasm\b/.test(source.headers.get('Content-Type')) && WebAssembly.instantiateStreaming) {
      return (await WebAssembly.instantiateStreaming(source, {})).instance.exports;
    }
    source = await source.arrayBuffer();
  }
  const made = await WebAssembly.instantiate(source, {});
  return (made.instance ?? made).exports;
}

// The same, at once, from the wasm's bytes or a `WebAssembly.Module`.
function instantiateSync(source) {
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  return new WebAssembly.Instance(module, {}).exports;
}

// The engine's text out: strings are written into its scratch buffer as UTF-8.
const encoder = new TextEncoder();

// Writes `values` (strings, byte arrays; null or undefined: none) one after the other into the
// engine's scratch buffer (export `b`), and answers their lengths in bytes (-1: none).
function put(...values) {
  let room = 0;
  for (const v of values) room += v == null ? 0 : typeof v === 'string' ? v.length * 3 : v.length;
  if (!room) return values.map((v) => (v == null ? -1 : 0));
  let at = x.b(room);
  const end = at + room; // the room asked for: nothing is written past it
  const mem = new Uint8Array(x.memory.buffer);
  return values.map((v) => {
    if (v == null) return -1;
    let n = v.length;
    if (typeof v === 'string') n = encoder.encodeInto(v, mem.subarray(at, end)).written;
    else mem.set(v, at);
    at += n;
    return n;
  });
}

// Engines the page dropped without `free()` are freed by the garbage collector.
const dropped = new FinalizationRegistry((h) => x.f(h));

// One engine (a machine of src/machine.rs) in the wasm: its handle and the exports over it, as
// src/js/mod.rs documents them.
class Engine {
  constructor(config, ping, url, protocols, secure) {
    this.h = x.n(config.length, ...put(new Uint8Array(new Float64Array(config).buffer), ping, url, protocols).slice(1), secure);
    dropped.register(this, this.h, this);
  }

  free() {
    dropped.unregister(this);
    x.f(this.h);
    this.h = 0;
  }

  input(kind, now, buffered, writable, id, a, b, s, t) { return x.i(this.h, kind, now, buffered, writable, id, a, b, ...put(s, t)); }

  received(now, id, len) { return x.r(this.h, now, id, len); }

  send_binary(now, buffered, writable, bytes, policy, ttl) { return x.s(this.h, now, buffered, writable, put(bytes)[0], policy, ttl); }

  frame(now, buffered, writable, id, text, len) { return x.m(this.h, now, buffered, writable, id, put(text)[0], len); }

  poll() { return x.p(this.h); }

  num(i) { return x.u(this.h, i); }

  text(i) { return x.t(this.h, i); }

  at() { return x.a(this.h); }
}

const addListener = EventTarget.prototype.addEventListener;

// A socket's `Relay` is the browser socket's `onmessage` (attached by the driver to every new
// socket, and detached with it): it counts the message (the driver reads the counters lazily,
// see `stats`), then parses (JSON mode) or wraps (a Blob for binaryType "blob") and delivers it
// to the listeners and the async iterators, all without entering wasm. It hands the event to
// the driver instead (`core(undefined, event)`) whenever the engine has work to do: a heartbeat
// is configured (activity), the message exceeds maxMessageBytes (the error event), or
// JSON.parse throws (the decode error). The driver then delivers through `deliverMessage`, so
// both paths behave the same. The driver also dispatches the socket's events through it
// (`fire`) and tells it when the socket is over (`end`).
class Relay {
  constructor(target, json, blob) {
    this.target = target;
    this.json = json;
    this.blob = blob;
    // The `onmessage` function while it is the only message listener; null: dispatch.
    this.handler = null;
    // The `on*` properties: type -> [function, the listener that calls it]. As in the browser,
    // the listener is added when a handler is first set (its place among the listeners) and
    // removed when the property is set to null.
    this.on = {};
    // `addEventListener('message', ...)` was called (ever: removals are not tracked, so this
    // errs on the side of dispatching).
    this.listening = false;
    this.limit = Infinity;
    this.heartbeat = false;
    // Resume mode: every message goes to the core, which reads control frames, unescapes,
    // drops duplicates and counts (the relay counts nothing then).
    this.resume = false;
    this.messagesIn = 0;
    this.bytesIn = 0;
    // The async iterators, weakly: one the page dropped without `return()` is collected. One
    // with a `next()` waiting is also in `waiting`, so a suspended `for await` stays alive.
    this.iterators = [];
    this.waiting = new Set();
    // Once the socket is over: `{ error }` (undefined after close()).
    this.over = null;
    // `ReSocket.connect()`'s callback while it waits: true on open, false at the end.
    this.settle = null;
    // After the page's own close(), until a later task: the events held back (the socket is
    // CLOSING meanwhile, and its `close` event comes as a task of its own, as the browser's).
    this.held = null;
    // Events dispatched before the engine was there (the early socket opened first), as
    // [type, state]: the engine's own copies of them, when it gets there, are dropped.
    this.ahead = null;
  }

  attach(ws, core) {
    ws.onmessage = (event) => this.receive(event, core);
  }

  receive(event, core) {
    if (this.resume) {
      core(undefined, event);
      return;
    }
    // Else JSON.parse failed, a heartbeat or the size limit: the core's work.
    if (this.direct(event)) return;
    this.count(event.data);
    core(undefined, event);
  }

  // Counts a message in; answers its length (as js_payload_len: UTF-16 code units of a
  // string, bytes of an ArrayBuffer).
  count(data) {
    const len = typeof data === 'string' ? data.length : data.byteLength;
    this.messagesIn++;
    this.bytesIn += len;
    return len;
  }

  // Counts and delivers a message that needs nothing of the core (no heartbeat, within the
  // size limit, parsed); false, and nothing done, for one that does. (Also the early socket's
  // path before the engine is there.)
  direct(event) {
    const data = event.data;
    if (this.heartbeat || (typeof data === 'string' ? data.length : data.byteLength) > this.limit) return false;
    let value;
    try {
      value = this.value(data);
    } catch {
      return false;
    }
    this.count(data);
    this.deliver(event, data, value);
    return true;
  }

  // Dispatches an event before the engine is there; the engine's copy will be dropped.
  fireAhead(type, detail) {
    const ahead = this.ahead ?? [];
    this.ahead = null;
    this.fire(type, detail);
    ahead.push([type, detail?.state]);
    this.ahead = ahead;
  }

  // What listeners get for a payload: parsed (JSON mode) or wrapped (a Blob for binaryType
  // "blob"). Throws only when JSON.parse does.
  value(data) {
    if (typeof data === 'string') return this.json ? JSON.parse(data) : data;
    return this.blob ? new Blob([data]) : data;
  }

  // `socket.on<type>`.
  handlerOf(type) {
    return this.on[type]?.[0] ?? null;
  }

  // `socket.on<type> = f`: as the browser's event handler attributes, anything but an object
  // (a function) counts as null and removes the handler.
  setHandler(type, f) {
    if (typeof f !== 'function' && (typeof f !== 'object' || f === null)) f = null;
    const slot = this.on[type];
    if (f && !slot) {
      // Called as the browser calls a handler: `this` is the socket.
      const { target } = this;
      // A non-callable object is kept (the getter returns it) and calls nothing, as WebIDL
      // invokes a [LegacyTreatNonObjectAsNull] callback.
      const entry = [f, (event) => typeof entry[0] === 'function' && entry[0].call(target, event)];
      this.on[type] = entry;
      addListener.call(this.target, type, entry[1]);
    } else if (!f && slot) {
      this.target.removeEventListener(type, slot[1]);
      delete this.on[type];
    } else if (f) {
      slot[0] = f;
    }
    if (type === 'message' && !this.listening) this.handler = typeof f === 'function' ? f : null;
  }

  // A message listener was added: the onmessage shortcut is off from now on.
  listen() {
    this.listening = true;
    this.handler = null;
  }

  // The core's path (and the slow path of `receive`): parse or wrap, then deliver. Throws only
  // when JSON.parse does.
  deliverMessage(event) {
    this.deliver(event, event.data, this.value(event.data));
  }

  // To the onmessage shortcut or the listeners first, then to every live iterator.
  deliver(event, data, value) {
    deliver(this.target, event, data, value, this.handler);
    if (this.iterators.length) {
      this.iterators = this.iterators.filter((ref) => {
        const it = ref.deref();
        if (!it || it.end) return false;
        it.push(value);
        return true;
      });
    }
  }

  // Dispatches one of the socket's own events: `open` (an Event), `close` (a CloseEvent:
  // a = code, b = reason, c = wasClean), `error` (an ErrorEvent: a = message, b = error),
  // anything else a CustomEvent with `a` as its detail. Never throws: listener exceptions are
  // reported by the browser, and an event that cannot be built is not sent.
  fire(type, a, b, c) {
    const ahead = this.ahead;
    if (ahead) {
      // The engine's copy of an event dispatched before it: dropped. Once the engine goes
      // another way (a close() meanwhile, say), everything from it goes out.
      const [t, state] = ahead[0];
      if (t === type && state === a?.state) {
        ahead.shift();
        if (!ahead.length) this.ahead = null;
        return;
      }
      this.ahead = null;
    }
    if (this.held) {
      this.held.push([type, a, b, c]);
      return;
    }
    try {
      this.target.dispatchEvent(type === 'open' ? new Event(type)
        : type === 'close' ? domEvent(globalThis.CloseEvent, type, { code: a, reason: b, wasClean: c })
          : type === 'error' ? domEvent(globalThis.ErrorEvent, type, { message: a, error: b })
            : new CustomEvent(type, { detail: a }));
    } catch {
      // as before: an event that cannot be constructed is not dispatched
    }
    if (type === 'open') this.settle?.(true);
  }

  // `socket[Symbol.asyncIterator]()`; an iterator of a socket already over ends at once
  // (`error` once, unless undefined, then done).
  iterate() {
    const it = new MessageIterator(this.waiting);
    if (this.over) it.finish(this.over.error);
    else this.iterators.push(new WeakRef(it));
    return it;
  }

  // The page called close(): every event from now until the end of this task is held back,
  // then dispatched as a task of its own.
  hold() {
    if (this.held) return;
    const held = (this.held = []);
    setTimeout(() => {
      this.held = null;
      for (const args of held) this.fire(...args);
    }, 0);
  }

  // The socket closed (`error` undefined) or failed: every iterator ends after its queue, and
  // a waiting `ReSocket.connect()` rejects.
  end(error) {
    this.over = { error };
    const refs = this.iterators;
    this.iterators = [];
    for (const ref of refs) ref.deref()?.finish(error);
    this.settle?.(false);
  }
}

// The async iterator `for await (const data of socket)` uses: every message from its creation
// on (several may run side by side, like several listeners). Messages wait in its queue until
// `next()` asks; `return()` (a `break`) detaches it. `end`: null while running, then
// `{ error }` (the next `next()` rejects with it) or 'done'.
class MessageIterator {
  constructor(waiting) {
    this.waiting = waiting;
    this.queue = [];
    this.waiters = [];
    this.end = null;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  push(value) {
    const waiter = this.waiters.shift();
    if (!waiter) {
      this.queue.push(value);
      return;
    }
    if (!this.waiters.length) this.waiting.delete(this);
    waiter[0]({ value, done: false });
  }

  finish(error) {
    if (this.end) return;
    this.end = error === undefined ? 'done' : { error };
    // Waiters exist only while the queue is empty.
    const waiters = this.waiters;
    this.waiters = [];
    this.waiting.delete(this);
    for (const [resolve, reject] of waiters) this.settle(resolve, reject);
  }

  // One `next()` after the end: the error once, then done.
  settle(resolve, reject) {
    const { end } = this;
    if (end === 'done') {
      resolve({ value: undefined, done: true });
    } else {
      this.end = 'done';
      reject(end.error);
    }
  }

  next() {
    return new Promise((resolve, reject) => {
      if (this.queue.length) {
        resolve({ value: this.queue.shift(), done: false });
      } else if (this.end) {
        this.settle(resolve, reject);
      } else {
        this.waiters.push([resolve, reject]);
        this.waiting.add(this);
      }
    });
  }

  // Stops the iteration: queued messages are dropped, waiting `next()` calls get done.
  return() {
    this.queue.length = 0;
    this.finish();
    this.end = 'done';
    return Promise.resolve({ value: undefined, done: true });
  }
}

// The error `send()` throws for a value JSON.stringify rejects (as the core's `Encode`).
const encodeError = (message) => withKind(new Error(`could not encode message: ${message}`), 'Encode');

// A thrown value's message, as the core words it (src/sys.rs js_error_message).
function errorMessage(e) {
  if (e instanceof Error) return e.name ? `${e.name}: ${e.message}` : e.message;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? 'a thrown value that is not an Error';
  } catch {
    return 'a thrown value that is not an Error';
  }
}

// A URL given as a string or a `URL` (anything whose `href` is a string); undefined otherwise.
function urlOf(value) {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    const { href } = value;
    return typeof href === 'string' ? href : undefined;
  } catch {
    return undefined;
  }
}

const URL_EXPECTED = 'a string, a URL or a function returning one (or a promise of one)';

/**
 * A reconnecting WebSocket with the browser `WebSocket` API: swap `new WebSocket(url)` for
 * `new ReSocket(url)` (the types and docs are in resocket.d.ts).
 */
export class ReSocket extends EventTarget {
  #core;
  #r;
  // Sends waiting behind a Blob being read, in order: `{ blob, data }`, `data` undefined
  // until the blob is read (a Blob is read asynchronously, and everything sent after it must
  // wait so that the order of `send` calls is the order on the wire).
  #pending = [];

  constructor(url, protocols, options) {
    super();
    // As `WebSocket`, which ignores extra arguments: a third argument is options only if it is
    // an options object.
    const o = settings(protocols, isOptionsObject(options) ? options : undefined);
    if (typeof (o.WebSocket ?? globalThis.WebSocket) !== 'function') throw noWebSocket();
    // What the engine connects to: the URL, or a function returning a promise of one.
    let source = urlOf(url);
    if (typeof url === 'function') {
      const provider = url;
      // Called before every attempt: a string, a URL or a promise of either.
      source = () => Promise.resolve(provider()).then((value) => {
        const href = urlOf(value);
        if (href === undefined) throw typeError('url', 'the URL function to return a string or a URL', value);
        return href;
      });
    } else if (source === undefined) {
      throw argumentError('url', URL_EXPECTED, url);
    }
    if (o.shouldRetry) {
      const shouldRetry = o.shouldRetry;
      o.shouldRetry = (code, reason, wasClean) => {
        try {
          return shouldRetry({ code, reason, wasClean });
        } catch (e) {
          report(e); // and the default policy decides
          return undefined;
        }
      };
    }
    this.#r = new Relay(this, o.json === true, o.binaryType !== 'arraybuffer');
    try {
      this.#core = new Core(source, o, this.#r);
    } catch (e) {
      throw domError(e);
    }
  }

  /**
   * Resolves once the engine (the wasm) is loaded. Not needed to use the class: a socket
   * constructed earlier connects at once and is handed over. Awaited, every error in the
   * arguments throws from the constructor (before, a `secureOnly` or URL-function socket
   * reports a bad URL or subprotocol as an `error` event and ends failed).
   */
  static get ready() { return ready; }

  /** Resolves with the socket once it is first open; rejects if it is closed or fails first. */
  static connect(url, options) {
    return new Promise((resolve, reject) => {
      const socket = new ReSocket(url, options);
      const r = socket.#r;
      r.settle = (open) => {
        r.settle = null;
        if (open) resolve(socket);
        else reject(socket.#core.over);
      };
    });
  }

  /**
   * Closes the socket (as `close()`, if it is not closed yet) and frees the wasm side at once,
   * without waiting for the garbage collector; every use after it throws.
   */
  free() {
    if (!this.#core) return;
    try {
      this.close();
    } finally {
      this.#core.free();
      this.#core = null;
    }
  }

  // The engine, or the error for a socket used after `free()`.
  get #e() {
    if (!this.#core) throw withKind(new Error('this ReSocket was freed (free() was called)'), 'Freed');
    return this.#core;
  }

  // CLOSING from the page's close() until its `close` event, as the browser's.
  get readyState() { const e = this.#e; return this.#r.held || e.closing ? 2 : e.readyState; }

  get state() { return this.#e.state; }

  get stats() {
    const stats = this.#e.stats;
    stats.outboxLength += this.#pending.length;
    return stats;
  }

  // As parsed (resolved, http(s) mapped to ws(s)), without userinfo, query or fragment.
  get url() { return this.#e.url; }

  get protocol() { return this.#e.protocol; }

  get extensions() { return this.#e.extensions; }

  get bufferedAmount() {
    let bytes = this.#e.buffered;
    for (const { blob, data } of this.#pending) {
      bytes += data === undefined ? blob.size : typeof data === 'string' ? new Blob([data]).size : data.byteLength;
    }
    return bytes;
  }

  get binaryType() { return this.#r.blob ? 'blob' : 'arraybuffer'; }

  // As the browser's: a value other than "blob" or "arraybuffer" is ignored.
  set binaryType(value) {
    if (value === 'blob' || value === 'arraybuffer') this.#r.blob = value === 'blob';
  }

  /**
   * Sends a string, binary data or a Blob (in JSON mode: any JSON-serialisable value).
   * `options`: `{ onReconnect: 'replay' | 'drop' }` or `{ ttl: ms }`, for a message that has
   * not gone out when a connection is lost (dropped or expired ones are reported by a
   * `discarded` event).
   */
  send(data, options) {
    const policy = sendPolicy(options);
    const { json } = this.#r;
    let out;
    if (typeof data === 'string' && !json) {
      out = data;
    } else if (data instanceof ArrayBuffer) {
      out = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (data instanceof Blob) {
      this.#sendBlob(data, policy);
      return;
    } else if (json) {
      try {
        out = JSON.stringify(data);
      } catch (e) {
        // Only the exception's class: its message can quote the value (a toJSON() error).
        throw encodeError(`cannot send ${describe(data)} as JSON: JSON.stringify threw ${describe(e)}`);
      }
      if (typeof out !== 'string') throw argumentError('send() data in JSON mode', 'a JSON-serialisable value', data);
    } else {
      // As the browser's send(): anything else is sent as its string (`null` as "null").
      out = `${data}`;
    }
    if (this.#pending.length) {
      this.#check();
      // A copy: the bytes are the ones given at the call, as when they go at once.
      this.#pending.push({ data: typeof out === 'string' ? out : out.slice(), policy });
    } else {
      this.#e.send(out, policy);
    }
  }

  // Throws the core's error once the socket is closed or failed.
  #check() {
    const over = this.#e.over;
    if (over) throw over;
  }

  #sendBlob(blob, policy) {
    this.#check();
    const entry = { blob, data: undefined, policy };
    this.#pending.push(entry);
    blob.arrayBuffer().then((buffer) => {
      entry.data = new Uint8Array(buffer);
    }, (e) => {
      // An unreadable Blob is dropped from the queue and reported.
      const i = this.#pending.indexOf(entry);
      if (i >= 0) this.#pending.splice(i, 1);
      const error = encodeError(`could not read Blob: ${errorMessage(e)}`);
      this.#r.fire('error', error.message, error);
    }).then(() => this.#drain());
  }

  // Sends the front of the queue while it is ready. Errors here have no caller to throw to,
  // so they become `error` events.
  #drain() {
    const pending = this.#pending;
    while (pending.length && pending[0].data !== undefined) {
      try {
        const entry = pending.shift();
        this.#e.send(entry.data, entry.policy);
      } catch (e) {
        this.#r.fire('error', e.message, e);
      }
    }
  }

  /**
   * Closes for good: no reconnection after it. Returns the messages that were queued and never
   * sent (strings, ArrayBuffers, and Blobs not yet read).
   */
  close(code, reason) {
    // Converted and checked as the browser's close(): `[Clamp] unsigned short code`,
    // `USVString reason`, then InvalidAccessError and SyntaxError DOMExceptions.
    if (code !== undefined) {
      const given = code;
      code = clampU16(given);
      if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
        const got = given === code ? `${code}` : `${describe(given)} (${code})`;
        throw dom(`close code must be 1000 or an integer in 3000-4999, got ${got}`, 'InvalidAccessError', 'InvalidCloseCode');
      }
    }
    if (reason !== undefined) {
      reason = `${reason}`.toWellFormed();
      const bytes = utf8Length(reason);
      if (bytes > 123) {
        throw dom(`close reason is ${bytes} UTF-8 bytes long; at most 123 are allowed`, 'SyntaxError', 'ReasonTooLong');
      }
    }
    const e = this.#e;
    if (!this.#r.over) this.#r.hold();
    const unsent = e.close(code, reason);
    for (const { blob, data } of this.#pending.splice(0)) {
      unsent.push(data === undefined ? blob : typeof data === 'string' ? data : data.buffer);
    }
    return unsent;
  }

  /** Closes the current socket (if any) and connects again now, with the backoff reset. */
  reconnect() {
    this.#e.reconnect();
  }

  /** `EventTarget.addEventListener`; a message listener turns the onmessage shortcut off. */
  addEventListener(...args) {
    addListener.apply(this, args);
    if (`${args[0]}` === 'message') this.#r.listen();
  }

  /** `for await (const data of socket)`: every message from now on; ends after `close()`. */
  [Symbol.asyncIterator]() {
    return this.#r.iterate();
  }

  static {
    ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach((name, value) => {
      Object.defineProperty(this, name, { value, enumerable: true });
      Object.defineProperty(this.prototype, name, { value, enumerable: true });
    });
    for (const type of ['open', 'message', 'close', 'error']) {
      Object.defineProperty(this.prototype, `on${type}`, {
        get() { return this.#r.handlerOf(type); },
        set(f) { this.#r.setHandler(type, f); },
        enumerable: true,
        configurable: true,
      });
    }
  }
}

// `new Class(type, init)`; where the runtime has no such class (CloseEvent and ErrorEvent in
// Node.js), an Event carrying the same fields.
const domEvent = (Class, type, init) => (Class ? new Class(type, init) : Object.assign(new Event(type), init));

// Constructing without a WebSocket class to use (Node.js before 22, without the option).
const noWebSocket = () => withKind(new TypeError('this runtime has no WebSocket class (Node.js before 22?): '
  + 'pass one as the option "WebSocket", e.g. new ReSocket(url, { WebSocket }) with '
  + "import { WebSocket } from 'ws'"), 'InvalidArgument');

// As the browser reports a listener's exception (console and the window's `error` event).
const report = (e) => (globalThis.reportError ?? console.error)(e);

// `handler`: when the page listens with `onmessage` only (no `addEventListener('message')`),
// the handler gets the browser's own MessageEvent, its `data` replaced by the delivered value:
// no second event object and no dispatch. Otherwise a new MessageEvent is dispatched.
function deliver(target, event, data, value, handler) {
  if (handler) {
    if (value !== data) Object.defineProperty(event, 'data', { value });
    try {
      handler.call(target, event);
    } catch (e) {
      // As the browser reports a listener's exception: never mistaken for a JSON.parse failure.
      report(e);
    }
  } else {
    target.dispatchEvent(new MessageEvent('message', { data: value }));
  }
}

// --- The driver: the browser side of the engine -----------------------------------------------
// The wasm `Engine` is the pure reconnect machine (src/machine.rs, the same code the Rust
// `ReSocket` runs): it decides everything. `Core` feeds it inputs (socket events, timers, page
// signals, user calls), takes its outputs one by one and carries them out: creates and closes
// sockets, arms timers, dispatches events. User code (listeners, the URL function, the retry
// predicate) runs only from `pump`, never inside another dispatch: a call made from an event
// queues its outputs, which the running dispatch carries out once the event has reached every
// listener.

const now = () => performance.now();
// The engine's strings are UTF-8 in the wasm's memory (a leading U+FEFF is text, not a BOM).
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
// A URL as the engine takes it: the browser's parse (`urlParts`, src/url.js, which the build
// puts in front of this module), then the URL as given (see `parsed` in src/js/mod.rs).
function urlText(value) {
  const url = value == null ? '' : String(value);
  return `${(urlParts(url) ?? ['', '', '', '', '', '', '']).join('\n')}\n${url}`;
}
const STATES = ['connecting', 'open', 'reconnecting', 'offline', 'parked', 'closed', 'failed'];
const EVENTS = ['connecting', 'open', 'close', 'reconnecting', 'offline', 'parked', 'closed', 'failed',
  'outboxoverflow', 'heartbeattimeout', 'error', 'resumed', 'gap', 'reset', 'discarded'];

// An engine error (`kind\nmessage`) as the exception the browser's class would throw.
function engineError(text) {
  const i = text.indexOf('\n');
  const kind = text.slice(0, i);
  const message = text.slice(i + 1);
  const C = kind === 'InvalidCloseCode' ? RangeError : kind === 'InvalidOption' ? TypeError : Error;
  return withKind(new C(message), kind);
}

const win = () => (typeof Window === 'function' && globalThis instanceof Window ? globalThis : undefined);
// `navigator.onLine` in a window (a runtime without it, Deno, counts as online); true elsewhere.
const isOnline = () => win()?.navigator?.onLine !== false;

// The window's signals (online/offline, visibility, the back/forward cache); none in a worker.
function watchPage(f) {
  const w = win();
  const d = w?.document;
  const l = [];
  const on = (t, type, g) => { if (t) { t.addEventListener(type, g); l.push([t, type, g]); } };
  on(w, 'online', () => f(0, true));
  on(w, 'offline', () => f(0, false));
  on(d, 'visibilitychange', () => f(1, d.visibilityState === 'visible'));
  on(w, 'pagehide', (e) => { if (e.persisted) f(2, true); });
  on(w, 'pageshow', (e) => { if (e.persisted) f(3, true); });
  return () => { for (const [t, type, g] of l.splice(0)) t.removeEventListener(type, g); };
}

const JITTER = { full: 0, equal: 1, none: 2 };
const OVERFLOW = { reject: 0, 'drop-oldest': 1, 'drop-newest': 2 };
const num = (v) => (v === undefined ? NaN : v);

class Core {
  constructor(source, o, relay) {
    if (o.maxDelay !== undefined && o.maxDelay < (o.minDelay ?? 500)) {
      throw withKind(new TypeError(`option "maxDelay" must be >= minDelay (${o.minDelay ?? 500} ms), got ${o.maxDelay}`), 'InvalidOption');
    }
    if (o.protocolsError) throw o.protocolsError;
    this.e = null; // the engine, once booted
    this.ws = null; // the current socket
    this.id = 0; // its id
    this.timers = [];
    this.pumping = false;
    this.unwatch = () => {};
    this.r = relay;
    this.o = o;
    this.C = o.WebSocket;
    this.source = source;
    relay.heartbeat = !!o.heartbeat;
    relay.resume = !!o.resume;
    if (o.maxMessageBytes >= 0) relay.limit = o.maxMessageBytes;
    // The early socket while it is open ahead of the engine (see ahead()).
    this.lead = null;
    if (x) {
      this.boot(true);
      return;
    }
    // Before the engine is there: what it gets once it is (the sends, a close), and the
    // WebSocket opened at once for a fixed URL (the browser's constructor checks the URL and
    // the subprotocols, and throws as `new ReSocket` must), its events kept for the engine.
    // Not with `secureOnly` (the policy must decide before anything connects) nor a URL
    // function (called by the engine).
    this.early = { sends: [], close: null, ws: null, events: [] };
    if (typeof source === 'string' && o.secureOnly !== true && !loadError) {
      const protocols = o.protocols ?? [];
      const lower = protocols.map((p) => p.toLowerCase());
      if (new Set(lower).size < lower.length) {
        throw dom('subprotocols must not repeat (compared ignoring case)', 'SyntaxError', 'InvalidProtocol');
      }
      let ws;
      try {
        ws = this.socket(source, protocols);
      } catch (err) {
        // The browser's message repeats the URL, query string included: only its kind.
        throw dom(`invalid WebSocket URL or subprotocols (the runtime's ${err?.name ?? 'Error'})`, 'SyntaxError', 'InvalidUrl');
      }
      const early = this.early;
      const events = early.events;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = (ev) => events.push(ev);
      early.ws = ws;
      // Without a heartbeat or resume, what the engine would do with `open` and plain
      // messages is known: they go out at once (the engine's first message would otherwise
      // wait for the wasm's download). Anything after them waits for the engine, in order.
      if (!relay.heartbeat && !relay.resume) {
        handshakes++;
        let shaking = true;
        ws.onopen = ws.onclose = ws.onerror = (ev) => {
          events.push(ev);
          if (shaking) {
            shaking = false;
            if (!--handshakes) handshakesOver?.();
          }
          if (ev.type === 'open') this.ahead(early);
        };
        ws.onmessage = (ev) => {
          if (this.lead !== ws || events.length > 1 || !relay.direct(ev)) events.push(ev);
        };
      }
    }
    if (!this.early.ws || relay.heartbeat || relay.resume) {
      // This one needs the engine to connect or to open: the engine's fetch waits for no
      // handshake.
      handshakes = -Infinity;
      handshakesOver?.();
    }
    if (loadError) queueMicrotask(() => this.boot());
    else booting.add(this);
  }

  // The early socket opened before the engine is there: `open` is dispatched now, after the
  // states the engine will go through for it (its copies are dropped when it gets there). A
  // close() or free() in a listener stops the rest.
  ahead(early) {
    for (const detail of [{ state: 'connecting', attempt: 0 }, { state: 'open' }, undefined]) {
      if (this.early !== early || early.close) return;
      this.lead = early.ws;
      this.r.fireAhead(detail ? 'statechange' : 'open', detail);
    }
  }

  // Still ahead of the engine: the early socket is open and the engine (if there) has not
  // taken its `open` yet.
  get leading() { return this.lead && (!this.e || this.e.num(5) === 0) ? this.lead : null; }

  // A WebSocket of the configured class, binary messages as ArrayBuffers.
  socket(url, protocols) {
    const C = this.C ?? globalThis.WebSocket;
    if (typeof C !== 'function') throw noWebSocket();
    const ws = protocols.length ? new C(url, protocols) : new C(url);
    ws.binaryType = 'arraybuffer';
    return ws;
  }

  // Creates the engine (`sync`: in the constructor, whose exceptions reach the page) and hands
  // it what came before it: the early socket, the sends, a close.
  boot(sync = false) {
    const early = this.early;
    this.early = null;
    if (early?.freed) return;
    if (loadError) {
      early?.ws?.close();
      this.fail(loadError);
      return;
    }
    const o = this.o;
    const source = this.source;
    this.o = this.source = null;
    const protocols = (o.protocols ?? []).join('\n');
    const secure = o.secureOnly === true;
    const fixed = typeof source === 'string' ? source : undefined;
    const hb = o.heartbeat;
    const re = o.resume;
    const e = new Engine([
      num(o.minDelay), num(o.maxDelay), num(o.factor), num(JITTER[o.jitter]), num(o.maxRetries),
      num(o.stableAfter), num(o.connectTimeout), num(o.outboxMessages), num(o.outboxBytes),
      num(OVERFLOW[o.overflow]), num(hb?.interval), num(hb?.timeout), num(o.maxMessageBytes),
      o.jitterSeed ?? Math.floor(Math.random() * 2 ** 53),
      re ? 1 : 0, re?.fallback === 'plain' ? 1 : 0, num(re?.maxBuffered), num(re?.maxBufferedBytes),
      re?.overflow === 'wait' ? 0 : 1, re?.onReset === 'drop' ? 0 : 1,
    ], hb ? hb.message ?? '{"type":"ping"}' : undefined, fixed === undefined ? undefined : urlText(fixed), protocols, secure);
    this.e = e;
    // The URL or the subprotocols refused (the engine checks them as it will connect).
    const bad = this.str(e.text(5));
    if (bad !== undefined) {
      this.e = null;
      e.free();
      const err = domError(engineError(bad));
      if (sync) throw err;
      early?.ws?.close();
      this.fail(err);
      return;
    }
    this.provider = fixed === undefined ? source : null;
    this.protocols = protocols;
    this.shouldRetry = o.shouldRetry;
    const relay = this.r;
    this.resume = !!re;
    this.adopt = early?.ws; // handed to the engine's first attempt
    this.replay = early?.events;
    for (const [data, policy] of early?.sends ?? []) {
      try {
        this.send(data, policy);
      } catch (err) {
        relay.fire('error', err.message, err);
      }
    }
    if (early?.close) {
      this.lead = null;
      this.adopt?.close();
      this.adopt = null;
      this.close(...early.close);
      return;
    }
    this.unwatch = watchPage((kind, flag) => this.input(9, 0, kind, +flag));
    // The first attempt starts on the next microtask: listeners added right after
    // construction see `connecting` too.
    queueMicrotask(() => this.input(0, 0, +isOnline()));
  }

  // The engine could not be created (it did not load, or it refused the URL): the socket
  // fails with `error`.
  fail(error) {
    this.lead = null;
    this.failed = error;
    this.r.fire('error', error.message, error);
    this.r.end(error);
  }

  // An engine answer of `n` bytes (-1: none) as text.
  str(n) { return n < 0 ? undefined : decoder.decode(this.view(n)); }

  // An engine answer of `n` bytes: a view of the wasm's memory, good until the next engine call.
  view(n) { return new Uint8Array(x.memory.buffer, this.e.at(), n); }

  // What the machine needs to know of the current socket before an input.
  link() {
    const ws = this.ws;
    return ws ? [ws.bufferedAmount, ws.readyState === 1] : [0, false];
  }

  // Feeds one input (see Engine::input for `kind` and the arguments) and carries out what it
  // calls for.
  input(kind, id = 0, a = 0, b = 0, s = undefined, t = undefined) {
    if (!this.e) return;
    const [buffered, writable] = this.link();
    this.e.input(kind, now(), buffered, writable, id, a, b, s, t);
    this.pump();
  }

  pump() {
    if (this.pumping || !this.e) return;
    this.pumping = true;
    try {
      let kind;
      while (this.e && (kind = this.e.poll())) this.execute(kind);
    } finally {
      this.pumping = false;
    }
  }

  execute(kind) {
    const e = this.e;
    switch (kind) {
      case 1: this.resolve(e.num(0)); break;
      case 2: this.open(e.num(0), this.str(e.text(0)), this.str(e.text(1))); break;
      case 3: {
        // Text as a string (a text frame); bytes straight from the wasm's memory (send()
        // copies them).
        if (this.ws && this.id === e.num(0)) {
          const n = e.text(2);
          this.ws.send(e.num(4) ? this.str(n) : this.view(n));
        }
        break;
      }
      case 4: {
        if (this.ws && this.id === e.num(0)) {
          const code = e.num(1);
          const reason = this.str(e.text(0));
          if (reason !== undefined) this.ws.close(code || 1000, reason);
          else if (code) this.ws.close(code);
          else this.ws.close();
        }
        break;
      }
      case 5: if (this.id === e.num(0)) this.release(); break;
      case 6: {
        const t = e.num(1);
        clearTimeout(this.timers[t]);
        this.timers[t] = setTimeout(() => { this.timers[t] = undefined; this.input(8, 0, t); }, e.num(2));
        break;
      }
      case 7: clearTimeout(this.timers[e.num(1)]); this.timers[e.num(1)] = undefined; break;
      default: this.event(kind - 10);
    }
  }

  // Calls the URL function (user code) and feeds its answer back.
  resolve(id) {
    let p;
    try {
      p = this.provider();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then((url) => this.input(2, id, 0, 0, urlText(url), this.protocols),
      (err) => this.input(3, id, 0, 0, errorMessage(err)));
  }

  open(id, url, protocols) {
    let ws = this.adopt;
    const replay = this.replay;
    this.adopt = this.replay = null;
    if (!ws) {
      try {
        ws = this.socket(url, protocols ? protocols.split('\n') : []);
      } catch (err) {
        // The browser's message repeats the URL, query string included: only its kind.
        this.input(4, id, 0, 0, this.str(this.e.text(3)), `${err?.name ?? 'Error'}`);
        return;
      }
    }
    // The close event after an error carries what matters. But Node 22's WebSocket (undici)
    // reports a refused connection with an error only, staying CONNECTING for ever: an error
    // that leaves the socket CONNECTING past the task fails the attempt as the close would.
    ws.onerror = () => {
      if (this.ws === ws && ws.readyState === 0) {
        setTimeout(() => {
          if (this.ws !== ws || ws.readyState !== 0) return;
          ws.onclose = null;
          this.closed(id, { code: 1006, reason: '', wasClean: false });
        }, 0);
      }
    };
    // A WebSocket written in JavaScript (the `ws` package's) may keep a view for later: a copy.
    if (this.C && !Function.prototype.toString.call(this.C).includes('[native code]')) {
      const send = ws.send;
      ws.send = (d) => send.call(ws, ArrayBuffer.isView(d) ? d.slice() : d);
    }
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lead = null;
      this.input(5, id, 0, 0, ws.protocol);
    };
    ws.onclose = (ev) => { if (this.ws === ws) this.closed(id, ev); };
    this.r.attach(ws, (_, ev) => { if (this.ws === ws) this.message(id, ev); });
    this.release();
    this.ws = ws;
    this.id = id;
    // The early socket's events so far, in order, as if they came now.
    if (replay?.length) {
      queueMicrotask(() => {
        for (const ev of replay) {
          if (this.ws === ws) ws[`on${ev.type}`]?.(ev);
        }
      });
    }
  }

  // Forgets the current socket: its handlers detached, closed if still connecting or open.
  release() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState < 2) ws.close(1000);
  }

  closed(id, ev) {
    let retry = 0;
    if (this.shouldRetry && this.e.input(13, 0, 0, false, id)) {
      const verdict = this.shouldRetry(ev.code, ev.reason, ev.wasClean);
      if (typeof verdict === 'boolean') retry = verdict ? 2 : 1;
    }
    this.input(7, id, ev.code, (retry << 1) | ev.wasClean, ev.reason);
  }

  // The slow path of a message (the relay hands it over when the engine has work to do: a
  // heartbeat, the size limit, a JSON.parse failure).
  message(id, ev) {
    const data = ev.data;
    const text = typeof data === 'string' ? data : undefined;
    const len = text !== undefined ? data.length : data.byteLength;
    // Resume mode: the engine reads every message (control frames, the U+0000 escape).
    const take = this.resume ? this.e.frame(now(), ...this.link(), id, text, len) : +this.e.received(now(), id, len);
    this.pump();
    if (!take) return;
    if (take === 2) ev = new MessageEvent('message', { data: text.slice(1) });
    try {
      this.r.deliverMessage(ev);
    } catch {
      // Not JSON.parse's own message: it quotes the payload.
      const err = withKind(new Error(`could not decode text message of ${len} bytes: not valid JSON`), 'Decode');
      this.r.fire('error', err.message, err);
    }
  }

  event(kind) {
    const e = this.e;
    const r = this.r;
    const type = EVENTS[kind];
    const a = e.num(1);
    const b = e.num(2);
    const s = this.str(e.text(0));
    let detail;
    switch (type) {
      case 'connecting': detail = { state: type, attempt: a }; break;
      case 'open': detail = { state: type }; break;
      case 'reconnecting': detail = { state: type, attempt: a, delay: b }; break;
      case 'offline': case 'parked': detail = { state: type }; break;
      case 'closed': detail = { state: type, code: a, reason: s, unsent: b }; break;
      case 'failed': detail = { state: type, reason: s }; break;
      default:
    }
    if (detail) r.fire('statechange', detail);
    switch (type) {
      case 'open':
        r.fire('open');
        this.input(6);
        break;
      case 'close': r.fire('close', a, s, b === 1); break;
      case 'reconnecting': case 'offline': case 'parked': r.fire(type, detail); break;
      case 'closed':
        r.fire('close', a, s, true);
        this.end(undefined);
        break;
      case 'failed': {
        const err = withKind(new Error(`connection failed for good: ${s}`), 'Failed');
        r.fire('error', err.message, err);
        this.end(err);
        break;
      }
      case 'outboxoverflow': r.fire(type, { dropped: a }); break;
      case 'heartbeattimeout': r.fire(type, { silentMs: a }); break;
      case 'resumed': r.fire(type, { resumed: e.num(3) === 1, resent: a, replayed: b }); break;
      case 'gap': r.fire(type, { from: a, to: b }); break;
      case 'reset': r.fire(type, { missedFrom: a, unconfirmed: [b, e.num(3)] }); break;
      case 'discarded': r.fire(type, { dropped: a, expired: b }); break;
      case 'error': {
        const err = engineError(`${this.str(e.text(1))}\n${s}`);
        r.fire('error', err.message, err);
        break;
      }
      default:
    }
  }

  // The socket is closed or failed: the relay ends the iterators (with `error` after a
  // failure), the page listeners go, and nothing holds the socket any more.
  end(error) {
    this.unwatch();
    this.e.input(12, 0, 0, false, 0, this.r.messagesIn, this.r.bytesIn);
    this.r.messagesIn = this.r.bytesIn = 0;
    this.r.end(error);
  }

  // CLOSING from a close() before the engine was there until it is.
  get closing() { return !!this.early?.close; }

  get readyState() {
    const lead = this.leading;
    if (lead) return lead.readyState === 1 ? 1 : 0;
    if (!this.e) return this.failed ? 3 : 0;
    const state = this.e.num(5);
    if (state === 1) return this.ws && this.ws.readyState >= 2 ? 2 : 1;
    return state >= 5 ? 3 : 0;
  }

  get state() {
    if (this.leading?.readyState === 1) return 'open';
    return this.e ? STATES[this.e.num(5)] : this.failed ? 'failed' : 'connecting';
  }

  get over() {
    if (!this.e) return this.failed;
    const over = this.str(this.e.text(4));
    return over === undefined ? undefined : engineError(over);
  }

  get stats() {
    // The state and the counters (before the engine: none yet, the sends waiting).
    const s = this.e ? new Float64Array(x.memory.buffer, this.e.input(15, 0, ...this.link()), 14) : [0, 0, 0, 0, 0, 0, 0, 0, 0, -1, this.early?.sends.length ?? 0, 0, 0, 0];
    return {
      connects: s[2],
      reconnects: s[3],
      messagesIn: s[4] + this.r.messagesIn,
      messagesOut: s[5],
      bytesIn: s[6] + this.r.bytesIn,
      bytesOut: s[7],
      requeued: s[8],
      lastHeartbeatRttMs: s[9] < 0 ? null : s[9],
      outboxLength: s[10],
      inFlight: s[11],
      unacked: s[12],
      duplicates: s[13],
    };
  }

  // Before the engine: the early socket's URL (the browser's parse) without userinfo, query
  // or fragment, as the engine shows it; a URL function's is not known yet.
  get url() {
    if (this.e) return this.str(this.e.text(3));
    const ws = this.early?.ws;
    if (!ws) return '';
    const u = new URL(ws.url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  }

  // The socket of the open state (the early one while it leads the engine).
  get opened() {
    const lead = this.leading;
    if (lead) return lead.readyState === 1 ? lead : null;
    return this.e?.num(5) === 1 ? this.ws : null;
  }

  get protocol() { return this.opened?.protocol ?? ''; }

  get extensions() { return this.opened?.extensions ?? ''; }

  get buffered() {
    if (!this.e) {
      let bytes = 0;
      for (const [data] of this.early?.sends ?? []) bytes += typeof data === 'string' ? new Blob([data]).size : data.byteLength;
      return bytes;
    }
    return (this.ws ? this.ws.bufferedAmount : 0) + this.e.input(14, 0, ...this.link());
  }

  // `policy`: undefined (replay after a reconnect), -1 (drop) or a time to live in ms.
  send(data, policy) {
    if (!this.e) {
      if (this.failed) throw this.failed;
      // Kept for the engine (a copy: the bytes are the ones given at the call).
      this.early.sends.push([typeof data === 'string' ? data : data.slice(), policy]);
      return;
    }
    const [buffered, writable] = this.link();
    const kind = policy === undefined ? 0 : policy < 0 ? 1 : 2;
    const ttl = kind === 2 ? policy : 0;
    const bad = this.str(typeof data === 'string'
      ? this.e.input(10, now(), buffered, writable, 0, kind, ttl, data)
      : this.e.send_binary(now(), buffered, writable, data, kind, ttl));
    this.pump();
    if (bad !== undefined) throw engineError(bad);
  }

  close(code, reason) {
    const early = this.early;
    if (!this.e) {
      if (this.failed || !early || early.close) return [];
      // The engine closes once it is there (the socket is CLOSING meanwhile); the early
      // socket closes now, as the browser's would.
      early.close = [code, reason];
      this.lead = null;
      if (reason !== undefined) early.ws?.close(code || 1000, reason);
      else if (code) early.ws?.close(code);
      else early.ws?.close();
      return early.sends.splice(0).map(([data]) => (typeof data === 'string' ? data : data.buffer));
    }
    this.e.input(11, now(), ...this.link(), 0, code ?? 0, reason === undefined ? 0 : 1, reason);
    this.pump();
    const unsent = [];
    let kind;
    while ((kind = this.e.input(16, 0, 0, false))) {
      const n = this.e.text(2);
      unsent.push(kind === 1 ? this.str(n) : this.view(n).slice().buffer);
    }
    return unsent;
  }

  // (Before the engine, the early socket is a new attempt already.)
  reconnect() { this.input(1); }

  // Everything goes at once: listeners, timers, the socket, the wasm side.
  free() {
    this.lead = null;
    if (this.early) {
      this.early.freed = true;
      this.early.ws?.close();
      booting.delete(this);
    }
    this.unwatch();
    for (const t of this.timers) clearTimeout(t);
    this.release();
    const e = this.e;
    this.e = null;
    e?.free();
  }
}

// --- The options object and argument errors -------------------------------------------------
// Read here rather than in Rust (src/js/options.rs applies the result): every mistake (unknown
// key, wrong type, out-of-range value) is a TypeError naming the key, the expected type and the
// value given, with `kind` "InvalidOption" (or "InvalidArgument" for a constructor argument).

// A short, safe description of a value for error messages: a string is quoted and cut after
// 40 code points (a lone surrogate shown as U+FFFD), a number in JavaScript's own notation.
function describe(value) {
  switch (typeof value) {
    case 'string': {
      const chars = [...value].map((c) => (c.length === 1 && c >= '\ud800' && c <= '\udfff' ? '\ufffd' : c));
      return `"${chars.slice(0, 40).join('')}${chars.length > 40 ? '…' : ''}"`;
    }
    case 'number':
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'bigint':
      return 'a bigint';
    case 'symbol':
      return 'a symbol';
    default: {
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'an array';
      let name = '';
      try {
        if (value instanceof Object) name = value.constructor.name;
      } catch {
        // no usable constructor: a plain description
      }
      return typeof name !== 'string' || name === '' || name === 'Object' ? 'an object' : `a ${name}`;
    }
  }
}

const withKind = (error, kind) => Object.assign(error, { kind });

// A DOMException `name` with the crate's `kind`.
const dom = (message, name, kind) => withKind(new DOMException(message, name), kind);

// The engine's errors for a bad URL or subprotocol, as the DOMException `WebSocket` throws.
function domError(e) {
  switch (e?.kind) {
    case 'InvalidUrl': case 'InvalidScheme': case 'InvalidProtocol':
      return dom(e.message, 'SyntaxError', e.kind);
    case 'InsecureUrl':
      return dom(e.message, 'SecurityError', e.kind);
    default:
      return e;
  }
}

// WebIDL's `[Clamp] unsigned short`: a number (ToNumber may throw, as the browser's does),
// NaN as 0, clamped to 0-65535, rounded half to even.
function clampU16(value) {
  const x = Number(value);
  if (Number.isNaN(x)) return 0;
  const c = Math.min(Math.max(x, 0), 65535);
  const f = Math.floor(c);
  const d = c - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

// The UTF-8 length of a well-formed string.
function utf8Length(s) {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

// `TypeError: WHAT must be EXPECTED, got VALUE` for a bad argument.
function argumentError(what, expected, got) {
  return withKind(new TypeError(`${what} must be ${expected}, got ${describe(got)}`), 'InvalidArgument');
}

// `TypeError: option "KEY" must be EXPECTED, got VALUE`.
function typeError(key, expected, got) {
  return withKind(new TypeError(`option "${key}" must be ${expected}, got ${describe(got)}`), 'InvalidOption');
}

const KEYS = 'protocols, binaryType, json, minDelay, maxDelay, factor, jitter, maxRetries, '
  + 'stableAfter, connectTimeout, shouldRetry, outboxMessages, outboxBytes, overflow, heartbeat, '
  + 'highWaterMark, maxMessageBytes, secureOnly, jitterSeed, WebSocket, resume';
const U32_MAX = 4294967295;

const isOptionsObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

function entries(value, what) {
  if (!isOptionsObject(value)) {
    throw withKind(new TypeError(`${what} must be an object, got ${describe(value)}`), 'InvalidOption');
  }
  return Object.entries(value);
}

function nonNegative(key, v, expected) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw typeError(key, expected, v);
  return v;
}

const millis = (key, v) => nonNegative(key, v, 'a non-negative number of milliseconds');

// The browser runs no timer sooner than about 4 ms (nested timers are clamped to it): a
// shorter timeout would fail every attempt.
const MIN_TIMEOUT = 4;

function timeout(key, v) {
  const expected = `a number of milliseconds of at least ${MIN_TIMEOUT}`;
  nonNegative(key, v, expected);
  if (v < MIN_TIMEOUT) throw typeError(key, expected, v);
  return v;
}

function integer(key, v, max) {
  const expected = `a non-negative integer (at most ${max})`;
  nonNegative(key, v, expected);
  if (!Number.isInteger(v) || v > max) throw typeError(key, expected, v);
  return v;
}

function boolean(key, v) {
  if (typeof v !== 'boolean') throw typeError(key, 'a boolean', v);
  return +v;
}

function oneOf(key, v, names) {
  const i = names.indexOf(v);
  if (i < 0) throw typeError(key, names.map((n) => `"${n}"`).join(' | '), v);
  return i;
}

// A string or an array of strings (checked later, like the browser does); null: none.
function protocolList(key, v) {
  if (typeof v === 'string') return [v];
  if (v === undefined || v === null) return [];
  const expected = 'a string or an array of strings';
  if (!Array.isArray(v)) throw typeError(key, expected, v);
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') throw typeError(key, expected, v);
  return Array.from(v);
}

// `new ReSocket(url, protocols?, options?)` or `new ReSocket(url, options)`: the options, read
// and checked, as one plain object the engine reads by name (src/js/options.rs): each option
// given, under its own name, as given (`maxRetries` and `maxMessageBytes`: -1 for none;
// `heartbeat`: null for none, else `{ message?, interval?, timeout? }`), `protocols` as an array,
// and `protocolsError`, the error for a bad `protocols` argument. Throws the TypeError for the
// first mistake in the options; the engine checks maxDelay >= minDelay, then throws
// `protocolsError`.
function settings(protocols, options) {
  if (options === undefined && isOptionsObject(protocols)) {
    options = protocols;
    protocols = undefined;
  }
  const o = Object.create(null);
  if (options !== undefined && options !== null) {
    for (const [k, v] of entries(options, 'options')) {
      if (v === undefined) continue; // `{ maxRetries: undefined }` means "the default"
      let n = v;
      switch (k) {
        case 'protocols': n = protocolList(k, v); break;
        case 'binaryType': oneOf(k, v, ['blob', 'arraybuffer']); break;
        case 'json': case 'secureOnly': boolean(k, v); break;
        case 'minDelay': case 'maxDelay': case 'stableAfter': millis(k, v); break;
        case 'connectTimeout': timeout(k, v); break;
        case 'factor':
          nonNegative(k, v, 'a number >= 1');
          if (v < 1) throw typeError(k, 'a number >= 1', v);
          break;
        case 'jitter': oneOf(k, v, ['full', 'equal', 'none']); break;
        case 'maxRetries': n = v === null || v === Infinity ? -1 : integer(k, v, U32_MAX); break;
        case 'shouldRetry':
          if (typeof v !== 'function') throw typeError(k, 'a function (event) => boolean', v);
          break;
        case 'outboxMessages': integer(k, v, 1000000000); break;
        case 'outboxBytes': case 'highWaterMark': integer(k, v, U32_MAX); break;
        case 'overflow': oneOf(k, v, ['reject', 'drop-oldest', 'drop-newest']); break;
        case 'heartbeat': n = heartbeat(v); break;
        case 'maxMessageBytes': n = v === null ? -1 : integer(k, v, U32_MAX); break;
        case 'jitterSeed': integer(k, v, 9007199254740991); break;
        case 'WebSocket':
          if (typeof v !== 'function') throw typeError(k, 'a WebSocket class', v);
          break;
        case 'resume': n = resume(v); break;
        default:
          throw withKind(new TypeError(`unknown option "${k}" (known: ${KEYS})`), 'InvalidOption');
      }
      o[k] = n;
    }
  }
  if (protocols !== undefined) {
    try {
      o.protocols = protocolList('protocols', protocols);
    } catch {
      o.protocolsError = argumentError('protocols', 'a string or an array of strings', protocols);
    }
  }
  return o;
}

// `resume`: null or false for none, true for the defaults, else an object of overrides (a copy,
// checked).
function resume(v) {
  if (v === null || v === false) return null;
  if (!resumeBuilt) {
    throw withKind(new TypeError('option "resume": the resume protocol is in the "resocket/resume" entry '
      + "(import { ReSocket } from 'resocket/resume')"), 'InvalidOption');
  }
  const r = {};
  if (v === true) return r;
  for (const [key, x] of entries(v, 'option "resume"')) {
    const name = `resume.${key}`;
    if (x === undefined) continue;
    switch (key) {
      case 'fallback': oneOf(name, x, ['fail', 'plain']); break;
      case 'maxBuffered': integer(name, x, 1000000000); break;
      case 'maxBufferedBytes': integer(name, x, U32_MAX); break;
      case 'overflow': oneOf(name, x, ['drop-oldest', 'wait']); break;
      case 'onReset': oneOf(name, x, ['requeue', 'drop']); break;
      default:
        throw withKind(new TypeError(`unknown option "${name}" (known: fallback, maxBuffered, `
          + 'maxBufferedBytes, overflow, onReset)'), 'InvalidOption');
    }
    r[key] = x;
  }
  return r;
}

// `send()`'s options as the core takes them: undefined (replay), -1 (drop on reconnect) or a
// time to live in ms.
function sendPolicy(options) {
  if (options === undefined || options === null) return undefined;
  const what = 'send() options';
  const expected = "{ onReconnect: 'replay' | 'drop' } or { ttl: ms }";
  if (!isOptionsObject(options)) throw argumentError(what, expected, options);
  let policy;
  for (const [key, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if (key === 'onReconnect' && (v === 'replay' || v === 'drop') && policy === undefined) {
      policy = v === 'drop' ? -1 : undefined;
    } else if (key === 'ttl' && typeof v === 'number' && Number.isFinite(v) && v >= 0
      && policy === undefined) {
      policy = v;
    } else {
      throw argumentError(`${what} "${key}"`, expected, v);
    }
  }
  return policy;
}

// `heartbeat`: null or false for none, else an object of overrides (a copy, checked).
function heartbeat(v) {
  if (v === null || v === false) return null;
  const h = {};
  for (const [key, x] of entries(v, 'option "heartbeat"')) {
    const name = `heartbeat.${key}`;
    if (key === 'message') {
      if (typeof x !== 'string') throw typeError(name, 'a string', x);
    } else if (key === 'interval') {
      millis(name, x);
    } else if (key === 'timeout') {
      timeout(name, x);
    } else {
      throw withKind(new TypeError(`unknown option "${name}" (known: message, interval, timeout)`), 'InvalidOption');
    }
    h[key] = x;
  }
  // Whole microseconds, as the Rust side keeps them: less than one is no interval at all.
  if (h.interval * 1000 < 1) throw typeError('heartbeat.interval', 'a positive number of milliseconds', 0);
  return h;
}
