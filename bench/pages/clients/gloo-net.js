// gloo-net's WebSocket Stream with serde_json (bench/gloo-net, wasm-pack): the Rust peer.
import * as m from 'bench-gloo-net';

export const reconnects = false;
export const { open, flood, echo, close, cycles, memory_bytes: memoryBytes } = m;
export const firstMessage = (url) => m.first_message(url);
export const watch = () => { throw new Error('gloo-net does not reconnect'); };
export const watchLog = () => '[]';
