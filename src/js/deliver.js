// The JavaScript side of the `ReSocket` class's message path.
//
// `Receiver` is the browser socket's `onmessage` (attached by the core to every new socket, and
// detached with it): it counts the message (the core reads the counters lazily, see
// `ReSocket::stats`), then parses (JSON mode) or wraps (a Blob for binaryType "blob") and
// delivers it, all without entering wasm. It hands the event to the core's own handler (`core`,
// which counts nothing for a socket with a receiver) instead whenever the core has work to do:
// a heartbeat is configured (activity), the message exceeds maxMessageBytes (the error event),
// async iterators are waiting (they live in wasm), or JSON.parse throws (the decode error).
// The core's handler then delivers through `deliverMessage`, so both paths behave the same.
export class Receiver {
  constructor(target, json, blob) {
    this.target = target;
    this.json = json;
    this.blob = blob;
    // The `onmessage` function while it is the only message listener; null: dispatch.
    this.handler = null;
    this.limit = Infinity;
    this.heartbeat = false;
    this.iterating = false;
    this.messagesIn = 0;
    this.bytesIn = 0;
  }

  attach(ws, core) {
    ws.onmessage = (event) => this.receive(event, core);
  }

  receive(event, core) {
    const data = event.data;
    // As js_payload_len: UTF-16 code units of a string, bytes of an ArrayBuffer.
    const len = typeof data === 'string' ? data.length : data.byteLength;
    this.messagesIn++;
    this.bytesIn += len;
    if (this.heartbeat || this.iterating || len > this.limit) {
      core(event);
      return;
    }
    let value = data;
    if (typeof data === 'string') {
      if (this.json) {
        try {
          value = JSON.parse(data);
        } catch {
          core(event);
          return;
        }
      }
    } else if (this.blob) {
      value = new Blob([data]);
    }
    deliver(this.target, event, data, value, this.handler);
  }
}

// The core's path (and the slow path of `Receiver`): parse or wrap, then deliver; returns the
// value delivered. Throws only when JSON.parse does.
export function deliverMessage(target, event, json, blob, handler) {
  const data = event.data;
  let value = data;
  if (typeof data === 'string') {
    if (json) value = JSON.parse(data);
  } else if (blob) {
    value = new Blob([data]);
  }
  deliver(target, event, data, value, handler);
  return value;
}

// `handler`: when the page listens with `onmessage` only (no `addEventListener('message')`),
// the handler gets the browser's own MessageEvent, its `data` replaced by the delivered value:
// no second event object and no dispatch. Otherwise a new MessageEvent is dispatched.
function deliver(target, event, data, value, handler) {
  if (handler) {
    if (value !== data) Object.defineProperty(event, 'data', { value });
    try {
      handler(event);
    } catch (e) {
      // As the browser reports a listener's exception (the same fallback as report_error in
      // mod.rs, for browsers without reportError): never mistaken for a JSON.parse failure.
      (globalThis.reportError ?? console.error)(e);
    }
  } else {
    target.dispatchEvent(new MessageEvent('message', { data: value }));
  }
}

// Dispatches one of the socket's own events on its EventTarget: `open` (an Event), `close`
// (a CloseEvent: a = code, b = reason, c = wasClean), `error` (an ErrorEvent: a = message,
// b = error), anything else a CustomEvent with `a` as its detail. Never throws: listener
// exceptions are reported by the browser, and an event that cannot be built is not sent.
export function fire(target, type, a, b, c) {
  try {
    target.dispatchEvent(type === 'open' ? new Event(type)
      : type === 'close' ? new CloseEvent(type, { code: a, reason: b, wasClean: c })
        : type === 'error' ? new ErrorEvent(type, { message: a, error: b })
          : new CustomEvent(type, { detail: a }));
  } catch {
    // as before: an event that cannot be constructed is not dispatched
  }
}
