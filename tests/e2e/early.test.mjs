// The bundler entry loads the engine (the wasm) without holding up the import: a socket
// constructed before it is loaded opens its WebSocket at once and hands it to the engine once
// it is there. Headless Chromium against the real server; the test holds the wasm's response
// back (Playwright routing) to make "before" last as long as it needs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import webpack from 'webpack';
import { ROOT, getJson, launchBrowser, newPage, startServer } from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');
const OUT = path.join(ROOT, 'target', 'e2e', 'early-app');

let server;
let browser;
let seq = 0;
const client = (name) => `early-${name}-${process.pid}-${++seq}`;
const stats = (id) => getJson(`${server.http}/stats?client=${id}`);

async function until(f, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  const config = (await import(path.join(FIXTURES, 'webpack.config.cjs'))).default(OUT);
  config.entry = path.join(FIXTURES, 'early.js');
  const s = await new Promise((resolve, reject) => webpack(config, (e, r) => (e ? reject(e) : resolve(r))));
  assert.ok(!s.hasErrors(), s.toString('errors-only'));
  fs.writeFileSync(path.join(OUT, 'index.html'), '<!doctype html><html><head><meta charset="utf-8">'
    + '<link rel="icon" href="data:,"></head><body><script src="app.js"></script></body></html>');
  server = await startServer({ statics: [`/early-app=${OUT}`] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page whose wasm response waits for `release()` (or fails with `fail: true`). */
async function heldPage({ fail = false } = {}) {
  const page = await newPage(browser);
  let release;
  const released = new Promise((r) => { release = r; });
  let requested = false;
  await page.route('**/*.wasm', async (route) => {
    requested = true;
    await released;
    if (fail) await route.fulfill({ status: 404, body: 'gone' });
    else await route.continue();
  });
  await page.goto(`${server.http}/early-app/index.html`);
  await page.waitForFunction(() => window.pageReady === true);
  await until(() => requested, 10_000, 'the wasm request');
  assert.equal(await page.evaluate(() => window.engineReady), false, 'the engine is held back');
  return { page, release };
}

test('a socket constructed before the engine connects at once; the engine adopts it; sends keep their order', async () => {
  const { page, release } = await heldPage();
  const id = client('adopt');
  const url = `${server.ws}/ws/echo?client=${id}&token=early-secret`;
  const before = await page.evaluate((u) => {
    const s = new window.ReSocket(u);
    window.s = s;
    window.log = [];
    for (const t of ['open', 'message', 'close', 'error', 'statechange']) {
      s.addEventListener(t, (e) => window.log.push(t === 'message' ? `message ${e.data}`
        : t === 'statechange' ? `state ${e.detail.state}` : t));
    }
    s.send('early-1');
    s.send(new Uint8Array([7, 8]));
    s.send('early-2');
    return { readyState: s.readyState, state: s.state, buffered: s.bufferedAmount, url: s.url,
      outbox: s.stats.outboxLength };
  }, url);
  assert.deepEqual(before, { readyState: 0, state: 'connecting', buffered: 16,
    url: `${server.ws}/ws/echo`, outbox: 3 });
  // The server sees the connection while the wasm is still held back, and the page sees it
  // open: `open` does not wait for the engine. The sends do (the engine's outbox takes them).
  await until(async () => (await stats(id)).current_connections === 1, 10_000, 'the early connection');
  await page.waitForFunction(() => window.log.includes('open'), null, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => window.engineReady), false);
  assert.deepEqual(await page.evaluate(() => [window.log, window.s.readyState, window.s.state,
    window.s.protocol, window.s.stats.outboxLength]),
  [['state connecting', 'state open', 'open'], 1, 'open', '', 3], 'open before the engine, sends waiting');
  assert.equal((await stats(id)).message_count, 0, 'nothing sent before the engine');
  release();
  await page.waitForFunction(() => window.log.filter((l) => l.startsWith('message')).length === 3, null, { timeout: 10_000 });
  const log = await page.evaluate(() => window.log);
  assert.deepEqual(log, ['state connecting', 'state open', 'open', 'message early-1',
    'message [object Blob]', 'message early-2'], 'the engine repeats nothing dispatched before it');
  const s = await stats(id);
  assert.equal(s.total_connections, 1, 'the early socket was adopted, not replaced');
  assert.deepEqual(s.messages.map((m) => m.t ?? `${m.len} bytes ${m.head}`), ['early-1', '2 bytes 0708', 'early-2'],
    'each send once, in order');
  assert.equal(await page.evaluate(() => window.s.readyState), 1);
  // Later sockets are the engine's own: a reconnect opens one.
  await page.evaluate(() => window.s.reconnect());
  await page.waitForFunction(() => window.log.filter((l) => l === 'open').length === 2, null, { timeout: 10_000 });
  assert.equal((await stats(id)).total_connections, 2);
  await page.evaluate(() => window.s.close());
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('messages that come before the engine are delivered before it, once, and counted', async () => {
  const { page, release } = await heldPage();
  const id = client('flood');
  await page.evaluate((u) => {
    const s = new window.ReSocket(u, { json: true });
    window.s = s;
    window.log = [];
    window.seen = [];
    s.onmessage = (e) => window.log.push(`message ${e.data.seq ?? e.data.type}`);
    for (const t of ['open', 'close', 'error', 'statechange']) {
      s.addEventListener(t, (e) => window.log.push(t === 'statechange' ? `state ${e.detail.state}` : t));
    }
    (async () => { for await (const m of s) window.seen.push(m.seq ?? m.type); })();
  }, `${server.ws}/ws/flood?count=3&size=64&client=${id}`);
  await page.waitForFunction(() => window.log.length === 7, null, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => window.engineReady), false, 'still before the engine');
  const expected = ['state connecting', 'state open', 'open', 'message 0', 'message 1', 'message 2', 'message done'];
  assert.deepEqual(await page.evaluate(() => [window.log, window.seen, window.s.stats.messagesIn]),
    [expected, [0, 1, 2, 'done'], 4]);
  release();
  await page.waitForFunction(() => window.engineReady, null, { timeout: 10_000 });
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(await page.evaluate(() => [window.log, window.s.readyState, window.s.state]),
    [expected, 1, 'open'], 'the engine took the socket over without repeating an event');
  const after = await page.evaluate(() => window.s.stats);
  assert.equal(after.connects, 1);
  assert.equal(after.messagesIn, 4);
  assert.equal((await stats(id)).total_connections, 1);
  await page.evaluate(() => window.s.close());
  await page.waitForFunction(() => window.log.at(-1) === 'close', null, { timeout: 10_000 });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('before the engine, a message it must see holds back the ones after it, in order', async () => {
  const { page, release } = await heldPage();
  const id = client('order');
  await page.evaluate((u) => {
    const s = new window.ReSocket(u, { json: true });
    window.s = s;
    window.log = [];
    s.onmessage = (e) => window.log.push(e.data.seq);
    s.onerror = (e) => window.log.push(`error ${e.error?.kind}`);
  }, `${server.ws}/ws/ticker?rate=50&symbols=BTC&client=${id}`);
  await page.waitForFunction(() => window.log.length >= 2, null, { timeout: 10_000 });
  // Truncated JSON: its decode error is the engine's to report, so it waits, and every tick
  // after it waits behind it.
  await getJson(`${server.http}/control/malformed?kind=json&client=${id}`);
  await new Promise((res) => setTimeout(res, 200));
  const held = await page.evaluate(() => window.log.length);
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(await page.evaluate(() => window.log.length), held, 'nothing delivered past the malformed message');
  assert.equal(await page.evaluate(() => window.engineReady), false);
  release();
  await page.waitForFunction((n) => window.log.length > n + 5, held, { timeout: 10_000 });
  const log = await page.evaluate(() => window.log);
  const errors = log.filter((x) => typeof x === 'string');
  assert.deepEqual(errors, ['error Decode'], 'the decode error once');
  const at = log.indexOf('error Decode');
  assert.equal(at, held, 'the error comes where the message came');
  const seqs = log.filter((x) => typeof x === 'number');
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `ticks in order, once: ${seqs}`);
  await page.evaluate(() => window.s.close());
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('close() from the open listener before the engine: one close event, nothing after', async () => {
  const { page, release } = await heldPage();
  const id = client('close-in-open');
  await page.evaluate((u) => {
    const s = new window.ReSocket(u);
    window.s = s;
    window.log = [];
    s.addEventListener('open', () => {
      window.log.push('open');
      window.unsent = s.close(4002, 'from open');
      window.log.push(`readyState ${s.readyState}`);
    });
    for (const t of ['close', 'error', 'message']) s.addEventListener(t, (e) => window.log.push(`${t} ${e.code ?? ''}`));
    s.send('queued');
  }, `${server.ws}/ws/echo?client=${id}`);
  await page.waitForFunction(() => window.log.length >= 2, null, { timeout: 10_000 });
  assert.deepEqual(await page.evaluate(() => [window.log, window.unsent]), [['open', 'readyState 2'], ['queued']]);
  release();
  await page.waitForFunction(() => window.log.length >= 3, null, { timeout: 10_000 });
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(await page.evaluate(() => [window.log, window.s.readyState, window.s.state]),
    [['open', 'readyState 2', 'close 4002'], 3, 'closed']);
  const s = await stats(id);
  assert.equal(s.message_count, 0, 'the queued send was handed back, not sent');
  assert.equal(s.total_connections, 1);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a socket constructed as the package is imported: the wasm is fetched after its handshake (or 50 ms)', async () => {
  const page = await newPage(browser);
  const id = client('import-task');
  const url = `${server.ws}/ws/flood?count=2&size=64&client=${id}`;
  await page.goto(`${server.http}/early-app/index.html#connect=${encodeURIComponent(url)}`);
  await page.waitForFunction(() => window.engineReady && window.log.length === 4, null, { timeout: 10_000 });
  const t = await page.evaluate(() => ({
    ctorAt: window.ctorAt,
    openAt: window.openAt,
    fetchAt: performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'))?.startTime,
    log: window.log,
  }));
  assert.deepEqual(t.log, ['open', 'message 0', 'message 1', 'message done']);
  assert.equal(typeof t.fetchAt, 'number', 'the wasm was fetched');
  // Not beside the handshake: after the socket opened, or after the head start it is given.
  assert.ok(t.fetchAt >= Math.min(t.openAt, t.ctorAt + 50) - 1,
    `wasm fetched at ${t.fetchAt.toFixed(1)} ms; socket constructed at ${t.ctorAt.toFixed(1)}, open at ${t.openAt.toFixed(1)}`);
  assert.equal((await stats(id)).total_connections, 1, 'the engine adopted the socket');
  assert.deepEqual(await page.evaluate(() => [window.s.readyState, window.s.stats.connects]), [1, 1]);
  await page.evaluate(() => window.s.close());
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('close() before the engine: CLOSING at once, the queued sends handed back, one close event later', async () => {
  const { page, release } = await heldPage();
  const id = client('close');
  const r = await page.evaluate((u) => {
    const s = new window.ReSocket(u);
    window.s = s;
    window.log = [];
    s.addEventListener('close', (e) => window.log.push(`close ${e.code} ${e.reason}`));
    s.addEventListener('open', () => window.log.push('open'));
    s.send('never');
    const unsent = s.close(4001, 'bye');
    return { unsent, readyState: s.readyState };
  }, `${server.ws}/ws/echo?client=${id}`);
  assert.deepEqual(r, { unsent: ['never'], readyState: 2 });
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(await page.evaluate(() => window.s.readyState), 2, 'still CLOSING until the engine');
  release();
  await page.waitForFunction(() => window.log.length > 0, null, { timeout: 10_000 });
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(await page.evaluate(() => window.log), ['close 4001 bye']);
  assert.deepEqual(await page.evaluate(() => [window.s.readyState, window.s.state]), [3, 'closed']);
  const s = await stats(id);
  assert.equal(s.message_count, 0, 'nothing sent');
  assert.ok(s.total_connections <= 1, 'no reconnect');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('before the engine, a bad URL still throws a SyntaxError that does not quote it', async () => {
  const { page, release } = await heldPage();
  const e = await page.evaluate(() => {
    try {
      new window.ReSocket('ws://[::1/feed?token=early-secret');
      return null;
    } catch (err) {
      return { name: err.name, isDom: err instanceof DOMException, message: err.message };
    }
  });
  assert.ok(e, 'the constructor threw');
  assert.equal(e.name, 'SyntaxError');
  assert.equal(e.isDom, true);
  assert.ok(!e.message.includes('early-secret'), e.message);
  release();
  await page.close();
});

test('an engine that cannot load fails the socket with an error event, not silence', async () => {
  const { page, release } = await heldPage({ fail: true });
  const id = client('fail');
  await page.evaluate((u) => {
    const s = new window.ReSocket(u);
    window.s = s;
    window.log = [];
    s.addEventListener('error', (e) => window.log.push(`error ${e.error?.kind}`));
  }, `${server.ws}/ws/echo?client=${id}`);
  release();
  await page.waitForFunction(() => window.log.length > 0, null, { timeout: 10_000 });
  assert.deepEqual(await page.evaluate(() => [window.log, window.s.state, window.s.readyState]),
    [['error EngineLoad'], 'failed', 3]);
  await until(async () => (await stats(id)).current_connections === 0, 5_000, 'the early socket closed');
  await page.close();
});
