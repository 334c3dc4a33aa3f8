// The back/forward cache (issue 17) in headless Chromium, for real: a page with an open ReSocket
// goes to another same-origin page and comes back with page.goBack(). The page must come back
// FROM THE CACHE (its in-memory state kept, `pageshow` with `persisted`, no
// `Page.backForwardCacheNotUsed` from the DevTools protocol), the ReSocket must have parked on the
// way in (the server saw its connection closed with 1000 "page hidden" while the page was away),
// and on the way back it must reconnect at once (no backoff wait) and deliver, exactly once, the
// message handed to it as the page was hidden.
//
// Playwright launches Chromium with --disable-back-forward-cache; these browsers are launched
// without it (nothing else is needed: no --enable-features, headless or not). Two browsers:
//  - Chromium as it ships (156 here). It no longer keeps a page with an open WebSocket out of
//    the cache (feature DisconnectWebSocketOnBFCache): it caches the page with the connection
//    still open on the server, and ends it when the page comes back (the server sees 1001 and no
//    reason, the page an error and a 1006 close; a plain WebSocket never comes back).
//  - Chromium with that feature off: the behaviour of the versions before it, where an open
//    WebSocket is a blocking reason ("WebSocket"), shown by a plain WebSocket page. The ReSocket
//    page is still cached there, because it closes its socket in `pagehide`.
// A third kind of test dispatches synthetic `pagehide`/`pageshow` events (persisted) on a live
// page: not the cache, but a place the page can watch every step of the `parked` state.
//
// No timing assertions: every wait is for a condition, with generous timeouts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROME_ARGS, ROOT, getJson, newPage, startServer, until as untilWithin } from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');
const WAIT = 60_000; // for any one condition; a busy 2-core machine can be slow
const TEST = { timeout: 240_000 };

let server;
let clientSeq = 0;
const client = (name) => `bfcache-${name}-${process.pid}-${++clientSeq}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  server = await startServer({ statics: [`/fixtures=${FIXTURES}`] });
});

after(async () => {
  await server?.stop();
});

/** Headless Chromium with the back/forward cache left on, plus `args`. */
function launch(args = []) {
  return chromium.launch({
    executablePath: process.env.CHROME_BIN || '/usr/bin/chromium',
    args: [...CHROME_ARGS, ...args],
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
}

/** Polls `f` (see the harness's `until`), by default for as long as WAIT. */
const until = (what, f, ms = WAIT) => untilWithin(what, f, ms);
const stats = (id) => getJson(`${server.http}/stats?client=${encodeURIComponent(id)}`);
const texts = (s) => s.messages.map((m) => m.t);

/** The reasons of every `Page.backForwardCacheNotUsed` event, flattened. */
function reasonsOf(notUsed) {
  return notUsed.flatMap((e) => (e.notRestoredExplanations ?? []).map((x) => `${x.type}:${x.reason}`));
}

/**
 * Opens the fixture (mode 'resocket' or 'native') for client `id` in a new page of `browser`,
 * with a DevTools session recording `Page.backForwardCacheNotUsed`; resolves once its socket is
 * open.
 */
async function openFixture(browser, id, mode) {
  const page = await newPage(browser);
  const cdp = await page.context().newCDPSession(page);
  const notUsed = [];
  cdp.on('Page.backForwardCacheNotUsed', (e) => notUsed.push(e));
  await cdp.send('Page.enable');
  await page.goto(`${server.http}/fixtures/bfcache.html?client=${id}&mode=${mode}`);
  await page.waitForFunction(
    () => window.ready === true && window.log.some((e) => e.what === 'open'),
    null, { timeout: WAIT },
  );
  const loadId = await page.evaluate(() => window.loadId);
  return { page, cdp, notUsed, loadId };
}

/**
 * Goes to the "away" page, runs `whileAway` (the fixture page is in the cache, or gone), then
 * back. Resolves once the fixture runs again: restored (`restored` true, its `loadId` the same,
 * a `pageshow` with `persisted`) or loaded anew.
 */
async function awayAndBack({ page, cdp, loadId }, whileAway = async () => {}) {
  await page.goto(`${server.http}/fixtures/bfcache-away.html`);
  await page.waitForFunction(() => window.away === true, null, { timeout: WAIT });
  await whileAway();
  // A page restored from the cache fires no `load`: wait for the commit only.
  await page.goBack({ waitUntil: 'commit', timeout: WAIT });
  await page.waitForFunction((old) => (window.loadId === old
    ? window.log.some((e) => e.what === 'pageshow' && e.persisted)
    : window.ready === true), loadId, { timeout: WAIT });
  const history = await cdp.send('Page.getNavigationHistory');
  assert.match(history.entries[history.currentIndex].url, /\/fixtures\/bfcache\.html\?/,
    'back on the fixture');
  const restored = (await page.evaluate(() => window.loadId)) === loadId;
  return { restored, log: await page.evaluate(() => window.log) };
}

/**
 * The whole ReSocket round trip in `browser`, with its assertions (see the top of the file).
 * Returns the page's event log.
 */
async function resocketRoundTrip(t, browser) {
  const id = client('resocket');
  const fixture = await openFixture(browser, id, 'resocket');
  const { page, notUsed } = fixture;
  try {
    const first = await page.evaluate(() => window.log.find((e) => e.what === 'pageshow'));
    assert.equal(first?.persisted, false, 'the first load is not a restore');

    let away;
    const { restored, log } = await awayAndBack(fixture, async () => {
      // Parked while the page is in the cache: the connection is over, ended cleanly by us.
      away = await until('the server to see the connection end', async () => {
        const s = await stats(id);
        return s.current_connections === 0 && s.closes.length === 1 && s;
      });
    });
    assert.deepEqual(away.closes.map(({ code, reason }) => ({ code, reason })),
      [{ code: 1000, reason: 'page hidden' }], 'closed with 1000 "page hidden" while away');
    assert.equal(away.total_connections, 1);
    assert.equal(away.message_count, 0, 'nothing sent on the closing socket');

    t.diagnostic(`backForwardCacheNotUsed reasons: ${JSON.stringify(reasonsOf(notUsed))}`);
    assert.deepEqual(reasonsOf(notUsed), [], 'the ReSocket page is not kept out of the cache');
    assert.ok(restored, 'restored from the back/forward cache (same page, same JavaScript state)');
    const shows = log.filter((e) => e.what === 'pageshow');
    assert.deepEqual(shows.map((e) => e.persisted), [false, true], 'pageshow: load, then restore');
    const supported = await page.evaluate(
      () => PerformanceObserver.supportedEntryTypes.includes('back-forward-cache-restoration'),
    );
    if (supported) {
      await page.waitForFunction(
        () => performance.getEntriesByType('back-forward-cache-restoration').length === 1,
        null, { timeout: WAIT },
      );
    }
    const hide = log.find((e) => e.what === 'pagehide');
    assert.equal(hide?.persisted, true, 'pagehide said the page goes into the cache');

    // Reconnected at once, and the message handed over at pagehide delivered.
    await page.waitForFunction(() => window.sock.state === 'open'
      && window.log.some((e) => e.what === 'message' && e.data === 'sent at pagehide 1'),
    null, { timeout: WAIT });
    // Exactly once: one more round trip on the same connection; echoes come back in order, so
    // once this one is back, any copy of the first sent before it would be too.
    await page.evaluate(() => window.sock.send('after restore'));
    await page.waitForFunction(
      () => window.log.some((e) => e.what === 'message' && e.data === 'after restore'),
      null, { timeout: WAIT },
    );
    const end = await page.evaluate(() => window.log);
    t.diagnostic(`page log: ${compact(end)}`);
    const echoes = end.filter((e) => e.what === 'message').map((e) => e.data);
    assert.deepEqual(echoes, ['sent at pagehide 1', 'after restore'], 'each echo once, in order');
    const s = await stats(id);
    assert.deepEqual(texts(s), ['sent at pagehide 1', 'after restore'], 'the server got each once');
    assert.equal(s.attempts, 2, 'one attempt after the restore: no failure, no retry');
    assert.equal(s.total_connections, 2, 'a second connection after the restore');
    assert.equal(s.current_connections, 1);
    assert.equal(s.max_concurrent, 1);

    // "At once": after the restore the socket went straight to connecting, with no backoff
    // wait (a `reconnecting` event announces one).
    const after = end.slice(end.indexOf(end.find((e) => e.what === 'pageshow' && e.persisted)));
    const steps = after.filter((e) => e.what === 'statechange').map((e) => e.to);
    assert.deepEqual(steps, ['connecting', 'open'], 'restore: connecting, then open');
    assert.equal(after.filter((e) => e.what === 'reconnecting').length, 0, 'no backoff wait');
    assert.equal(end.filter((e) => e.what === 'error').length, 0, 'no error event');
    assert.deepEqual(page.errors, []);
    return end;
  } finally {
    await page.close();
  }
}

/** A log as one line: `what[detail]@state/readyState` per entry. */
function compact(log) {
  return log.map((e) => {
    const detail = e.what === 'statechange' ? `:${e.to}`
      : e.what === 'close' ? `:${e.code}:${e.reason}`
        : 'persisted' in e ? `:${e.persisted}` : '';
    return `${e.what}${detail}@${e.state}/${e.readyState}`;
  }).join(' ');
}

/** What the page itself saw of the park. */
function pageSawPark(log) {
  const restore = log.findIndex((e) => e.what === 'pageshow' && e.persisted);
  assert.ok(restore > 0, 'a restore in the log');
  const before = log.slice(0, restore);
  const closes = log.filter((e) => e.what === 'close');
  assert.deepEqual(closes.map(({ code, reason, wasClean }) => ({ code, reason, wasClean })),
    [{ code: 1000, reason: 'page hidden', wasClean: true }],
    'one close event, the park (not "reconnect")');
  assert.ok(before.some((e) => e.what === 'parked'), 'a parked event before the page went away');
  assert.ok(before.some((e) => e.what === 'statechange' && e.to === 'parked'),
    'a statechange to parked before the page went away');
  assert.equal(log[restore].state, 'parked', 'state "parked" when the page comes back');
}

describe('the back/forward cache in Chromium as it ships', () => {
  let browser;
  let roundTripLog;

  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('an open ReSocket lets the page into the cache: parked, then reconnected at once, the '
    + 'message sent at pagehide delivered once', TEST, async (t) => {
    roundTripLog = await resocketRoundTrip(t, browser);
  });

  // The park is announced at `pagehide` itself: Chromium freezes the page right after it,
  // usually before the socket's `close` event, which the page then runs only once it is back.
  // (Before, the park waited for that event: the page went into the cache reading "open", and
  // came back to a close with reason "reconnect".)
  test('the page sees the park itself: close 1000 "page hidden", statechange and parked events '
    + 'before it goes into the cache', TEST, () => {
    assert.ok(roundTripLog, 'the round trip above ran');
    pageSawPark(roundTripLog);
  });

  test('a plain browser WebSocket does not survive it: kept connected while cached, then '
    + 'killed on the return (1001 on the server, 1006 on the page), or keeping the page out',
  TEST, async (t) => {
    const id = client('native');
    const fixture = await openFixture(browser, id, 'native');
    const { page, notUsed } = fixture;
    let away;
    const { restored, log } = await awayAndBack(fixture, async () => { away = await stats(id); });
    const reasons = reasonsOf(notUsed);
    const end = await until('the server to see the connection end', async () => {
      const s = await stats(id);
      return s.current_connections === 0 && s.closes.length === 1 && s;
    });
    t.diagnostic(`restored: ${restored}; while away the server had ${away.current_connections} `
      + `connection(s) open; it saw ${JSON.stringify(end.closes)}; `
      + `backForwardCacheNotUsed reasons: ${JSON.stringify(reasons)}`);
    assert.notDeepEqual(end.closes.map(({ code, reason }) => ({ code, reason })),
      [{ code: 1000, reason: 'page hidden' }], 'no clean close of its own');
    if (restored) {
      // Chromium with DisconnectWebSocketOnBFCache: the browser ends it (1001, going away), and
      // the page learns only after the restore. Nothing reconnects it.
      assert.deepEqual(reasons, []);
      assert.equal(end.closes[0].code, 1001);
      const closed = await page.waitForFunction(
        () => window.log.find((e) => e.what === 'close'), null, { timeout: WAIT },
      );
      const { code, wasClean } = await closed.jsonValue();
      assert.deepEqual({ code, wasClean }, { code: 1006, wasClean: false });
      assert.equal(await page.evaluate(() => window.sock.readyState), 3, 'readyState CLOSED');
      assert.equal((await stats(id)).total_connections, 1, 'nothing reconnects it');
    } else {
      // The older behaviour: the open WebSocket kept the page out of the cache.
      assert.ok(reasons.some((r) => /WebSocket/.test(r)), `reasons: ${JSON.stringify(reasons)}`);
      assert.ok(!log.some((e) => e.what === 'pageshow' && e.persisted));
    }
    await page.close();
  });

  // Not the cache: the events are dispatched on a live page, which is not frozen, so the park
  // completes before the return. The one deterministic view of the `parked` state and events.
  test('dispatched pagehide/pageshow (persisted): parked with the outbox kept, then reconnected '
    + 'at once and flushed in order', TEST, async () => {
    const id = client('synthetic');
    const { page } = await openFixture(browser, id, 'resocket');
    try {
      await page.evaluate(() => dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true })));
      await page.waitForFunction(() => window.sock.state === 'parked'
        && window.log.some((e) => e.what === 'parked'), null, { timeout: WAIT });
      const parked = await until('the server to see the connection end', async () => {
        const s = await stats(id);
        return s.current_connections === 0 && s.closes.length === 1 && s;
      });
      assert.deepEqual(parked.closes.map(({ code, reason }) => ({ code, reason })),
        [{ code: 1000, reason: 'page hidden' }]);
      const whileParked = await page.evaluate(() => {
        window.sock.send('sent while parked');
        return { state: window.sock.state, readyState: window.sock.readyState };
      });
      assert.equal(whileParked.state, 'parked');
      assert.equal((await stats(id)).total_connections, 1, 'parked: no new connection');

      await page.evaluate(() => dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
      await page.waitForFunction(() => window.sock.state === 'open'
        && window.log.filter((e) => e.what === 'message').length >= 2, null, { timeout: WAIT });
      await page.evaluate(() => window.sock.send('after return'));
      await page.waitForFunction(
        () => window.log.some((e) => e.what === 'message' && e.data === 'after return'),
        null, { timeout: WAIT },
      );
      const log = await page.evaluate(() => window.log);
      const expected = ['sent at pagehide 1', 'sent while parked', 'after return'];
      assert.deepEqual(log.filter((e) => e.what === 'message').map((e) => e.data), expected);
      const s = await stats(id);
      assert.deepEqual(texts(s), expected, 'the server got each once, in order');
      assert.equal(s.attempts, 2);
      assert.equal(s.total_connections, 2);
      assert.equal(s.max_concurrent, 1);

      // The ReSocket's own pagehide listener runs before the page's (registered after it), and
      // parks at once: its events come first.
      const hide = log.findIndex((e) => e.what === 'close');
      const events = log.slice(hide).filter((e) => e.what !== 'message')
        .map((e) => (e.what === 'statechange' ? `statechange:${e.to}`
          : e.what === 'close' ? `close:${e.code}:${e.reason}:${e.wasClean}` : e.what));
      assert.deepEqual(events, [
        'close:1000:page hidden:true', 'statechange:parked', 'parked', 'pagehide', 'sent',
        'pageshow', 'statechange:connecting', 'statechange:open', 'open',
      ]);
      assert.deepEqual(page.errors, []);
    } finally {
      await page.close();
    }
  });
});

describe('the back/forward cache where an open WebSocket blocks it (DisconnectWebSocketOnBFCache off)', () => {
  let browser;

  before(async () => {
    // A later --disable-features replaces Playwright's own: these two of its list matter to
    // navigations in tests (microsoft/playwright#14047, #28023).
    browser = await launch([
      '--disable-features=DisconnectWebSocketOnBFCache,AvoidUnnecessaryBeforeUnloadCheckSync,PaintHolding',
    ]);
  });
  after(async () => { await browser?.close(); });

  test('a plain browser WebSocket keeps the page out of the cache (blocking reason WebSocket)',
    TEST, async (t) => {
      const id = client('native-blocked');
      const fixture = await openFixture(browser, id, 'native');
      const { page, notUsed } = fixture;
      const { restored, log } = await awayAndBack(fixture);
      await until('Page.backForwardCacheNotUsed', () => notUsed.length > 0);
      const reasons = reasonsOf(notUsed);
      t.diagnostic(`backForwardCacheNotUsed reasons: ${JSON.stringify(reasons)}`);
      assert.ok(reasons.some((r) => /WebSocket/.test(r)), `reasons: ${JSON.stringify(reasons)}`);
      assert.ok(!restored, 'loaded again');
      assert.ok(!log.some((e) => e.what === 'pageshow' && e.persisted));
      await page.close();
    });

  test('the same page with a ReSocket is cached, parks and comes back', TEST, async (t) => {
    await resocketRoundTrip(t, browser);
  });
});
