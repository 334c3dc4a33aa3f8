// The one JavaScript call per received message of the `ReSocket` class: parse (JSON mode) or
// wrap (a Blob for binaryType "blob"), then deliver. Doing this on the JS side keeps the payload
// out of wasm memory and the message path to a single boundary crossing.
//
// `handler`: when the page listens with `onmessage` only (no `addEventListener('message')`),
// the handler gets the browser's own MessageEvent, its `data` replaced by the delivered value:
// no second event object and no dispatch. Otherwise a new MessageEvent is dispatched.
// Throws only when JSON.parse does.
export function deliverMessage(target, event, json, blob, handler) {
  const data = event.data;
  let value = data;
  if (typeof data === 'string') {
    if (json) value = JSON.parse(data);
  } else if (blob) {
    value = new Blob([data]);
  }
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
  return value;
}
