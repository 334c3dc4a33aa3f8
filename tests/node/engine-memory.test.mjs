// The engine's memory (its own allocator, src/js/heap.rs) against the real server: sockets
// made, filled and thrown away again and again must reuse the memory the earlier ones freed.
// The packed package's `resocket/web` entry, whose initSync() answers the engine's exports (and
// so its memory). Every cycle queues messages of many sizes in the outbox (text and binary,
// 1 byte to 64 KiB) while the socket connects, has them echoed, then closes and frees it; a
// leak of what a cycle allocates would grow the memory by about 300 KB a cycle.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer } from '../e2e/harness.mjs';
import { APP, packedApp } from '../package/packed.mjs';

packedApp();
const require = createRequire(path.join(APP, 'index.js'));
const { initSync, ReSocket } = await import(pathToFileURL(require.resolve('resocket/web')));
const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('resocket/package.json')), 'resocket.wasm'));
const engine = initSync(wasm);

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(f, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// Sizes from 1 byte to 64 KiB, a different mix every cycle.
const SIZES = [1, 7, 8, 9, 63, 100, 1000, 4095, 4097, 20_000, 65_536];
let cycles = 0;
async function cycle() {
  cycles += 1;
  const ws = new ReSocket(`${server.ws}/ws/echo?client=mem-${process.pid}-${cycles}&pad=${'x'.repeat(cycles % 20)}`,
    { binaryType: 'arraybuffer' });
  let echoed = 0;
  let bytes = 0;
  ws.onmessage = (e) => {
    echoed += 1;
    bytes += typeof e.data === 'string' ? e.data.length : e.data.byteLength;
  };
  let sent = 0;
  try {
    for (let i = 0; i < SIZES.length; i += 1) {
      const size = SIZES[(i + cycles) % SIZES.length];
      // Binary of `size` bytes, or text of `size` UTF-8 bytes (é is two).
      const data = i % 2 ? new Uint8Array(size).fill(i) : 'é'.repeat(size >> 1) + 'e'.repeat(size & 1);
      ws.send(data);
      sent += data.length;
    }
    assert.equal(ws.stats.outboxLength, SIZES.length, 'queued in the engine while connecting');
    await until(() => echoed === SIZES.length, `${SIZES.length} echoes (cycle ${cycles})`);
    assert.equal(bytes, sent);
    ws.close(1000);
    await until(() => ws.readyState === ReSocket.CLOSED, 'closed');
  } finally {
    ws.free();
  }
}

test('sockets made and freed again and again reuse the engine memory', async () => {
  for (let i = 0; i < 25; i += 1) await cycle(); // every size and URL length used once
  const warm = engine.memory.buffer.byteLength;
  for (let i = 0; i < 60; i += 1) await cycle();
  const grown = engine.memory.buffer.byteLength - warm;
  console.log(`[memory] engine memory ${warm} bytes after 25 cycles, ${grown} bytes more after 60 more`);
  assert.equal(grown, 0, 'no growth once every size has been used');
});
