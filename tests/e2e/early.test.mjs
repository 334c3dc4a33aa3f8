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
  // The server sees the connection while the wasm is still held back.
  await until(async () => (await stats(id)).current_connections === 1, 10_000, 'the early connection');
  assert.equal(await page.evaluate(() => window.engineReady), false);
  assert.deepEqual(await page.evaluate(() => window.log), [], 'no event before the engine');
  release();
  await page.waitForFunction(() => window.log.filter((l) => l.startsWith('message')).length === 3, null, { timeout: 10_000 });
  const log = await page.evaluate(() => window.log);
  assert.deepEqual(log, ['state connecting', 'state open', 'open', 'message early-1',
    'message [object Blob]', 'message early-2']);
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
