// The Leptos and Yew example apps (examples/, built by scripts/build-examples.sh into
// target/example-apps/) in headless Chromium against the real server:
// - each component mounts and shows live data from the server;
// - a forced drop (no close frame) shows a reconnect in the UI, and data flows again;
// - send works (Leptos: a ticker subscription; Yew: chat lines, queued in the outbox while the
//   server refuses reconnects, delivered exactly once after);
// - unmounting closes the connection (server stats: no current connection, the client's
//   close 1000 "unmounted") and removes every resocket listener (resocket::live_listeners()).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startServer, launchBrowser, newPage, getJson, until } from './harness.mjs';

const APPS = path.join(ROOT, 'target', 'example-apps');
const LEPTOS = path.join(APPS, 'leptos-ticker');
const YEW = path.join(APPS, 'yew-chat');

let server;
let browser;
before(async () => {
  for (const dir of [LEPTOS, YEW]) {
    if (!existsSync(path.join(dir, 'app_bg.wasm'))) {
      throw new Error(`${dir} is not built: run bash scripts/build-examples.sh`);
    }
  }
  server = await startServer({ statics: [`/leptos=${LEPTOS}`, `/yew=${YEW}`] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const stats = (client) => getJson(`${server.http}/stats?client=${client}`);
const control = (verb) => getJson(`${server.http}/control/${verb}`);

/** Records every class the #state badge takes from now on, in `window.stateLog`. */
async function recordStates(page) {
  await page.evaluate(() => {
    const badge = document.getElementById('state');
    window.stateLog = [badge.className];
    new MutationObserver(() => {
      const now = document.getElementById('state')?.className;
      if (now && now !== window.stateLog.at(-1)) window.stateLog.push(now);
    }).observe(badge.parentElement, { subtree: true, attributes: true, childList: true, characterData: true });
  });
}

/** Page errors, less the browser's own log line for each upgrade the server refused on purpose. */
const appErrors = (page) => page.errors.filter((e) => !/WebSocket connection to .* failed: .*response code: 503/.test(e));

const text = (page, selector) => page.locator(selector).textContent();
const number = async (page, selector) => Number(await text(page, selector));

/** After unmount: no socket on the server, the client's own close, no listener in the page. */
async function assertUnmountCloses(page, client) {
  await page.click('#toggle');
  await page.waitForSelector('#unmounted', { timeout: 5_000 });
  const s = await until('the server to see the socket close', async () => {
    const s = await stats(client);
    return s.current_connections === 0 ? s : null;
  });
  const last = s.closes.at(-1);
  assert.equal(last.code, 1000, `close frame sent on unmount: ${JSON.stringify(s.closes)}`);
  assert.equal(last.reason, 'unmounted');
  await page.waitForFunction(() => document.getElementById('listeners').textContent === '0', null, { timeout: 5_000 });
  return s;
}

test('Leptos ticker: live ticks, reconnect after a forced drop, send, unmount closes', async () => {
  const client = `leptos-${Date.now()}`;
  const page = await newPage(browser);
  await page.goto(`${server.http}/leptos/?client=${client}`);

  // Mounts and receives live data.
  await page.waitForSelector('#state.open', { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelectorAll('#board .row').length >= 3, null, { timeout: 10_000 });
  await page.waitForFunction(() => Number(document.getElementById('count').textContent) >= 5, null, { timeout: 10_000 });
  assert.match(await text(page, '#last'), /^#\d+ (BTC|ETH|SOL) \d+\.\d\d$/);
  // The footer polls live_listeners() every 100 ms: wait for a poll after the socket existed.
  await page.waitForFunction(() => Number(document.getElementById('listeners').textContent) > 0,
    null, { timeout: 5_000 }).catch(() => {});
  assert.ok(await number(page, '#listeners') > 0, 'the mounted socket has listeners');
  assert.equal(await number(page, '#reconnects'), 0);
  let s = await stats(client);
  assert.equal(s.current_connections, 1);

  // A forced drop: the badge leaves `open`, goes through `reconnecting`, comes back; ticks resume.
  await recordStates(page);
  const seqBefore = Number(await page.locator('#board .row').first().getAttribute('data-seq'));
  const countBefore = await number(page, '#count');
  assert.equal((await control(`drop?client=${client}`)).dropped, 1);
  await page.waitForFunction(() => Number(document.getElementById('reconnects').textContent) === 1, null, { timeout: 10_000 });
  await page.waitForSelector('#state.open', { timeout: 10_000 });
  const states = await page.evaluate(() => window.stateLog);
  assert.ok(states.includes('reconnecting'), `badge showed reconnecting: ${states}`);
  assert.equal(states.at(-1), 'open', `badge back to open: ${states}`);
  await page.waitForFunction(
    (n) => Number(document.getElementById('count').textContent) >= n + 5, countBefore, { timeout: 10_000 });
  await page.waitForFunction(
    (seq) => [...document.querySelectorAll('#board .row')].some((r) => Number(r.dataset.seq) > seq + 3),
    seqBefore, { timeout: 10_000 });
  s = await stats(client);
  assert.equal(s.total_connections, 2);
  assert.equal(s.current_connections, 1);
  assert.equal(s.max_concurrent, 1, 'never two sockets at once');
  assert.equal(s.closes[0].code, null, 'the drop had no close frame');

  // send on the reconnected socket: subscribe to XRP, whose ticks then fill a new row.
  await page.fill('#symbol', 'xrp');
  await page.click('#subscribe');
  await page.waitForSelector('#board .row[data-symbol="XRP"]', { timeout: 10_000 });
  s = await stats(client);
  assert.deepEqual(s.messages.map((m) => JSON.parse(m.t)), [{ type: 'subscribe', symbols: ['XRP'] }]);

  // Unmount: socket closed by the client, nothing left listening; no reconnect afterwards.
  s = await assertUnmountCloses(page, client);
  assert.equal(s.total_connections, 2);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await stats(client)).total_connections, 2, 'no attempt after unmount');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('Yew chat: send and receive, outbox while disconnected, reconnect, unmount closes', async () => {
  const stamp = Date.now();
  const room = `room${stamp}`;
  const alice = `alice-${stamp}`;
  const bob = `bob-${stamp}`;
  const page = await newPage(browser);
  await page.goto(`${server.http}/yew/?client=${alice}&room=${room}`);
  await page.waitForSelector('#state.open', { timeout: 10_000 });
  await page.waitForSelector('#log .presence', { timeout: 10_000 });
  assert.match(await text(page, '#log .presence'), new RegExp(`^${alice} joined \\(1 online\\)$`));
  // The footer polls live_listeners() every 100 ms: wait for a poll after the socket existed.
  await page.waitForFunction(() => Number(document.getElementById('listeners').textContent) > 0,
    null, { timeout: 5_000 }).catch(() => {});
  assert.ok(await number(page, '#listeners') > 0, 'the mounted socket has listeners');

  // A second participant, to receive from someone else.
  const other = await newPage(browser);
  await other.goto(`${server.http}/yew/?client=${bob}&room=${room}`);
  await other.waitForSelector('#state.open', { timeout: 10_000 });

  const say = async (p, line) => {
    await p.fill('#text', line);
    await p.click('#send');
  };
  const shows = (p, line) => p.waitForFunction(
    (l) => [...document.querySelectorAll('#log .chat')].some((li) => li.textContent.endsWith(`: ${l}`)),
    line, { timeout: 15_000 });
  await say(page, 'hello from alice');
  await shows(page, 'hello from alice');
  await shows(other, 'hello from alice');
  await say(other, 'hi alice');
  await shows(page, 'hi alice');
  assert.equal(await text(page, '#log .chat:last-child'), `${bob}: hi alice`);

  // Forced drop with reconnects refused for a while: the badge leaves `open`, a line sent
  // meanwhile waits in the outbox (shown), then goes out once on the next connection.
  await recordStates(page);
  await control(`refuse?ms=2500&client=${alice}`);
  assert.equal((await control(`drop?client=${alice}`)).dropped, 1);
  await page.waitForSelector('#state:not(.open)', { timeout: 5_000 });
  await say(page, 'sent while offline');
  await page.waitForSelector('#outbox.pending', { timeout: 2_000 });
  assert.equal(await text(page, '#outbox'), '1 message(s) waiting for the connection');
  assert.equal(await page.inputValue('#text'), '', 'accepted into the outbox');
  await page.waitForSelector('#state.open', { timeout: 15_000 });
  await shows(page, 'sent while offline');
  await shows(other, 'sent while offline');
  await page.waitForSelector('#outbox:not(.pending)', { timeout: 5_000 });
  assert.ok(await number(page, '#reconnects') >= 1);
  const states = await page.evaluate(() => window.stateLog);
  assert.ok(states.includes('reconnecting'), `badge showed reconnecting: ${states}`);
  assert.equal(states.at(-1), 'open');

  let s = await stats(alice);
  const sent = s.messages.map((m) => JSON.parse(m.t));
  assert.deepEqual(sent, [
    { type: 'chat', text: 'hello from alice' },
    { type: 'chat', text: 'sent while offline' },
  ], 'each line reached the server exactly once, in order');
  assert.equal(s.max_concurrent, 1, 'never two sockets at once');
  assert.ok(s.refused >= 1, 'reconnects were refused during the outage');

  // Unmount: alice's socket closes (bob sees her leave), nothing left listening.
  await assertUnmountCloses(page, alice);
  await other.waitForFunction(
    (name) => [...document.querySelectorAll('#log .presence')].some((li) => li.textContent.startsWith(`${name} left`)),
    alice, { timeout: 5_000 });
  s = await stats(bob);
  assert.equal(s.current_connections, 1, 'the other participant is unaffected');
  assert.deepEqual(appErrors(page), []);
  assert.deepEqual(other.errors, []);
  await other.close();
  await page.close();
});
