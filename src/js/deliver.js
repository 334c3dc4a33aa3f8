// The one JavaScript call per received message of the `ReSocket` class: parse (JSON mode),
// wrap (a Blob for binaryType "blob"), and dispatch a MessageEvent. Doing this on the JS side
// keeps the payload out of wasm memory and the message path to a single boundary crossing.
// Throws only when JSON.parse does (listener exceptions are reported by the browser itself).
export function deliverMessage(target, data, json, blob) {
  let value = data;
  if (typeof data === 'string') {
    if (json) value = JSON.parse(data);
  } else if (blob) {
    value = new Blob([data]);
  }
  target.dispatchEvent(new MessageEvent('message', { data: value }));
  return value;
}
