// The npm package's behaviour outside the browser, against the real server: the packed package
// (tests/package/packed.mjs) imported by name in Node.js. Run twice by `npm test`: in Node.js 22
// with its global WebSocket, and in Node.js 20 (or 22 with --no-experimental-websocket) with
// RESOCKET_TEST_WEBSOCKET=ws, the `ws` package's class given as the `WebSocket` option.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { getJson, startServer } from '../e2e/harness.mjs';
import { APP, packedApp } from '../package/packed.mjs';

packedApp();
const entry = createRequire(path.join(APP, 'index.js')).resolve('resocket');
const { ReSocket } = await import(pathToFileURL(entry));
const injected = process.env.RESOCKET_TEST_WEBSOCKET === 'ws';
const base = injected ? { WebSocket: (await import('ws')).WebSocket } : {};
console.log(`[node] ${process.version}, ${path.relative(APP, entry)}, WebSocket: `
  + `${injected ? "the ws package's, given as an option" : 'the global one'}`);

let server;
let seq = 0;
const client = (name) => `node-${name}-${process.pid}-${++seq}`;
const open = (url, options = {}) => new ReSocket(url, { ...base, ...options });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(f, ms = 10_000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const nextEvent = (target, type) => new Promise((resolve) => {
  target.addEventListener(type, resolve, { once: true });
});

const control = (srv, verb, query) => getJson(`${srv.http}/control/${verb}?${query}`);
const stats = (srv, id) => getJson(`${srv.http}/stats?client=${id}`);

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

test('echo: text and binary, then close(1000) ends with one close event carrying the code', async () => {
  const id = client('echo');
  const ws = open(`${server.ws}/ws/echo?client=${id}`, { binaryType: 'arraybuffer' });
  const got = [];
  ws.onmessage = (e) => got.push(typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)]);
  await nextEvent(ws, 'open');
  assert.equal(ws.readyState, ReSocket.OPEN);
  ws.send('hello');
  ws.send(new Uint8Array([1, 2, 3]));
  await until(() => got.length === 2);
  assert.deepEqual(got, ['hello', [1, 2, 3]]);
  const closes = [];
  ws.onclose = (e) => closes.push({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  assert.deepEqual(ws.close(1000, 'done'), []);
  await until(() => closes.length === 1);
  await sleep(100);
  assert.deepEqual(closes, [{ code: 1000, reason: 'done', wasClean: true }]);
  assert.equal(ws.readyState, ReSocket.CLOSED);
  assert.equal(ws.state, 'closed');
  assert.equal((await stats(server, id)).total_connections, 1);
});

test('text goes out as the browser sends it: lone surrogates as U+FFFD, queued or not, any size', async () => {
  // Every text send crosses into the engine as UTF-8 (TextEncoder) and comes back out of it.
  const id = client('text');
  const ws = open(`${server.ws}/ws/echo?client=${id}`);
  const got = [];
  ws.onmessage = (e) => got.push(e.data);
  const texts = ['a\ud800b', '\udc00', '😀 astral', '\u0000nul', 'é'.repeat(3), '',
    `${'ü😀\ud83d'.repeat(100_000)}end`];
  try {
    for (const t of texts) ws.send(t); // while connecting: into the outbox
    await nextEvent(ws, 'open');
    for (const t of texts) ws.send(t); // open: straight out
    await until(() => got.length === texts.length * 2, 10_000, 'every echo');
    const expected = [...texts, ...texts].map((t) => t.toWellFormed());
    assert.equal(got.length, expected.length);
    got.forEach((g, i) => assert.ok(g === expected[i], `echo ${i} (${expected[i].length} UTF-16 units) as sent`));
  } finally {
    ws.close();
  }
});

test('server killed and restarted: reconnects, and what was sent while down arrives once, in order', async () => {
  const port = await freePort();
  let own = await startServer({ port });
  const id = client('restart');
  const ws = open(`${own.ws}/ws/echo?client=${id}`, { minDelay: 100, maxDelay: 400 });
  try {
    const received = [];
    const states = [];
    ws.onmessage = (e) => received.push(e.data);
    ws.addEventListener('statechange', (e) => states.push(e.detail.state));
    await nextEvent(ws, 'open');
    ws.send('before');
    await until(() => received.includes('before'));
    await own.stop(); // SIGKILL: no close frame
    await until(() => ws.state === 'reconnecting', 10_000, 'reconnecting');
    ws.send('down-1');
    ws.send('down-2');
    assert.equal(ws.stats.outboxLength, 2, 'both wait in the outbox');
    own = await startServer({ port });
    await until(() => received.includes('down-2'), 15_000, 'down-2 echoed');
    assert.deepEqual(received, ['before', 'down-1', 'down-2']);
    assert.ok(ws.stats.reconnects >= 1);
    assert.deepEqual(states.slice(0, 3), ['connecting', 'open', 'reconnecting']);
    assert.equal(states.at(-1), 'open');
    const s = await stats(own, id);
    assert.deepEqual(s.messages, [{ t: 'down-1' }, { t: 'down-2' }], 'sent exactly once, after the restart');
  } finally {
    ws.close();
    await own.stop();
  }
});

test('a refused connection fails the attempt at once: Node 22 fires `error` without `close` for it', async () => {
  // undici's WebSocket (Node 22's global) reports a refused connection with an `error` event
  // and stays CONNECTING, never firing `close`; the attempt must not wait for connectTimeout.
  const port = await freePort();
  const ws = open(`ws://127.0.0.1:${port}/ws/echo?client=${client('refused')}`,
    { minDelay: 50, maxDelay: 100, connectTimeout: 60_000 });
  const closes = [];
  ws.addEventListener('close', (e) => closes.push(e.code));
  try {
    await until(() => closes.length >= 3, 10_000, 'three failed attempts');
    assert.deepEqual(closes.slice(0, 3), [1006, 1006, 1006]);
    assert.ok(['reconnecting', 'connecting'].includes(ws.state), ws.state);
  } finally {
    ws.close();
  }
});

test('a dropped link (/control drop) reconnects; the outbox goes out in order, after what onopen sends', async () => {
  const id = client('drop');
  const ws = open(`${server.ws}/ws/echo?client=${id}`, { minDelay: 50, maxDelay: 100 });
  await nextEvent(ws, 'open');
  ws.onopen = () => ws.send('hello-again');
  await control(server, 'refuse', `ms=300&client=${id}`);
  await control(server, 'drop', `client=${id}`);
  await until(() => ws.state !== 'open', 5_000, 'the drop noticed');
  ws.send('q1');
  ws.send('q2');
  await nextEvent(ws, 'open');
  await until(async () => (await stats(server, id)).message_count === 3, 10_000, 'three messages at the server');
  const s = await stats(server, id);
  assert.deepEqual(s.messages.map((m) => m.t), ['hello-again', 'q1', 'q2']);
  assert.equal(s.total_connections, 2);
  assert.ok(s.max_concurrent <= 1, 'never two sockets at once');
  ws.close();
});

test('close codes: a server close with 4000 is retried, one with 1008 ends in failed', async () => {
  const id = client('codes');
  const ws = open(`${server.ws}/ws/echo?client=${id}`, { minDelay: 20, maxDelay: 50 });
  const closes = [];
  ws.addEventListener('close', (e) => closes.push(e.code));
  await nextEvent(ws, 'open');
  await control(server, 'close', `client=${id}&code=4000&reason=again`);
  await nextEvent(ws, 'open');
  assert.equal(ws.state, 'open');
  const failed = nextEvent(ws, 'error');
  await control(server, 'close', `client=${id}&code=1008&reason=policy`);
  const error = await failed;
  await until(() => ws.state === 'failed', 5_000, 'failed');
  assert.equal(error.error?.kind, 'Failed');
  assert.match(error.message, /1008/);
  await sleep(300);
  assert.equal((await stats(server, id)).total_connections, 2, 'no attempt after 1008');
  assert.deepEqual(closes.slice(0, 2), [4000, 1008]);
});

test('ReSocket.connect resolves on open; JSON mode and async iteration work as in the browser', async () => {
  const ws = await ReSocket.connect(`${server.ws}/ws/echo?client=${client('json')}`, { ...base, json: true });
  assert.equal(ws.state, 'open');
  ws.send({ a: [1, 2] });
  ws.send({ b: true });
  const got = [];
  for await (const value of ws) {
    got.push(value);
    if (got.length === 2) break;
  }
  assert.deepEqual(got, [{ a: [1, 2] }, { b: true }]);
  ws.close();
});
