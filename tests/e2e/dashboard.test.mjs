// The live dashboard as `npm start` serves it (www/dist at /, against the real server): ticks
// flow into the market table and chart; the chaos panel's faults (drop, silence, refuse, server
// close codes) show up in the connection panel and the event log, and the page recovers from
// each; a subscription clicked while the link is down waits in the outbox and applies after the
// reconnect. Saves target/e2e/dashboard.png (desktop) and dashboard-360.png (a phone).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, getJson, launchBrowser, newPage, startServer } from './harness.mjs';

const OUT = path.join(ROOT, 'target', 'e2e');
const CLIENT = `dash-e2e-${process.pid}`;

let server;
let browser;
let page;

// Chromium logs refused handshakes (the "refuse" fault) as console errors of its own.
const pageErrors = (p) => p.errors.filter((e) => !/WebSocket connection to '.*' failed/.test(e));

const text = (id) => page.locator(`#${id}`).textContent();
const num = async (id) => Number(await text(id));
const stats = (client = CLIENT) => getJson(`${server.http}/stats?client=${client}`);
/** The page's own state (window.dashboard.app). */
const lastOutage = () => page.evaluate(() => window.dashboard.app.lastOutage);

async function waitState(state, timeout = 10_000) {
  await page.waitForSelector(`#state-badge[data-state="${state}"]`, { timeout });
}

/** Waits until `n` more ticks than now have arrived. */
async function ticksAdvance(n, timeout = 5_000) {
  const start = await num('ticks-received');
  await page.waitForFunction(([s, k]) => Number(document.getElementById('ticks-received').textContent) >= s + k,
    [start, n], { timeout });
}

/** Records every text the state badge shows from now on into window.badgeTexts. */
async function watchBadge() {
  await page.evaluate(() => {
    window.badgeTexts = [];
    const badge = document.getElementById('state-badge');
    window.badgeObserver?.disconnect();
    window.badgeObserver = new MutationObserver(() => window.badgeTexts.push(badge.textContent));
    window.badgeObserver.observe(badge, { childList: true, characterData: true, subtree: true });
  });
}

async function logEntries(kind) {
  return page.locator(`#log li[data-kind="${kind}"] .msg`).allTextContents();
}

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
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

describe('dashboard', () => {
  test('shows live ticks from the server: table, sparklines, chart, rates and round trip', async () => {
    await waitState('open');
    assert.equal(await text('state-badge'), 'Open');
    assert.equal(await text('client-id'), CLIENT);
    await ticksAdvance(30);
    const rows = page.locator('#market-rows tr');
    assert.deepEqual(await rows.evaluateAll((rs) => rs.map((r) => r.dataset.symbol)), ['BTC', 'ETH', 'SOL', 'ADA', 'DOT']);
    for (const price of await page.locator('#market-rows td.last').allTextContents()) {
      assert.match(price, /^\d{1,3}(,\d{3})*\.\d\d$/);
    }
    for (const change of await page.locator('#market-rows td.change').allTextContents()) {
      assert.match(change, /^[+-]\d+\.\d\d%$/);
    }
    const spark = await page.locator('#market-rows tr[data-symbol="BTC"] polyline').getAttribute('points');
    assert.ok(spark.split(' ').length >= 3, `sparkline drawn: ${spark}`);
    // The table shows what the server sent: the last BTC price is a real tick's price.
    const lastBtc = await page.evaluate(() => window.dashboard.app.data.get('BTC').last);
    assert.ok(lastBtc > 0);

    // The rate and round trip, from the page's counters and ping/pong.
    await page.waitForFunction(() => Number(document.getElementById('rate').textContent) >= 10, null, { timeout: 3_000 });
    await page.waitForFunction(() => /^\d+\.\d ms$/.test(document.getElementById('rtt').textContent), null, { timeout: 3_000 });
    assert.equal(await text('ticks-missed'), '0', 'contiguous seqs while connected');
    assert.equal(await text('outbox'), '0');
    assert.equal(await text('reconnects'), '0');

    // The chart: a uPlot canvas for the selected symbol; a click on a row selects another.
    assert.equal(await text('chart-symbol'), 'BTC');
    assert.equal(await page.locator('#chart canvas').count(), 1);
    await page.locator('#market-rows tr[data-symbol="ETH"]').click();
    assert.equal(await text('chart-symbol'), 'ETH');
    assert.ok(await page.locator('#market-rows tr[data-symbol="ETH"]').evaluate((r) => r.classList.contains('selected')));
    const chartPoints = await page.evaluate(() => window.dashboard.app.data.get('ETH').xs.length);
    assert.ok(chartPoints >= 3, `chart data: ${chartPoints} points`);

    const s = await stats();
    assert.equal(s.total_connections, 1);
    assert.equal(s.current_connections, 1);
    assert.deepEqual(pageErrors(page), []);
  });

  test('"drop connection": Reconnecting in N s, then Open; ticks resume within the backoff and the gap is counted', async () => {
    const config = await page.evaluate(() => window.dashboard.config.socket);
    await watchBadge();
    const before = await page.evaluate(() => ({ lastSeq: window.dashboard.app.lastSeq, missed: window.dashboard.app.ticksMissed }));
    const t0 = Date.now();
    await page.click('#chaos-drop');
    await page.waitForFunction(() => document.getElementById('reconnects').textContent === '1', null, { timeout: 5_000 });
    await waitState('open');
    await page.waitForFunction(() => window.dashboard.app.lastOutage !== null, null, { timeout: 5_000 });
    const outage = await lastOutage();
    const resumedAfter = outage.at - t0;
    assert.ok(resumedAfter < config.maxDelay, `ticks resumed ${resumedAfter} ms after the drop (maxDelay ${config.maxDelay})`);

    const badges = await page.evaluate(() => window.badgeTexts);
    const reconnecting = badges.findIndex((t) => /^Reconnecting in \d+\.\d s$/.test(t));
    assert.ok(reconnecting >= 0, `the badge showed the countdown: ${JSON.stringify(badges)}`);
    assert.ok(badges.slice(reconnecting).includes('Open'), `then Open: ${JSON.stringify(badges)}`);

    // What the drop cost: the seqs skipped, shown in the panel and the log.
    assert.ok(outage.missed > 0, 'ticks were missed while down');
    assert.ok(outage.from > before.lastSeq, 'the gap starts after the last tick seen before the drop');
    assert.equal(outage.to - outage.from + 1, outage.missed);
    await page.waitForFunction((n) => Number(document.getElementById('ticks-missed').textContent) === n,
      before.missed + outage.missed, { timeout: 1_000 });
    assert.match(await text('last-outage'), new RegExp(`without data, ${outage.missed} ticks? missed$`));
    assert.ok((await logEntries('gap')).some((m) => m.includes(`${outage.missed} tick`)));
    assert.ok((await logEntries('close')).some((m) => m.includes('code 1006')));
    await ticksAdvance(10);

    const s = await stats();
    assert.equal(s.total_connections, 2);
    assert.equal(s.max_concurrent, 1);
    assert.deepEqual(pageErrors(page), []);
  });

  test('"go silent": the heartbeat declares the link dead before the silence ends, and the page recovers', async () => {
    const t0 = Date.now();
    await page.click('#chaos-silence');
    await page.waitForSelector('#heartbeat[data-timeouts="1"]', { timeout: 8_000 });
    const detectedAfter = Date.now() - t0;
    // interval 2000 + timeout 1500: detected after ~3.5 s, before the 5 s silence would end.
    assert.ok(detectedAfter >= 3_000 && detectedAfter < 5_000, `heartbeat timeout after ${detectedAfter} ms`);
    assert.ok((await logEntries('heartbeat')).some((m) => m.startsWith('heartbeat timeout')));
    await page.waitForFunction(() => document.getElementById('reconnects').textContent === '2', null, { timeout: 5_000 });
    await waitState('open');
    await ticksAdvance(10);
    const outage = await lastOutage();
    assert.ok(outage.missed >= 40, `ticks skipped while silent: ${outage.missed}`);
    assert.ok(outage.at - t0 < 5_000, 'recovered by reconnecting, not by the silence ending');
    assert.match(await text('heartbeat'), /^1 timeout/);

    const s = await stats();
    assert.equal(s.total_connections, 3);
    assert.equal(s.max_concurrent, 1);
    assert.deepEqual(pageErrors(page), []);
  });

  test('a subscribe clicked while the server refuses waits in the outbox and applies after the reconnect', async () => {
    assert.equal(await page.getAttribute('#sub-XRP', 'data-sub'), 'off');
    await page.click('#chaos-refuse');
    await page.waitForFunction(() => window.dashboard.socket.state !== 'open', null, { timeout: 5_000 });
    await page.click('#sub-XRP');
    assert.notEqual(await page.evaluate(() => window.dashboard.socket.state), 'open', 'still down after the click');
    assert.equal(await page.getAttribute('#sub-XRP', 'data-sub'), 'queued');
    await page.waitForFunction(() => document.getElementById('outbox').textContent === '1', null, { timeout: 2_000 });
    assert.ok((await logEntries('sub')).some((m) => m.startsWith('subscribe XRP: link down, queued in the outbox')));

    // The refusal lasts 5 s; the next attempt is at most maxDelay later.
    await waitState('open', 12_000);
    await page.waitForFunction(() => /\d\.\d\d$/.test(document.querySelector('#market-rows tr[data-symbol="XRP"] td.last')?.textContent ?? ''),
      null, { timeout: 3_000 });
    assert.equal(await page.getAttribute('#sub-XRP', 'data-sub'), 'on');
    await page.waitForFunction(() => document.getElementById('outbox').textContent === '0', null, { timeout: 1_000 });
    assert.ok((await logEntries('sub')).some((m) => m === 'server: subscribed BTC, ETH, SOL, ADA, DOT, XRP'));

    const s = await stats();
    assert.ok(s.refused >= 1, `attempts refused: ${s.refused}`);
    const subscribes = s.messages.map((m) => JSON.parse(m.t)).filter((m) => m.type === 'subscribe');
    assert.deepEqual(subscribes, [{ type: 'subscribe', symbols: ['XRP'] }], 'sent exactly once, after the refusal');
    assert.equal(s.max_concurrent, 1);

    // The screenshot of the working board after three outages.
    await ticksAdvance(40);
    await page.locator('#market-rows tr[data-symbol="BTC"]').click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(OUT, 'dashboard.png') });
    assert.deepEqual(pageErrors(page), []);
  });

  test('server close codes follow the close policy: 1011 retries, 1008 ends in Failed, "Connect again" recovers', async () => {
    const reconnects = await num('reconnects');
    await page.selectOption('#close-code', '1011');
    await page.click('#chaos-close');
    await page.waitForSelector('#chaos-result[data-outcome="close 1011: retried"]', { timeout: 5_000 });
    await page.waitForFunction((n) => Number(document.getElementById('reconnects').textContent) === n + 1, reconnects, { timeout: 5_000 });
    await waitState('open');
    await ticksAdvance(5);

    await page.selectOption('#close-code', '1008');
    await page.click('#chaos-close');
    await waitState('failed', 5_000);
    assert.equal(await text('state-badge'), 'Failed');
    assert.equal(await page.getAttribute('#chaos-result', 'data-outcome'), 'close 1008: not retried: Failed');
    assert.ok(await page.isVisible('#connect-again'));
    assert.ok((await logEntries('close')).some((m) => m.includes('code 1008 (policy violation)')));
    const attempts = (await stats()).attempts;
    await page.waitForTimeout(1_000);
    assert.equal((await stats()).attempts, attempts, 'no retry after a fatal close');

    await page.click('#connect-again');
    await waitState('open');
    await ticksAdvance(10);
    assert.ok(!(await page.isVisible('#connect-again')));
    // The new socket starts with what the server last confirmed, XRP included.
    await page.waitForFunction(() => window.dashboard.app.data.get('XRP').xs.at(-1) > Date.now() / 1000 - 2, null, { timeout: 3_000 });
    const s = await stats();
    assert.equal(s.current_connections, 1);
    assert.equal(s.max_concurrent, 1);
    assert.deepEqual(pageErrors(page), []);
  });

  test('fits a 360 px wide phone screen without horizontal scrolling', async () => {
    const phone = await newPage(browser);
    try {
      await phone.setViewportSize({ width: 360, height: 740 });
      await phone.goto(`${server.http}/?client=${CLIENT}-phone`);
      await phone.waitForSelector('#state-badge[data-state="open"]', { timeout: 10_000 });
      await phone.waitForFunction(() => Number(document.getElementById('ticks-received').textContent) > 20, null, { timeout: 5_000 });
      const overflow = await phone.evaluate(() => {
        const wide = [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`);
        return { scrollWidth: document.documentElement.scrollWidth, wide };
      });
      assert.ok(overflow.scrollWidth <= 360, `scrollWidth ${overflow.scrollWidth}`);
      assert.deepEqual(overflow.wide, []);
      await phone.screenshot({ path: path.join(OUT, 'dashboard-360.png'), fullPage: true });
      assert.deepEqual(pageErrors(phone), []);
    } finally {
      await phone.close();
    }
  });
});
