// The dashboard's resume switch, as `npm start` serves it: with resume on, the feed runs with
// `{ resume: true }` against /ws/resume (the ticker's market in a resumable session that keeps
// ticking while the page is away) and the chaos buttons (drop, refuse, server close codes,
// silence) cost nothing: the page's gap count and missed ticks stay 0, and every message of the
// session reaches the page once and in order (checked by a listener of the test's own beside
// the page's counters), the ticks of each outage replayed after it. With resume off again, the
// plain feed loses the ticks of a drop and the page counts them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getJson, launchBrowser, newPage, startServer, until } from './harness.mjs';

const CLIENT = `dash-resume-e2e-${process.pid}`;

let server;
let browser;
let page;

// Chromium logs refused handshakes (the "refuse" fault) as console errors of its own.
const pageErrors = (p) => p.errors.filter((e) => !/WebSocket connection to '.*' failed/.test(e));
const text = (id) => page.locator(`#${id}`).textContent();
const num = async (id) => Number(await text(id));
const stats = () => getJson(`${server.http}/stats?client=${CLIENT}`);
const logEntries = (kind) => page.locator(`#log li[data-kind="${kind}"] .msg`).allTextContents();

async function waitState(state, timeout = 10_000) {
  await page.waitForSelector(`#state-badge[data-state="${state}"]`, { timeout });
}

/** Waits until `n` more ticks than now have arrived. */
async function ticksAdvance(n, timeout = 5_000) {
  const start = await num('ticks-received');
  await page.waitForFunction(([s, k]) => Number(document.getElementById('ticks-received').textContent) >= s + k,
    [start, n], { timeout });
}

/**
 * Clicks the resume switch and keeps the test's own record of the new socket, from its start:
 * every app message it delivers, counted, and each tick's seq checked against the count (the
 * session numbers every message). The click makes the socket synchronously (a `change`
 * listener), so nothing is missed.
 */
async function watchSession() {
  await page.evaluate(() => {
    document.getElementById('resume-switch').click();
    if (!window.dashboard.app.resume) throw new Error('the switch did not turn resume on');
    const w = { count: 0, ticks: 0, breaks: [], resumed: [] };
    window.sessionWatch = w;
    const socket = window.dashboard.socket;
    socket.addEventListener('message', (e) => {
      w.count += 1;
      if (e.data?.type !== 'tick') return;
      w.ticks += 1;
      if (e.data.seq !== w.count) w.breaks.push({ seq: e.data.seq, count: w.count });
    });
    socket.addEventListener('resumed', (e) => w.resumed.push(e.detail));
    socket.addEventListener('gap', (e) => w.breaks.push({ gap: e.detail }));
    socket.addEventListener('reset', (e) => w.breaks.push({ reset: e.detail }));
  });
}

const watched = () => page.evaluate(() => window.sessionWatch);

/** A chaos press while ticks flow; waits for the reconnect, the open and new ticks. */
async function chaos(press) {
  const reconnects = await num('reconnects');
  const before = (await watched()).ticks;
  await press();
  await page.waitForFunction((n) => Number(document.getElementById('reconnects').textContent) > n, reconnects,
    { timeout: 12_000 });
  await waitState('open', 12_000);
  await page.waitForFunction((n) => window.sessionWatch.ticks >= n + 10, before, { timeout: 5_000 });
  assert.equal(await text('gaps'), '0', 'the gap count stays 0');
  assert.equal(await text('ticks-missed'), '0');
  assert.deepEqual((await watched()).breaks, [], 'every tick carries its number in the session');
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${server.http}/?client=${CLIENT}`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('dashboard resume switch', () => {
  test('resume on: the chaos buttons cost no tick; the gap count stays 0 and ticks arrive in order', async () => {
    await waitState('open');
    await ticksAdvance(10);
    assert.equal(await text('feed'), 'plain');
    assert.equal(await page.isChecked('#resume-switch'), false);

    await watchSession(); // switches resume on and watches the new socket from its start
    assert.equal(await page.isChecked('#resume-switch'), true);
    await waitState('open');
    assert.equal(await text('feed'), 'resume');
    // The switch opens the new socket before it closes the old one (the page's choice: the old
    // feed's close is no outage of the new one), so the two may overlap for a moment. Once the
    // old one is gone, the server's count starts again: the chaos below must never make two.
    await until('the plain socket closed', async () => (await stats()).current_connections === 1);
    await getJson(`${server.http}/control/reset`);
    assert.match(page.url(), /[?&]resume=1/);
    await page.waitForFunction(() => window.sessionWatch.ticks >= 20, null, { timeout: 5_000 });
    assert.ok((await logEntries('state')).some((m) => m.startsWith('resume on: a new ReSocket')));
    // The market table is fed by the resumed session like by the plain ticker.
    for (const price of await page.locator('#market-rows td.last').allTextContents()) {
      assert.match(price, /^\d{1,3}(,\d{3})*\.\d\d$/);
    }

    await chaos(() => page.click('#chaos-drop'));
    await chaos(async () => {
      await page.selectOption('#close-code', '1011');
      await page.click('#chaos-close');
    });
    await chaos(() => page.click('#chaos-drop'));
    await chaos(async () => {
      await page.selectOption('#close-code', '1012'); // a server close frame, retried
      await page.click('#chaos-close');
    });
    const refusedFrom = Date.now();
    await chaos(() => page.click('#chaos-refuse'));
    assert.ok(Date.now() - refusedFrom >= 4_500, 'the refusal held the page off for its 5 s');
    await chaos(() => page.click('#chaos-drop'));
    // "Go silent" does nothing on /ws/resume: the ticks go on, nothing to count.
    await page.click('#chaos-silence');
    await page.waitForFunction((n) => window.sessionWatch.ticks >= n + 20, (await watched()).ticks, { timeout: 5_000 });

    const w = await watched();
    assert.deepEqual(w.breaks, []);
    assert.equal(w.resumed.length, 7, `one resumed event per open: ${JSON.stringify(w.resumed)}`);
    assert.equal(w.resumed[0].resumed, false, 'the first open starts the session');
    assert.ok(w.resumed.slice(1).every((r) => r.resumed), `every reconnect resumed: ${JSON.stringify(w.resumed)}`);
    // The session kept ticking while the page was away: the refusal alone is 5 s, ~100 ticks.
    const replayed = w.resumed.reduce((sum, r) => sum + r.replayed, 0);
    assert.ok(replayed >= 80, `ticks of the outages replayed: ${replayed}`);
    assert.equal(await text('gaps'), '0');
    assert.equal(await text('ticks-missed'), '0');
    assert.ok((await logEntries('resume')).some((m) => /^session resumed: \d+ server messages? replayed/.test(m)));
    // The page counted the same messages as the test's listener (read in one go: ticks flow).
    const [count, pageCount] = await page.evaluate(() => [window.sessionWatch.count, window.dashboard.app.sessionCount]);
    assert.equal(pageCount, count);

    const s = await stats();
    assert.equal(s.max_concurrent, 1, 'one socket at a time');
    assert.ok(s.refused >= 1);
    assert.deepEqual(pageErrors(page), []);
  });

  test('resume off: the plain feed loses the ticks of a drop, and the gap count shows it', async () => {
    await page.uncheck('#resume-switch');
    await page.waitForFunction(() => !window.dashboard.app.resume);
    await waitState('open');
    assert.equal(await text('feed'), 'plain');
    assert.doesNotMatch(page.url(), /resume=/);
    await ticksAdvance(10);
    assert.equal(await text('gaps'), '0', 'counted from 0 for the new feed');

    const before = await page.evaluate(() => window.dashboard.app.lastSeq);
    await page.click('#chaos-drop');
    await page.waitForFunction(() => window.dashboard.app.lastOutage !== null, null, { timeout: 8_000 });
    const outage = await page.evaluate(() => window.dashboard.app.lastOutage);
    // The ticker's clock ran on while the page was away (equal jitter: at least 150 ms, 3 ticks
    // at 20/s): those ticks are gone, and the page says how many.
    assert.ok(outage.missed > 0, `ticks lost: ${outage.missed}`);
    assert.ok(outage.from > before);
    await page.waitForFunction(() => document.getElementById('gaps').textContent === '1', null, { timeout: 1_000 });
    assert.equal(await num('ticks-missed'), outage.missed);
    assert.ok(await page.locator('#gaps').evaluate((el) => el.classList.contains('has-missed')));
    assert.deepEqual(pageErrors(page), []);
  });

  test('?resume=1 opens the page with resume on', async () => {
    const other = await newPage(browser);
    try {
      await other.goto(`${server.http}/?client=${CLIENT}-url&resume=1`);
      await other.waitForSelector('#state-badge[data-state="open"]', { timeout: 10_000 });
      assert.equal(await other.isChecked('#resume-switch'), true);
      assert.equal(await other.locator('#feed').textContent(), 'resume');
      await other.waitForFunction(() => Number(document.getElementById('ticks-received').textContent) >= 10, null, { timeout: 5_000 });
      assert.equal(await other.locator('#gaps').textContent(), '0');
      const s = await getJson(`${server.http}/stats?client=${CLIENT}-url`);
      assert.equal(s.current_connections, 1);
      assert.deepEqual(pageErrors(other), []);
    } finally {
      await other.close();
    }
  });
});
