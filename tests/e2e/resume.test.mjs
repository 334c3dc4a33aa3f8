// The JavaScript class in resume mode (`{ resume: true }`, docs/PROTOCOL.md) in headless Chromium
// against the Node `ws` adapter (adapters/resocket-resume-ws), started here on a free 127.0.0.1
// port: exactly once and in order both ways while the test terminates the TCP connections
// mid-traffic (the handler's record, the page's echoes, every tick's seq against the count of
// messages received), U+0000 text through the framing, `send(data, { ttl })` expiring in the
// outbox reported by a `discarded` event, and the checks of the new options. The project's server
// only serves the page and the package.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { Resume } from '../../adapters/resocket-resume-ws/index.mjs';
import { ROOT, launchBrowser, newPage, startServer } from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');

let server;
let browser;
let page;
let node;

/** The adapter on a free port: echoes every message, ticks every `tickMs` with its own seq. */
async function startNode(origin) {
  const resume = new Resume({ origins: [origin] });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...resume.wsOptions() });
  await new Promise((r) => wss.once('listening', r));
  const state = { received: [], raw: new Set(), gaps: [] };
  wss.on('connection', async (ws, req) => {
    state.raw.add(ws);
    ws.on('close', () => state.raw.delete(ws));
    let s;
    try {
      s = await resume.accept(ws, req);
    } catch {
      return;
    }
    // One queue per connection: a tick's seq is the session's next when it goes out.
    let queue = Promise.resolve();
    const send = (make) => {
      queue = queue.then(() => s.send(make())).catch(() => {});
    };
    s.on('message', (data, isBinary) => {
      const m = isBinary ? Buffer.from(data) : String(data);
      state.received.push(m);
      send(() => m);
    });
    s.on('gap', (g) => state.gaps.push(g));
    const url = new URL(req.url, 'http://x');
    const tickMs = Number(url.searchParams.get('tick') || 0);
    if (tickMs) {
      const t = setInterval(() => send(() => JSON.stringify({ type: 'tick', seq: s.lastSent + 1 })), tickMs);
      s.on('close', () => clearInterval(t));
    }
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}/`,
    state,
    /** Ends every connection without a close frame (the session stays resumable). */
    drop() {
      for (const ws of state.raw) ws.terminate();
    },
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }),
  };
}

before(async () => {
  server = await startServer({ statics: [`/fixtures=${FIXTURES}`] });
  browser = await launchBrowser();
  page = await newPage(browser);
  await page.goto(`${server.http}/fixtures/esm.html?entry=resume`);
  await page.waitForFunction(() => window.ready === true);
  node = await startNode(server.http);
});

after(async () => {
  await node?.close();
  await browser?.close();
  await server?.stop();
});

test('exactly once and in order both ways while the TCP connections are cut mid-traffic', async () => {
  const N = 300;
  node.state.received.length = 0;
  const run = page.evaluate(async ({ url, N }) => {
    const ws = new ReSocket(`${url}?tick=15`, { resume: true, minDelay: 20, maxDelay: 100 });
    const got = [];
    const events = [];
    ws.onmessage = (e) => got.push(e.data);
    for (const type of ['resumed', 'gap', 'reset', 'discarded', 'error']) {
      ws.addEventListener(type, (e) => events.push({ type, detail: e.detail ?? e.message }));
    }
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < N; i++) {
      ws.send(`m${i}`);
      await sleep(4);
    }
    const start = Date.now();
    while (got.filter((d) => d.startsWith('m')).length < N && Date.now() - start < 20000) await sleep(20);
    const stats = ws.stats;
    ws.close(1000);
    return { got, events, stats };
  }, { url: node.url, N });
  // Cut every connection every 150 ms while the page sends.
  let drops = 0;
  const cutter = setInterval(() => { if (node.state.raw.size) drops++; node.drop(); }, 150);
  const { got, events, stats } = await run.finally(() => clearInterval(cutter));
  const want = Array.from({ length: N }, (_, i) => `m${i}`);
  assert.ok(drops >= 5, `${drops} drops`);
  assert.deepEqual(node.state.received, want, 'the handler took every message once, in order');
  assert.deepEqual(got.filter((d) => d.startsWith('m')), want, 'every echo once, in order');
  let ticks = 0;
  got.forEach((d, i) => {
    if (d.startsWith('{')) {
      assert.equal(JSON.parse(d).seq, i + 1, `tick at position ${i}`);
      ticks++;
    }
  });
  assert.ok(ticks > 10, `${ticks} ticks`);
  assert.deepEqual(events.filter((e) => e.type !== 'resumed'), [], 'no gap, reset, discard or error');
  const resumed = events.filter((e) => e.type === 'resumed' && e.detail.resumed).length;
  assert.ok(resumed >= 3, `${resumed} resumed sessions`);
  assert.equal(stats.messagesIn, got.length, 'control frames are not counted');
  assert.deepEqual(node.state.gaps, []);
});

test('U+0000 text and binary pass the framing unchanged', async () => {
  const got = await page.evaluate(async (url) => {
    const ws = new ReSocket(url, { resume: { fallback: 'fail', maxBuffered: 8 } });
    ws.binaryType = 'arraybuffer';
    const got = [];
    ws.onmessage = (e) => got.push(typeof e.data === 'string' ? e.data : Array.from(new Uint8Array(e.data)));
    ws.send('\0zero');
    ws.send('\0{"t":"bye"}');
    ws.send(new Uint8Array([0, 0, 7]));
    const start = Date.now();
    while (got.length < 3 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 10));
    const state = ws.state;
    ws.close();
    return { got, state };
  }, node.url);
  assert.deepEqual(got.got, ['\0zero', '\0{"t":"bye"}', [0, 0, 7]]);
  assert.equal(got.state, 'open');
});

test("send(data, { ttl }) expires in the outbox and is reported by a discarded event", async () => {
  node.state.received.length = 0;
  const seen = await page.evaluate(async (url) => {
    // Nothing listens at first: the messages wait in the outbox while attempts fail.
    window.target = 'ws://127.0.0.1:1/';
    const ws = new ReSocket(() => window.target, { resume: true, minDelay: 20, maxDelay: 50 });
    const events = [];
    ws.addEventListener('discarded', (e) => events.push(e.detail));
    ws.send('gone', { ttl: 30 });
    ws.send('kept', { onReconnect: 'drop' });
    ws.send('kept too', { ttl: 60000 });
    await new Promise((r) => setTimeout(r, 200));
    window.target = url;
    await new Promise((r) => ws.addEventListener('resumed', r, { once: true }));
    await new Promise((r) => setTimeout(r, 200));
    ws.close();
    return events;
  }, node.url);
  assert.deepEqual(seen, [{ dropped: 0, expired: 1 }]);
  assert.deepEqual(node.state.received, ['kept', 'kept too'], 'no outage of an open connection: drop keeps it');
});

test('send() options and the resume option are checked like the other options', async () => {
  const errors = await page.evaluate(() => {
    const out = [];
    const bad = [{ resume: 'yes' }, { resume: { fallback: 'maybe' } }, { resume: { maxBufered: 1 } }];
    for (const options of bad) {
      try {
        new ReSocket('ws://127.0.0.1:1/', options).close();
        out.push('no error');
      } catch (e) {
        out.push(`${e.name}: ${e.message}`);
      }
    }
    const ws = new ReSocket('ws://127.0.0.1:1/', { maxRetries: 0 });
    for (const options of [{ onReconnect: 'later' }, { ttl: -1 }, { ttl: 5, onReconnect: 'drop' }, 7]) {
      try {
        ws.send('x', options);
        out.push('no error');
      } catch (e) {
        out.push(`${e.name}: ${e.message}`);
      }
    }
    ws.close();
    return out;
  });
  assert.match(errors[0], /TypeError: option "resume" must be an object/);
  assert.match(errors[1], /TypeError: option "resume.fallback" must be "fail" \| "plain"/);
  assert.match(errors[2], /TypeError: unknown option "resume.maxBufered"/);
  for (const e of errors.slice(3)) assert.match(e, /TypeError: send\(\) options/);
});
