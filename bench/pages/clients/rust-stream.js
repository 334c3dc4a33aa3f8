// resocket's Rust API: a ReSocket read as a typed JSON Stream (bench/rust-stream, wasm-pack).
import * as m from 'bench-rust-stream';

export const reconnects = true;
export const { open, flood, echo, close, memory_bytes: memoryBytes, cycles } = m;
export const firstMessage = (url) => m.first_message(url);
export const watch = (url) => m.watch(url);
export const watchLog = () => m.watch_log();
