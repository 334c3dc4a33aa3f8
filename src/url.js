// The runtime's URL parser, as the crate uses it: a wasm-bindgen snippet of the Rust driver
// (src/url.rs), and the npm package's class puts it in front of its own code
// (scripts/package.mjs), handing the engine the parts.

// `[scheme, hostname, host, path, has query, has fragment, href]` of `s` as the browser's
// WHATWG `URL` parses it (`undefined` if it is not a URL): what the socket connects to.
export function urlParts(s) {
  let u;
  // Resolved as `new WebSocket(url)` does: against the document's base URL (a worker's
  // location; nothing outside a page), then http(s) mapped to ws(s).
  const base = globalThis.document?.baseURI ?? globalThis.location?.href;
  try { u = new URL(s, base); } catch { return undefined; }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  const [h, f] = u.href.split('#');
  return [u.protocol.slice(0, -1), u.hostname, u.host, u.pathname, h.includes('?'), f != null, u.href];
}
