// The npm package's JavaScript API in headless Chromium against the real server: the drop-in
// WebSocket pattern (webpack bundle and plain ESM), reconnection across a server restart,
// async iteration, JSON mode, binary data, option errors, listeners and close().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import webpack from 'webpack';
import { ROOT, getJson, launchBrowser, newPage, startServer } from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');
const WEBPACK_OUT = path.join(ROOT, 'target', 'e2e', 'webpack-app');
const VITE_OUT = path.join(ROOT, 'target', 'e2e', 'vite-app');
const STATICS = [`/fixtures=${FIXTURES}`, `/webpack-app=${WEBPACK_OUT}`, `/vite-app=${VITE_OUT}`];

let server;
let browser;
let page;
let clientSeq = 0;
const client = (name) => `js-${name}-${process.pid}-${++clientSeq}`;

async function buildWebpackApp() {
  const config = (await import(path.join(FIXTURES, 'webpack.config.cjs'))).default(WEBPACK_OUT);
  const stats = await new Promise((resolve, reject) => {
    webpack(config, (err, s) => (err ? reject(err) : resolve(s)));
  });
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  fs.writeFileSync(path.join(WEBPACK_OUT, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>'
    + '<body><script src="app.js"></script></body></html>');
}

/** Builds fixtures/vite with the package "installed" (node_modules/resocket -> pkg/). */
async function buildViteApp() {
  const { build } = await import('vite');
  const project = path.join(ROOT, 'target', 'e2e', 'vite-project');
  fs.rmSync(project, { recursive: true, force: true });
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.cpSync(path.join(FIXTURES, 'vite'), path.join(project, 'app'), { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, 'client.js'), path.join(project, 'client.js'));
  fs.symlinkSync(path.join(ROOT, 'pkg'), path.join(project, 'node_modules', 'resocket'), 'dir');
  await build({
    root: path.join(project, 'app'),
    base: '/vite-app/',
    logLevel: 'warn',
    configFile: false,
    build: { outDir: VITE_OUT, emptyOutDir: true },
  });
}

async function esmPage() {
  const p = await newPage(browser);
  await p.goto(`${server.http}/fixtures/esm.html`);
  await p.waitForFunction(() => window.ready === true);
  return p;
}

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
  await buildWebpackApp();
  await buildViteApp();
  server = await startServer({ statics: STATICS });
  browser = await launchBrowser();
  page = await esmPage();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('drop-in for WebSocket', () => {
  const expected = ['open true', 'text hello', 'binary 1,2,3', 'close 1000 done true'];

  test('a webpack-bundled app runs the WebSocket pattern unchanged', async () => {
    const p = await newPage(browser);
    const id = client('webpack');
    await p.goto(`${server.http}/webpack-app/index.html?client=${id}`);
    const result = await p.waitForFunction(() => window.result, null, { timeout: 15_000 });
    const { native, ours } = await result.jsonValue();
    assert.deepEqual(native, expected, 'the browser WebSocket itself');
    assert.deepEqual(ours, expected, 'ReSocket, same code');
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.equal(s.total_connections, 2, 'one connection each, no reconnect after close()');
    assert.deepEqual(p.errors, []);
    await p.close();
  });

  test('a Vite-built app (resocket/web) runs it too', async () => {
    const p = await newPage(browser);
    await p.goto(`${server.http}/vite-app/index.html?client=${client('vite')}`);
    const result = await p.waitForFunction(() => window.result, null, { timeout: 15_000 });
    const { native, ours } = await result.jsonValue();
    assert.deepEqual(native, expected);
    assert.deepEqual(ours, expected);
    assert.deepEqual(p.errors, []);
    await p.close();
  });

  test('a plain <script type="module"> page runs it too', async () => {
    const id = client('esm');
    const { native, ours } = await page.evaluate(async (id) => {
      const url = `${wsBase}/ws/echo?client=${id}`;
      return { native: await runClient(WebSocket, url), ours: await runClient(ReSocket, url) };
    }, id);
    assert.deepEqual(native, expected);
    assert.deepEqual(ours, expected);
  });

  test('properties, constants and real DOM events', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = new ReSocket(new URL(`${wsBase}/ws/echo?client=${id}`), ['resocket.v1']);
      const before = { readyState: ws.readyState, state: ws.state, protocol: ws.protocol };
      const open = await nextEvent(ws, 'open');
      ws.send('x');
      const message = await nextEvent(ws, 'message');
      const out = {
        before,
        url: ws.url,
        protocol: ws.protocol,
        extensions: typeof ws.extensions,
        readyState: ws.readyState,
        constants: [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED],
        staticConstants: [ReSocket.CONNECTING, ReSocket.OPEN, ReSocket.CLOSING, ReSocket.CLOSED],
        eventTarget: ws instanceof EventTarget,
        ownKeys: Object.keys(ws),
        binaryType: ws.binaryType,
        openIsEvent: open instanceof Event && open.type === 'open',
        messageIsMessageEvent: message instanceof MessageEvent && message.data === 'x',
        stats: ws.stats,
      };
      ws.close();
      // CLOSING until the close event, which comes as a task of its own (as the browser's).
      out.closing = ws.readyState;
      const close = await new Promise((resolve) => { ws.onclose = () => resolve('late'); ws.close(); resolve(null); });
      out.closeAfterClose = close;
      await new Promise((resolve) => { setTimeout(resolve, 20); });
      out.final = { readyState: ws.readyState, state: ws.state, messagesIn: ws.stats.messagesIn };
      return out;
    }, client('props'));
    assert.deepEqual(r.before, { readyState: 0, state: 'connecting', protocol: '' });
    // As parsed, without the query string (issue 18: no secret in the url getter).
    assert.match(r.url, /^ws:\/\/127\.0\.0\.1:\d+\/ws\/echo\?…$/);
    assert.equal(r.protocol, 'resocket.v1');
    assert.equal(r.extensions, 'string');
    assert.equal(r.readyState, 1);
    assert.deepEqual(r.constants, [0, 1, 2, 3]);
    assert.deepEqual(r.staticConstants, [0, 1, 2, 3]);
    assert.ok(r.eventTarget, 'a ReSocket is an EventTarget, as a WebSocket is');
    assert.deepEqual(r.ownKeys, [], 'no internals on the object');
    assert.equal(r.binaryType, 'blob', 'the browser default');
    assert.ok(r.openIsEvent);
    assert.ok(r.messageIsMessageEvent);
    assert.equal(r.stats.connects, 1);
    assert.equal(r.stats.messagesIn, 1);
    assert.equal(r.stats.messagesOut, 1);
    assert.equal(r.stats.outboxLength, 0);
    assert.equal(r.stats.lastHeartbeatRttMs, null);
    assert.equal(r.closing, 2, 'CLOSING right after close()');
    assert.deepEqual(r.final, { readyState: 3, state: 'closed', messagesIn: 1 }, 'counters survive the end');
    assert.equal(r.closeAfterClose, null, 'a second close() does nothing');
  });
});

describe('free()', () => {
  test('free() closes the socket and frees it; every use after it is an explained error', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const closed = nextEvent(ws, 'close');
      ws.free();
      const close = await closed;
      return {
        close: { code: close.code, wasClean: close.wasClean },
        send: thrown(() => ws.send('x')),
        state: thrown(() => ws.state),
        url: thrown(() => ws.url),
        close2: thrown(() => ws.close()),
        again: thrown(() => ws.free()),
      };
    }, client('free'));
    // close() without a code: the frame carries none, reported as 1005 (as the browser does).
    assert.deepEqual(r.close, { code: 1005, wasClean: true });
    for (const e of [r.send, r.state, r.url, r.close2]) {
      assert.equal(e.kind, 'Freed');
      assert.match(e.message, /this ReSocket was freed/);
    }
    assert.equal(r.again, null, 'a second free() does nothing');
  });
});

describe('reconnection', () => {
  test('server killed and restarted: the page reconnects and a message sent while down arrives', async () => {
    const port = await freePort();
    let own = await startServer({ port, statics: STATICS });
    const p = await newPage(browser);
    try {
      await p.goto(`${own.http}/fixtures/esm.html`);
      await p.waitForFunction(() => window.ready === true);
      const id = client('restart');
      await p.evaluate(async (id) => {
        window.ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`, { minDelay: 100, maxDelay: 400 });
        window.received = [];
        window.states = [];
        ws.onmessage = (e) => received.push(e.data);
        ws.addEventListener('statechange', (e) => states.push(e.detail.state));
        await nextEvent(ws, 'open');
        ws.send('before');
        await until(() => received.includes('before'));
      }, id);
      await own.stop(); // SIGKILL: no close frame
      await p.evaluate(async () => {
        await until(() => ws.state === 'reconnecting', 10_000, 'reconnecting');
        ws.send('while-down');
      });
      const queued = await p.evaluate(() => ({ outbox: ws.stats.outboxLength, buffered: ws.bufferedAmount }));
      assert.equal(queued.outbox, 1, 'the message waits in the outbox');
      assert.equal(queued.buffered, 'while-down'.length, 'bufferedAmount counts it');
      own = await startServer({ port, statics: STATICS });
      const r = await p.evaluate(async () => {
        await until(() => received.includes('while-down'), 15_000, 'while-down echoed');
        return { received, states, stats: ws.stats, readyState: ws.readyState };
      });
      assert.deepEqual(r.received, ['before', 'while-down']);
      assert.ok(r.stats.reconnects >= 1);
      assert.equal(r.readyState, 1);
      assert.deepEqual(r.states.slice(0, 3), ['connecting', 'open', 'reconnecting']);
      assert.equal(r.states.at(-1), 'open');
      const s = await getJson(`${own.http}/stats?client=${id}`);
      assert.deepEqual(s.messages, [{ t: 'while-down' }], 'sent exactly once, after the restart');
      await p.evaluate(() => ws.close());
    } finally {
      await p.close();
      await own.stop();
    }
  });

  test('close() stops all reconnection, also while waiting to retry', async () => {
    const id = client('close-stops');
    const r = await page.evaluate(async (id) => {
      const ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`, { minDelay: 50, maxDelay: 100 });
      await nextEvent(ws, 'open');
      await control('refuse', `ms=60000&client=${id}`);
      let unsent = null;
      ws.addEventListener('reconnecting', () => {
        // Inside the event: the first retry is scheduled, not made.
        unsent = (ws.send('never'), ws.close(4000, 'bye'));
      }, { once: true });
      await control('drop', `client=${id}`);
      await until(() => ws.state === 'closed');
      const states = [];
      ws.addEventListener('statechange', (e) => states.push(e.detail.state));
      await sleep(200);
      const attempts = (await stats(id)).attempts;
      await sleep(800);
      const later = (await stats(id)).attempts;
      await control('refuse', `ms=0&client=${id}`);
      let sendError = null;
      try { ws.send('after'); } catch (e) { sendError = e.kind; }
      return { attempts, later, unsent, states, state: ws.state, sendError };
    }, id);
    assert.equal(r.attempts, 1, 'only the first connection');
    assert.equal(r.later, r.attempts, 'no attempt after close()');
    assert.deepEqual(r.unsent, ['never'], 'close() returns what was never sent');
    assert.deepEqual(r.states, []);
    assert.equal(r.state, 'closed');
    assert.equal(r.sendError, 'Closed');
  });

  test('open handlers send before the queued messages (authenticate first)', async () => {
    const id = client('auth-first');
    await page.evaluate(async (id) => {
      const ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`);
      ws.send('q1');
      ws.send('q2');
      ws.onopen = () => ws.send('auth');
      await until(async () => (await stats(id)).message_count === 3);
      ws.close();
    }, id);
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.deepEqual(s.messages.map((m) => m.t), ['auth', 'q1', 'q2']);
  });

  test('ReSocket.connect resolves on open and rejects when it fails first', async () => {
    const port = await freePort(); // nothing listens there
    const r = await page.evaluate(async ({ id, port }) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const state = ws.state;
      ws.close();
      let failure = null;
      try {
        await ReSocket.connect(`ws://127.0.0.1:${port}/`, { maxRetries: 1, minDelay: 10 });
      } catch (e) {
        failure = { kind: e.kind, message: e.message, isError: e instanceof Error };
      }
      return { state, failure };
    }, { id: client('connect'), port });
    assert.equal(r.state, 'open');
    assert.equal(r.failure.kind, 'Failed');
    assert.ok(r.failure.isError);
    assert.match(r.failure.message, /gave up after 2 failed attempts/);
  });

  test('a URL function is called before every attempt', async () => {
    const id = client('provider');
    const r = await page.evaluate(async (id) => {
      let calls = 0;
      const ws = new ReSocket(async () => `${wsBase}/ws/echo?client=${id}&token=t${++calls}`, { minDelay: 20, maxDelay: 50 });
      await nextEvent(ws, 'open');
      await control('drop', `client=${id}`);
      await nextEvent(ws, 'open');
      ws.close();
      return { calls };
    }, id);
    assert.equal(r.calls, 2);
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.deepEqual(s.tokens, ['t1', 't2']);
  });

  test('a URL function that throws or returns a non-URL is an error event, and the socket retries', async () => {
    const r = await page.evaluate(async (id) => {
      const results = [() => 42, () => { throw new Error('no token'); }, async () => ({}), () => `${wsBase}/ws/echo?client=${id}`];
      let calls = 0;
      const ws = new ReSocket(() => results[calls++](), { minDelay: 10, maxDelay: 20 });
      const errors = [];
      ws.onerror = (e) => errors.push({ message: e.message, kind: e.error?.kind });
      await nextEvent(ws, 'open');
      ws.close();
      return { calls, errors };
    }, client('provider-bad'));
    assert.equal(r.calls, 4);
    assert.equal(r.errors.length, 3);
    assert.match(r.errors[0].message, /option "url" must be the URL function to return a string or a URL, got 42/);
    assert.match(r.errors[1].message, /no token/);
    assert.match(r.errors[2].message, /got an object/);
  });
});

describe('receiving', () => {
  test('for await iterates messages and ends after close()', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const got = [];
      const loop = (async () => {
        for await (const data of ws) {
          got.push(data);
          if (data === 'c') ws.close();
        }
        return 'ended';
      })();
      ws.send('a'); ws.send('b'); ws.send('c');
      const ended = await loop;
      const afterClose = await ws[Symbol.asyncIterator]().next();
      // break calls return(): the iterator detaches, the socket keeps going.
      const ws2 = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      ws2.send('1'); ws2.send('2');
      let first = null;
      for await (const data of ws2) { first = data; break; }
      ws2.send('3');
      const third = await nextEvent(ws2, 'message', (e) => e.data === '3');
      ws2.close();
      return { got, ended, afterClose, first, third: third.data };
    }, client('iter'));
    assert.deepEqual(r.got, ['a', 'b', 'c']);
    assert.equal(r.ended, 'ended');
    assert.deepEqual(r.afterClose, { value: undefined, done: true });
    assert.equal(r.first, '1');
    assert.equal(r.third, '3');
  });

  test('garbage collection: a waiting for-await loop survives, a dropped iterator is collected', async () => {
    const cdp = await page.context().newCDPSession(page);
    const gc = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
    };
    await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      window.gcSocket = ws;
      window.gcLoop = null;
      window.gcCollected = false;
      // Nothing but the socket refers to this loop while it waits.
      (async () => { for await (const data of ws) { window.gcLoop = data; break; } })();
      let dropped = ws[Symbol.asyncIterator]();
      // (The registry itself must stay reachable, or its callback never runs.)
      window.gcRegistry = new FinalizationRegistry(() => { window.gcCollected = true; });
      window.gcRegistry.register(dropped, 0);
      dropped = null;
    }, client('iter-gc'));
    let collected = false;
    for (let i = 0; i < 20 && !collected; i += 1) {
      await gc();
      collected = await page.evaluate(() => new Promise((r) => setTimeout(() => r(window.gcCollected), 50)));
    }
    const loop = await page.evaluate(async () => {
      window.gcSocket.send('after gc');
      await until(() => window.gcLoop !== null);
      window.gcSocket.close();
      return window.gcLoop;
    });
    await cdp.detach();
    assert.equal(loop, 'after gc', 'the waiting loop got the message sent after the collection');
    assert.ok(collected, 'an iterator the page dropped is not kept by the socket');
  });

  test('garbage collection: a socket the page dropped runs until close(), then is collected', async () => {
    const cdp = await page.context().newCDPSession(page);
    const gc = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
    };
    const settle = () => page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      window.gcGot = [];
      ws.onmessage = (e) => window.gcGot.push(e.data);
      window.gcWeak = new WeakRef(ws);
      window.gcDropped = false;
      window.gcSockets = new FinalizationRegistry(() => { window.gcDropped = true; });
      window.gcSockets.register(ws, 0);
    }, client('socket-gc'));
    await gc();
    await settle();
    const alive = await page.evaluate(async () => {
      const ws = window.gcWeak.deref();
      if (!ws) return { kept: false };
      ws.send('kept');
      await until(() => window.gcGot.length > 0);
      ws.close();
      return { kept: true, got: window.gcGot, state: ws.state };
    });
    let collected = false;
    for (let i = 0; i < 20 && !collected; i += 1) {
      await gc();
      await settle();
      collected = await page.evaluate(() => window.gcDropped);
    }
    await cdp.detach();
    assert.deepEqual(alive, { kept: true, got: ['kept'], state: 'closed' },
      'an open socket with a handler keeps running without a page reference, like a WebSocket');
    assert.ok(collected, 'a closed socket the page dropped is collected');
  });

  test('for await throws when the socket fails', async () => {
    const id = client('iter-fail');
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const loop = (async () => {
        try { for await (const _ of ws) { /* nothing arrives */ } return 'ended'; } catch (e) { return `threw ${e.kind}`; }
      })();
      await control('close', `client=${id}&code=1008&reason=policy`); // not retried by default
      return loop;
    }, id);
    assert.equal(r, 'threw Failed');
  });

  test('JSON mode: objects out, parsed values in, a bad payload is an error event', async () => {
    const id = client('json');
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`, { json: true });
      const value = { a: 1, b: [true, null, 'x'], c: { d: 2.5 } };
      ws.send(value);
      const echoed = (await nextEvent(ws, 'message')).data;
      ws.send('plain');
      const str = (await nextEvent(ws, 'message')).data;
      const errors = [];
      const messages = [];
      ws.onerror = (e) => errors.push({ isErrorEvent: e instanceof ErrorEvent, kind: e.error.kind, message: e.message });
      ws.onmessage = (e) => messages.push(e.data);
      await control('malformed', `kind=json&client=${id}`);
      ws.send(42);
      await until(() => messages.length === 1);
      const circular = {}; circular.self = circular;
      const thrownCircular = thrown(() => ws.send(circular));
      const thrownUndefined = thrown(() => ws.send(undefined));
      ws.close();
      return { echoed, str, errors, messages, thrownCircular, thrownUndefined };
    }, id);
    assert.deepEqual(r.echoed, { a: 1, b: [true, null, 'x'], c: { d: 2.5 } });
    assert.equal(r.str, 'plain');
    assert.equal(r.errors.length, 1);
    assert.ok(r.errors[0].isErrorEvent);
    assert.equal(r.errors[0].kind, 'Decode');
    // Not JSON.parse's message, which quotes the payload.
    assert.equal(r.errors[0].message, 'could not decode text message of 21 bytes: not valid JSON');
    assert.deepEqual(r.messages, [42], 'the socket goes on after the bad payload');
    assert.equal(r.thrownCircular.kind, 'Encode');
    assert.match(r.thrownCircular.message, /cannot send an object as JSON/);
    assert.equal(r.thrownUndefined.name, 'TypeError');
    assert.match(r.thrownUndefined.message, /got undefined/);
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.deepEqual(s.messages.map((m) => m.t), ['{"a":1,"b":[true,null,"x"],"c":{"d":2.5}}', '"plain"', '42']);
  });

  test('binary round trip with both binaryType values, every binary send type, in order', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`, { binaryType: 'arraybuffer' });
      const got = [];
      ws.onmessage = (e) => got.push(e.data);
      const bytes = new Uint8Array(300).map((_, i) => (i * 7) & 255);
      ws.send(bytes.buffer);                                  // ArrayBuffer
      ws.send(new Uint8Array(bytes.buffer, 10, 5));           // a view with an offset
      ws.send(new DataView(bytes.buffer, 290));               // DataView
      ws.send(new Blob([new Uint8Array([9, 8, 7])]));         // Blob (read asynchronously)
      ws.send('after-blob');                                  // must stay after the Blob
      await until(() => got.length === 5);
      const first = got.map((d) => (typeof d === 'string' ? d : {
        isArrayBuffer: d instanceof ArrayBuffer, bytes: Array.from(new Uint8Array(d)).slice(0, 6), len: d.byteLength,
      }));
      const same = new Uint8Array(got[0]).every((b, i) => b === bytes[i]);
      ws.binaryType = 'blob';
      ws.send(new Uint8Array([0, 255, 128]));
      await until(() => got.length === 6);
      const blob = got[5];
      const blobBytes = Array.from(new Uint8Array(await blob.arrayBuffer()));
      const badType = thrown(() => { ws.binaryType = 'text'; });
      ws.close();
      return { first, same, isBlob: blob instanceof Blob, blobBytes, badType, binaryType: ws.binaryType };
    }, client('binary'));
    assert.equal(r.first.length, 5);
    assert.deepEqual(r.first[0], { isArrayBuffer: true, bytes: [0, 7, 14, 21, 28, 35], len: 300 });
    assert.ok(r.same, 'byte-exact');
    assert.deepEqual(r.first[1], { isArrayBuffer: true, bytes: [70, 77, 84, 91, 98], len: 5 });
    assert.equal(r.first[2].len, 10);
    assert.deepEqual(r.first[3], { isArrayBuffer: true, bytes: [9, 8, 7], len: 3 });
    assert.equal(r.first[4], 'after-blob');
    assert.ok(r.isBlob);
    assert.deepEqual(r.blobBytes, [0, 255, 128]);
    // As the browser's: an invalid value is ignored.
    assert.equal(r.badType, null);
    assert.equal(r.binaryType, 'blob');
  });
});

describe('listeners', () => {
  test('removeEventListener and onX = null stop delivery; order is registration order', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const calls = [];
      const a = (e) => calls.push(`a:${e.data}`);
      const b = { handleEvent: (e) => calls.push(`b:${e.data}`) };
      ws.addEventListener('message', a);
      ws.onmessage = (e) => calls.push(`on:${e.data}`);
      ws.addEventListener('message', b);
      ws.send('1');
      await nextEvent(ws, 'message', (e) => e.data === '1');
      ws.removeEventListener('message', a);
      ws.send('2');
      await nextEvent(ws, 'message', (e) => e.data === '2');
      ws.onmessage = null;
      ws.removeEventListener('message', b);
      ws.send('3');
      await nextEvent(ws, 'message', (e) => e.data === '3');
      const handler = ws.onmessage;
      const once = [];
      ws.addEventListener('message', (e) => once.push(e.data), { once: true });
      ws.send('4'); ws.send('5');
      await nextEvent(ws, 'message', (e) => e.data === '5');
      ws.close();
      return { calls, handler, once };
    }, client('listeners'));
    assert.deepEqual(r.calls, ['a:1', 'on:1', 'b:1', 'on:2', 'b:2']);
    assert.equal(r.handler, null);
    assert.deepEqual(r.once, ['4']);
  });

  test('event types are read as EventTarget reads them: any value to a string, a Symbol throws', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const plain = new EventTarget();
      const seen = [];
      const numbered = (e) => seen.push(`1:${e.type}`);
      ws.addEventListener(1, numbered);
      ws.dispatchEvent(new Event('1'));
      ws.removeEventListener(1, numbered);
      ws.dispatchEvent(new Event('1'));
      // Only listener for messages, registered under a type that converts to "message": the
      // message must reach it (not only onmessage's fast path).
      const typeObject = { toString: () => 'message' };
      ws.onmessage = (e) => seen.push(`on:${e.data}`);
      ws.addEventListener(typeObject, (e) => seen.push(`obj:${e.data}`));
      ws.send('m');
      await nextEvent(ws, 'message', (e) => e.data === 'm');
      const symbol = thrown(() => ws.addEventListener(Symbol('x'), numbered));
      const browserSymbol = thrown(() => plain.addEventListener(Symbol('x'), numbered));
      const noArguments = thrown(() => ws.addEventListener());
      const browserNoArguments = thrown(() => plain.addEventListener());
      const removeSymbol = thrown(() => ws.removeEventListener(Symbol('x'), numbered));
      const browserRemoveSymbol = thrown(() => plain.removeEventListener(Symbol('x'), numbered));
      ws.close();
      return { seen, symbol, browserSymbol, noArguments, browserNoArguments, removeSymbol, browserRemoveSymbol };
    }, client('types'));
    assert.deepEqual(r.seen, ['1:1', 'on:m', 'obj:m']);
    assert.equal(r.symbol.name, 'TypeError');
    assert.equal(r.symbol.name, r.browserSymbol.name);
    assert.deepEqual(r.removeSymbol, r.browserRemoveSymbol);
    assert.deepEqual(r.noArguments, r.browserNoArguments, 'addEventListener() throws as the browser does');
  });

  test('any value to any method or setter: an explained error or nothing, never a wasm trap', async () => {
    const r = await page.evaluate(async (id) => {
      const values = [undefined, null, 0, -1, 1.5, NaN, 1e300, 2 ** 53, '', 'x', true, Symbol('s'),
        10n, {}, [], [1, 'a'], () => 42, new Date(0), new Uint8Array(2), Object.create(null),
        { toString() { throw new Error('toString threw'); } }];
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const traps = [];
      const unexplained = [];
      const attempt = (what, f) => {
        try {
          const out = f();
          if (out && typeof out.catch === 'function') out.catch(() => {});
        } catch (e) {
          if (e instanceof WebAssembly.RuntimeError) traps.push(`${what}: ${e.message}`);
          else if (!(e instanceof Error) || !e.message) unexplained.push(`${what}: ${String(e)}`);
        }
      };
      const label = (v) => {
        try { return typeof v === 'symbol' ? 'Symbol' : `${typeof v}:${String(v).slice(0, 12)}`; } catch { return typeof v; }
      };
      for (const v of values) {
        const l = label(v);
        attempt(`new(${l})`, () => new ReSocket(v).close());
        attempt(`new(url, ${l})`, () => new ReSocket(`${wsBase}/ws/echo`, v).close());
        attempt(`new(url, [], ${l})`, () => new ReSocket(`${wsBase}/ws/echo`, [], v).close());
        // (A URL function keeps retrying in the background: not given to connect here.)
        if (typeof v !== 'function') attempt(`connect(${l})`, () => ReSocket.connect(v));
        attempt(`connect(url, ${l})`, () => ReSocket.connect(`${wsBase}/ws/echo`, v).then((s) => s.close()));
        attempt(`addEventListener(${l})`, () => ws.addEventListener(v, () => {}));
        attempt(`addEventListener(x, ${l})`, () => ws.addEventListener('x', v));
        attempt(`addEventListener(x, f, ${l})`, () => ws.addEventListener('x', () => {}, v));
        attempt(`removeEventListener(${l})`, () => ws.removeEventListener(v, () => {}));
        attempt(`dispatchEvent(${l})`, () => ws.dispatchEvent(v));
        attempt(`binaryType = ${l}`, () => { ws.binaryType = v; });
        for (const h of ['onopen', 'onmessage', 'onclose', 'onerror']) attempt(`${h} = ${l}`, () => { ws[h] = v; });
        // close() with an acceptable value closes: each gets a socket of its own.
        for (const [what, f] of [[`close(${l})`, (s) => s.close(v, 'r')], [`close(1000, ${l})`, (s) => s.close(1000, v)]]) {
          const s = new ReSocket(`${wsBase}/ws/echo`);
          attempt(what, () => f(s));
          s.close();
        }
      }
      // Every rejected call above left the socket as it was: it still echoes.
      ws.onmessage = null;
      ws.binaryType = 'blob';
      const echoed = nextEvent(ws, 'message', (e) => e.data === 'still here');
      for (const v of values) {
        if (typeof v !== 'string' && !ArrayBuffer.isView(v)) attempt(`send(${label(v)})`, () => ws.send(v));
      }
      ws.send('still here');
      const alive = (await echoed).data;
      ws.close();
      return { traps, unexplained, alive };
    }, client('anyvalue'));
    assert.deepEqual(r.traps, []);
    assert.deepEqual(r.unexplained, []);
    assert.equal(r.alive, 'still here');
  });

  test('inside on* handlers and listeners, `this` is the socket, as with WebSocket', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`);
      const seen = [];
      ws.onopen = function onopen() { seen.push(['open', this === ws]); this.send('x'); };
      // `onmessage` alone (the shortcut without a dispatch), then with a listener beside it.
      ws.onmessage = function onmessage(e) {
        seen.push(['message', this === ws, e.data]);
        if (e.data === 'x') {
          this.addEventListener('message', function listener() { seen.push(['listener', this === ws]); });
          this.send('y');
        } else {
          this.close(4000);
        }
      };
      ws.addEventListener('close', function listener() { seen.push(['close listener', this === ws]); });
      const closed = new Promise((resolve) => {
        ws.onclose = function onclose() { seen.push(['close', this === ws]); resolve(); };
      });
      // A handler whose `this` is wrong throws, and the socket never gets as far as closing.
      await Promise.race([closed, new Promise((resolve) => { setTimeout(resolve, 5000); })]);
      ws.close();
      return seen;
    }, client('this'));
    // (Where the close events fall against the second message listener is not this test's.)
    assert.deepEqual(r.slice(0, 3), [['open', true], ['message', true, 'x'], ['message', true, 'y']]);
    assert.deepEqual(r.slice(3).sort(), [['close', true], ['close listener', true], ['listener', true]].sort());
  });

  test('re-entrant calls from inside handlers work (no "recursive use of an object")', async () => {
    const r = await page.evaluate(async (id) => {
      const ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`);
      const seen = [];
      ws.addEventListener('statechange', () => seen.push(`${ws.state}/${ws.readyState}/${ws.stats.connects}`));
      ws.onopen = () => { ws.send('ping'); ws.send('ping2'); };
      ws.onmessage = (e) => {
        seen.push(e.data);
        if (e.data === 'ping2') { ws.reconnect(); }
        if (ws.stats.reconnects === 1 && e.data === 'ping') ws.close();
      };
      await nextEvent(ws, 'close', () => ws.state === 'closed');
      return { seen, state: ws.state };
    }, client('reentrant'));
    assert.equal(r.state, 'closed');
    assert.deepEqual(r.seen.filter((s) => !s.includes('/')), ['ping', 'ping2', 'ping']);
    assert.ok(r.seen.includes('open/1/1'));
    assert.ok(r.seen.includes('closed/3/2'));
  });

  test('onmessage alone gets the parsed value on a real MessageEvent; a throw is reported', async () => {
    const p = await esmPage();
    const r = await p.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`, { json: true });
      const got = [];
      ws.onmessage = (e) => {
        got.push({ data: e.data, isMessageEvent: e instanceof MessageEvent, type: e.type });
        if (e.data.n === 1) throw new Error('handler bug 2');
      };
      ws.send({ n: 1 }); ws.send({ n: 2 });
      await until(() => got.length === 2);
      ws.binaryType = 'blob';
      ws.send(new Uint8Array([5, 6]));
      await until(() => got.length === 3);
      const blob = got[2].data;
      ws.close();
      return { first: got.slice(0, 2), blob: blob instanceof Blob ? Array.from(new Uint8Array(await blob.arrayBuffer())) : null };
    }, client('direct'));
    assert.deepEqual(r.first, [
      { data: { n: 1 }, isMessageEvent: true, type: 'message' },
      { data: { n: 2 }, isMessageEvent: true, type: 'message' },
    ]);
    assert.deepEqual(r.blob, [5, 6]);
    assert.ok(p.errors.some((e) => e.includes('handler bug 2')), p.errors.join('\n'));
    await p.close();
  });

  test('the message path keeps its bookkeeping: stats, maxMessageBytes, heartbeat, iterators, listeners', async () => {
    const r = await page.evaluate(async (base) => {
      const run = async (options, id) => {
        const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`, { json: true, ...options });
        const got = [];
        const errors = [];
        ws.onmessage = (e) => got.push(e.data);
        ws.onerror = (e) => errors.push(e.error.kind);
        ws.send({ n: 1 }); ws.send('x'.repeat(40)); ws.send({ n: 3 });
        await until(() => got.length + errors.length === 3);
        // An iterator while onmessage is set: both see the next message, in order.
        const it = ws[Symbol.asyncIterator]();
        const next = it.next();
        ws.send({ n: 4 });
        const iterated = (await next).value;
        await until(() => got.length + errors.length === 4);
        await it.return();
        // A listener from now on: the handler runs from the dispatched event, once.
        const listened = [];
        ws.addEventListener('message', (e) => listened.push(e.data));
        ws.send({ n: 5 });
        await until(() => listened.length === 1 && got.length + errors.length === 5);
        const { messagesIn, bytesIn } = ws.stats;
        ws.close();
        return { got, errors, iterated, listened, messagesIn, bytesIn };
      };
      return {
        plain: await run({}, `${base}-plain`),
        limited: await run({ maxMessageBytes: 20 }, `${base}-limited`),
        heartbeat: await run({ heartbeat: { message: 'ping', interval: 60000, timeout: 60000 } }, `${base}-hb`),
      };
    }, client('path'));
    const all = [{ n: 1 }, 'x'.repeat(40), { n: 3 }, { n: 4 }, { n: 5 }];
    assert.deepEqual(r.plain, { got: all, errors: [], iterated: { n: 4 }, listened: [{ n: 5 }], messagesIn: 5, bytesIn: 7 * 4 + 42 });
    assert.deepEqual(r.heartbeat, r.plain);
    assert.deepEqual(r.limited.errors, ['MessageTooLarge']);
    assert.deepEqual(r.limited.got, [{ n: 1 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    assert.equal(r.limited.messagesIn, 5, 'the oversize message is counted too');
    assert.equal(r.limited.bytesIn, 7 * 4 + 42);
  });

  test('a throwing handler is reported, and delivery goes on', async () => {
    const p = await esmPage();
    const r = await p.evaluate(async (id) => {
      const ws = await ReSocket.connect(`${wsBase}/ws/echo?client=${id}`);
      const got = [];
      ws.onmessage = () => { throw new Error('handler bug'); };
      ws.addEventListener('message', (e) => got.push(e.data));
      ws.send('x'); ws.send('y');
      await until(() => got.length === 2);
      ws.close();
      return got;
    }, client('throwing'));
    assert.deepEqual(r, ['x', 'y']);
    assert.ok(p.errors.some((e) => e.includes('handler bug')), p.errors.join('\n'));
    await p.close();
  });
});

describe('bad input throws an error naming the value', () => {
  const cases = [
    [{ maxRetry: 3 }, 'TypeError', /unknown option "maxRetry" \(known: protocols, binaryType, json, minDelay/],
    [{ minDelay: -5 }, 'TypeError', /option "minDelay" must be a non-negative number of milliseconds, got -5/],
    [{ maxDelay: '1s' }, 'TypeError', /option "maxDelay" must be a non-negative number of milliseconds, got "1s"/],
    [{ minDelay: 1000, maxDelay: 500 }, 'TypeError', /option "maxDelay" must be >= minDelay \(1000 ms\), got 500/],
    [{ factor: 0.5 }, 'TypeError', /option "factor" must be a number >= 1, got 0.5/],
    [{ jitter: 'half' }, 'TypeError', /option "jitter" must be "full" \| "equal" \| "none", got "half"/],
    [{ maxRetries: 1.5 }, 'TypeError', /option "maxRetries" must be a non-negative integer .*got 1.5/],
    [{ maxRetries: -1 }, 'TypeError', /option "maxRetries" must be a non-negative integer .*got -1/],
    [{ stableAfter: NaN }, 'TypeError', /option "stableAfter" must be .*got NaN/],
    [{ connectTimeout: null }, 'TypeError', /option "connectTimeout" must be .*got null/],
    [{ shouldRetry: true }, 'TypeError', /option "shouldRetry" must be a function \(event\) => boolean, got true/],
    [{ outboxMessages: '10' }, 'TypeError', /option "outboxMessages" must be a non-negative integer .*got "10"/],
    [{ outboxBytes: 1e12 }, 'TypeError', /option "outboxBytes" must be a non-negative integer \(at most 4294967295\), got 1000000000000/],
    [{ overflow: 'drop' }, 'TypeError', /option "overflow" must be "reject" \| "drop-oldest" \| "drop-newest", got "drop"/],
    [{ heartbeat: { interval: 1000, timout: 5 } }, 'TypeError', /unknown option "heartbeat.timout"/],
    [{ heartbeat: { interval: -1 } }, 'TypeError', /option "heartbeat.interval" must be a non-negative number of milliseconds, got -1/],
    [{ heartbeat: { interval: 0 } }, 'TypeError', /option "heartbeat.interval" must be a positive number/],
    [{ heartbeat: { message: 5 } }, 'TypeError', /option "heartbeat.message" must be a string, got 5/],
    [{ heartbeat: 'on' }, 'TypeError', /option "heartbeat" must be an object, got "on"/],
    [{ highWaterMark: {} }, 'TypeError', /option "highWaterMark" must be .*got an object/],
    [{ maxMessageBytes: [] }, 'TypeError', /option "maxMessageBytes" must be .*got an array/],
    [{ secureOnly: 'yes' }, 'TypeError', /option "secureOnly" must be a boolean, got "yes"/],
    [{ jitterSeed: -2 }, 'TypeError', /option "jitterSeed" must be a non-negative integer/],
    [{ binaryType: 'text' }, 'TypeError', /option "binaryType" must be "blob" \| "arraybuffer", got "text"/],
    [{ json: 1 }, 'TypeError', /option "json" must be a boolean, got 1/],
    [{ protocols: 5 }, 'TypeError', /option "protocols" must be a string or an array of strings, got 5/],
    // Named by place, not value (a subprotocol may carry a token); DOMExceptions, as WebSocket's.
    [{ protocols: ['a b'] }, 'SyntaxError', /^invalid subprotocol \(number 1 in the list\): contains a character/],
    [{ protocols: ['chat', 'CHAT'] }, 'SyntaxError', /^invalid subprotocol \(number 2 in the list\): offered twice$/],
    [{ connectTimeout: 0 }, 'TypeError', /option "connectTimeout" must be a number of milliseconds of at least 4, got 0/],
    [{ connectTimeout: 3 }, 'TypeError', /option "connectTimeout" must be a number of milliseconds of at least 4, got 3/],
    [{ heartbeat: { timeout: 0 } }, 'TypeError', /option "heartbeat.timeout" must be a number of milliseconds of at least 4, got 0/],
  ];

  test('every option mistake is a TypeError naming the key, the expected type and the value', async () => {
    const results = await page.evaluate((cases) => cases.map((opts) => {
      // Rebuild values JSON cannot carry.
      if ('stableAfter' in opts) opts.stableAfter = NaN;
      return thrown(() => new ReSocket(`${wsBase}/ws/echo`, opts));
    }), cases.map(([opts]) => opts));
    results.forEach((r, i) => {
      const [opts, name, pattern] = cases[i];
      assert.ok(r, `no error for ${JSON.stringify(opts)}`);
      assert.equal(r.name, name, JSON.stringify(opts));
      assert.match(r.message, pattern, JSON.stringify(opts));
      assert.ok(r.isError);
      assert.equal(r.isDOMException, name === 'SyntaxError', JSON.stringify(opts));
    });
  });

  test('bad URLs, protocols, sends and close arguments', async () => {
    const r = await page.evaluate(() => {
      const ws = new ReSocket(`${wsBase}/ws/echo`);
      const out = {
        url: thrown(() => new ReSocket('ftp://example.com/')),
        notUrl: thrown(() => new ReSocket('ws://h:99999/')),
        urlType: thrown(() => new ReSocket(42)),
        // A stray third argument that is not an options object is ignored, as by WebSocket.
        stray: thrown(() => new ReSocket(`${wsBase}/ws/echo`, [], 'fast').close()),
        protocolsArg: thrown(() => new ReSocket(`${wsBase}/ws/echo`, 7)),
        // As the browser's: other values are sent as their string; a symbol has none.
        sendNumber: thrown(() => ws.send(42)),
        sendSymbol: thrown(() => ws.send(Symbol('s'))),
        // close() converts its arguments as the browser's ([Clamp] unsigned short, USVString).
        code: thrown(() => ws.close(1001)),
        codeType: thrown(() => ws.close('abc')),
        codeFraction: thrown(() => ws.close(2999.4)),
        codeHuge: thrown(() => ws.close(65536 + 1000)),
        reason: thrown(() => ws.close(1000, 'x'.repeat(124))),
        // A lone surrogate becomes U+FFFD: 3 bytes of UTF-8.
        reasonSurrogate: thrown(() => ws.close(1000, `${'x'.repeat(121)}\ud800`)),
        handler: thrown(() => { ws.onmessage = 'not a function'; }),
        handlerAfter: ws.onmessage,
        stillConnecting: ws.state,
      };
      ws.close();
      return out;
    });
    assert.equal(r.url.name, 'SyntaxError');
    assert.ok(r.url.isDOMException);
    assert.match(r.url.message, /scheme `ftp`/);
    assert.equal(r.notUrl.name, 'SyntaxError');
    assert.ok(r.notUrl.isDOMException);
    assert.equal(r.urlType.name, 'TypeError');
    assert.match(r.urlType.message, /url must be a string, a URL or a function .*got 42/);
    assert.equal(r.stray, null);
    assert.match(r.protocolsArg.message, /protocols must be a string or an array of strings, got 7/);
    assert.equal(r.sendNumber, null);
    assert.equal(r.sendSymbol.name, 'TypeError');
    for (const e of [r.code, r.codeType, r.codeFraction, r.codeHuge]) {
      assert.equal(e.name, 'InvalidAccessError');
      assert.ok(e.isDOMException);
      assert.equal(e.kind, 'InvalidCloseCode');
    }
    assert.match(r.code.message, /close code must be 1000 or an integer in 3000-4999, got 1001/);
    assert.match(r.codeType.message, /got "abc" \(0\)/);
    assert.match(r.codeFraction.message, /got 2999.4 \(2999\)/);
    assert.match(r.codeHuge.message, /got 66536 \(65535\)/);
    for (const e of [r.reason, r.reasonSurrogate]) {
      assert.equal(e.name, 'SyntaxError');
      assert.ok(e.isDOMException);
      assert.equal(e.kind, 'ReasonTooLong');
      assert.match(e.message, /close reason is 124 UTF-8 bytes long; at most 123 are allowed/);
    }
    assert.equal(r.handler, null, 'a non-function handler counts as null');
    assert.equal(r.handlerAfter, null);
    assert.equal(r.stillConnecting, 'connecting', 'a rejected close() closes nothing');
  });
});

describe('package', () => {
  test('no console errors on the fixture page but the browser\'s own failed-connection logs', () => {
    const expected = /WebSocket connection to '.*' failed/;
    assert.deepEqual(page.errors.filter((e) => !expected.test(e)), []);
  });
});
