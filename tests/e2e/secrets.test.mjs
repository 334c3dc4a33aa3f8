// Issue 18: nothing secret leaves the library. A marker is planted in every place that may
// hold a secret (a URL's query string, userinfo and fragment, a subprotocol, a message payload,
// a ping) and the page is driven through every path that reports something: constructor and
// send() exceptions, error/close/statechange/reconnecting events, the url getter, the URL
// function's failures, decode and size errors, and console lines. The marker must appear in
// none of them. The only exception is the browser's own console line for a failed connection
// ("WebSocket connection to '<full URL>' failed"), which the browser writes, not the library.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, launchBrowser, newPage, startServer } from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');
const MARKER = 'Zq7SECRETzq7';

let server;
let browser;

before(async () => {
  server = await startServer({ statics: [`/fixtures=${FIXTURES}`] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('no secret in any error, event, url or console line', async () => {
  const page = await newPage(browser);
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(e.message));
  await page.goto(`${server.http}/fixtures/esm.html`);
  await page.waitForFunction(() => window.ready === true);

  const seen = await page.evaluate(async (M) => {
    const seen = []; // everything the library reported, as text
    const record = (what, value) => {
      try {
        seen.push(`${what}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
      } catch {
        seen.push(`${what}: ${String(value)}`);
      }
    };
    const describeError = (e) => ({
      name: e?.name, message: e?.message, kind: e?.kind, text: String(e), stack: e?.stack,
    });
    const tryThrow = (what, f) => {
      try {
        const r = f();
        record(`${what} returned`, r?.url ?? r);
        return r;
      } catch (e) {
        record(`${what} threw`, describeError(e));
        return null;
      }
    };
    // Every event of a socket, with everything it carries.
    const watch = (what, ws) => {
      for (const type of ['open', 'message', 'close', 'error', 'statechange', 'reconnecting',
        'offline', 'outboxoverflow', 'heartbeattimeout']) {
        ws.addEventListener(type, (e) => {
          record(`${what} ${type}`, {
            code: e.code, reason: e.reason, message: e.message, detail: e.detail,
            error: e.error && describeError(e.error),
          });
          record(`${what} url during ${type}`, ws.url);
        });
      }
      record(`${what} url`, ws.url);
      return ws;
    };
    const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
    const host = location.host;
    const fast = { minDelay: 20, maxDelay: 50 };

    // URLs: userinfo and query on a working socket; fragment, scheme, port and parse errors.
    const good = watch('good', new ReSocket(
      `ws://user:${M}@${host}/ws/echo?token=${M}`, { ...fast, json: true, maxMessageBytes: 64 },
    ));
    tryThrow('fragment', () => new ReSocket(`ws://${host}/ws/echo#${M}`));
    tryThrow('scheme', () => new ReSocket(`ftp://${host}/?token=${M}`));
    tryThrow('scheme in query', () => new ReSocket(`/feed?token=${M}&next=https://app`, { secureOnly: true }));
    tryThrow('insecure', () => new ReSocket(`ws://example.invalid/?token=${M}`, { secureOnly: true }));
    tryThrow('port in password', () => new ReSocket(`wss://user:pa/${M}@host/`));
    tryThrow('hash in password', () => new ReSocket(`wss://user:p#${M}@host/`));
    tryThrow('broken host', () => new ReSocket(`ws://[${M}/`));
    // Subprotocols: invalid, duplicated (in another case), and as options.
    tryThrow('bad protocol', () => new ReSocket(`ws://${host}/ws/echo`, [`bearer ${M}`]));
    tryThrow('dup protocol', () => new ReSocket(`ws://${host}/ws/echo`, [M, M.toUpperCase()]));
    tryThrow('bad protocol option', () => new ReSocket(`ws://${host}/ws/echo`, { protocols: [`${M}/x`] }));
    // A ping payload next to a bad option.
    tryThrow('heartbeat', () => new ReSocket(`ws://${host}/ws/echo`, { heartbeat: { message: M, interval: -1 } }));

    await new Promise((resolve) => { good.addEventListener('open', resolve, { once: true }); });
    // Payloads: a value JSON.stringify refuses through a toJSON() that names the secret, and
    // one whose error would name a property.
    tryThrow('encode', () => good.send({ toJSON() { throw new Error(M); } }));
    tryThrow('encode circular', () => { const o = { [M]: 1 }; o.self = o; good.send(o); });
    // A ping that is not JSON, echoed back to a JSON-mode socket: a decode error.
    watch('ping', new ReSocket(`ws://${host}/ws/echo?token=${M}`, {
      ...fast, json: true, heartbeat: { message: `${M} ping`, interval: 50, timeout: 2000 },
    }));
    // A message over maxMessageBytes: a size error.
    const big = watch('big', new ReSocket(`ws://${host}/ws/echo?token=${M}`, { ...fast, maxMessageBytes: 8 }));
    big.send(`${M}${M}`);
    await sleep(300);

    // A URL function that fails in every way, naming the secret in its URL.
    const fromFn = watch('function', new ReSocket(() => `ftp://${host}/?token=${M}`, { ...fast, maxRetries: 0 }));
    const fromFnRel = watch('function fragment', new ReSocket(() => `ws://${host}/ws/echo#${M}`, { ...fast, maxRetries: 0 }));
    // An unreachable server with the secret in the query string: ConnectFailed, retries.
    const down = watch('down', new ReSocket(`ws://127.0.0.1:9/?token=${M}`, { ...fast, maxRetries: 1 }));
    await sleep(800);
    for (const ws of [good, big, fromFn, fromFnRel, down]) {
      record('state', ws.state);
      record('stats', ws.stats);
      record('close() returned', ws.close(4000, 'bye'));
    }
    await sleep(50);
    return seen;
  }, MARKER);

  // The test must have seen the paths it means to check.
  const text = seen.join('\n');
  for (const expected of ['fragment threw', 'bad protocol threw', 'dup protocol threw', 'encode threw',
    'ping error', 'big error', 'function error', 'down error', 'good url']) {
    assert.ok(text.includes(expected), `no "${expected}" recorded:\n${text}`);
  }
  assert.match(text, /could not decode text message/, 'a decode error was reported');
  assert.match(text, /exceeds the limit/, 'a size error was reported');
  const leaks = seen.filter((line) => line.toLowerCase().includes(MARKER.toLowerCase()));
  assert.deepEqual(leaks, [], 'the marker leaked');
  const ownLines = consoleLines.filter((line) => !/^WebSocket connection to '.*' failed/.test(line));
  const consoleLeaks = ownLines.filter((line) => line.toLowerCase().includes(MARKER.toLowerCase()));
  assert.deepEqual(consoleLeaks, [], 'the marker leaked into a console line');
  await page.close();
});
