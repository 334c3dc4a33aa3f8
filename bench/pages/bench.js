// The benchmark page: loads one client module on demand (each is its own webpack chunk, so the
// import time counts the client's download, wasm compile and start-up) and exposes `window.bench`
// to the driver (bench/run.mjs, bench/soak.mjs).

// Every wasm instance's linear memory, to report wasm memory next to the JS heap (webpack's
// async WebAssembly loader calls these two at run time).
const memories = [];
for (const name of ['instantiate', 'instantiateStreaming']) {
  const original = WebAssembly[name];
  WebAssembly[name] = async function instrumented(...args) {
    const result = await original.apply(this, args);
    const instance = result instanceof WebAssembly.Instance ? result : result.instance;
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory) memories.push(value);
    }
    return result;
  };
}

// Every browser WebSocket the page creates, to check the one-live-socket rule from the browser's
// side: `live(key)` counts the sockets whose URL has `client=key` and that are CONNECTING or OPEN.
const sockets = new Set();
const NativeWebSocket = window.WebSocket;
let overlaps = 0;
class TrackedWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    const key = new URL(this.url).searchParams.get('client');
    this.__client = key;
    for (const s of sockets) {
      if (s.readyState > 1) sockets.delete(s);
      else if (s.__client === key && key) overlaps += 1;
    }
    sockets.add(this);
  }
}
// Only with ?track (the soak): the benchmark measures the untouched browser WebSocket.
if (new URLSearchParams(window.location.search).has('track')) window.WebSocket = TrackedWebSocket;

const loaders = {
  raw: () => import(/* webpackChunkName: "raw" */ './clients/raw.js'),
  'resocket-js': () => import(/* webpackChunkName: "resocket-js" */ './clients/resocket-js.js'),
  'rust-stream': () => import(/* webpackChunkName: "rust-stream" */ './clients/rust-stream.js'),
  'gloo-net': () => import(/* webpackChunkName: "gloo-net" */ './clients/gloo-net.js'),
  rws: () => import(/* webpackChunkName: "rws" */ './clients/rws.js'),
};

window.bench = {
  client: null,
  errors: [],
  /** Loads a client; resolves with the milliseconds the import took. */
  async load(name) {
    const t0 = performance.now();
    this.client = await loaders[name]();
    return performance.now() - t0;
  },
  /** Construction to first message, the client's import (wasm start-up) included. */
  async startup(name, url) {
    const t0 = performance.now();
    this.client = await loaders[name]();
    await this.client.firstMessage(url);
    return performance.now() - t0;
  },
  /** Runs `client[fn](...args)` and resolves with its value and the milliseconds it took. */
  async timed(fn, ...args) {
    const t0 = performance.now();
    const value = await this.client[fn](...args);
    return { value, ms: performance.now() - t0 };
  },
  wasmBytes: () => memories.reduce((sum, m) => sum + m.buffer.byteLength, 0),
  overlaps: () => overlaps,
  liveSockets: () => [...sockets].filter((s) => s.readyState <= 1).length,
  epoch: () => performance.timeOrigin + performance.now(),
};
window.addEventListener('error', (e) => window.bench.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.bench.errors.push(String(e.reason)));
window.benchReady = true;
