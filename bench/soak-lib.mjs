// The chaos soak, shared by `npm run soak` (bench/soak.mjs: 1,000 faults) and `npm test`
// (tests/e2e/soak.test.mjs: a short run). Bounded in fault count and in time.
//
// N resocket JS clients (bench/pages/soak.js, the npm package's plain ESM build) each send a
// numbered message every `intervalMs` on /ws/echo, whatever their state, and check the echoes.
// Meanwhile each client, in its own loop, gets forced disconnects of mixed kinds through the
// server's control API:
//   drop     TCP stream dropped without a close frame (the browser sees 1006)
//   close    a server close frame with a retrying code (1001, 1011-1014, 3000, 4500)
//   refuse   new upgrades answered 503 for 300 ms, then a drop (refused attempts back off)
//   silence  the socket goes silent; the client's heartbeat must notice and reconnect
// At the end every client drains its outbox and the server's record of what each client sent is
// checked:
//   - every message sent while the client was not open (the outbox) arrived exactly once;
//   - nothing arrived twice or out of order; a message sent while open may be lost only with
//     its connection (the documented limit: bytes that had left the browser when the server
//     dropped or closed the connection), that is when the client saw a server-side end within
//     LOSS_WINDOW sends after it; such losses are counted and printed;
//   - at most one socket per client at any instant: from the browser's side, no socket created
//     while another of the same client was CONNECTING or OPEN; from the server's side,
//     max_concurrent <= 1 on the clients without silence faults (see KINDS);
//   - no uncaught error, panic or console error on the page (Chromium's own line for a refused
//     connection excepted);
//   - JS heap (after a forced GC) plus wasm memory grew less than 1 MB from warm-up to the end.
import { getJson, newPage } from '../tests/e2e/harness.mjs';

export const SOAK_OPTIONS = {
  minDelay: 50,
  maxDelay: 400,
  stableAfter: 250,
  heartbeat: { interval: 200, timeout: 300 },
};
const CLOSE_CODES = [1001, 1011, 1012, 1013, 1014, 3000, 4500];
// Even-numbered clients get every kind; odd-numbered ones no silence, so that the server's own
// count of concurrent sockets can be checked on them (a silenced server does not answer the
// client's close frame, so it still counts that socket while the client, whose socket is
// CLOSING, already connects again).
const KINDS = [['drop', 0.3], ['close', 0.3], ['refuse', 0.15], ['silence', 0.25]];
const KINDS_NO_SILENCE = KINDS.filter(([k]) => k !== 'silence');
/** A message sent while open may be lost with the connection if the server ended that
 * connection (drop or close frame) within this many sends after it: it had left the browser. */
const LOSS_WINDOW = 5;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const pick = (weighted, random) => {
  let x = random() * weighted.reduce((s, [, w]) => s + w, 0);
  for (const [k, w] of weighted) {
    x -= w;
    if (x <= 0) return k;
  }
  return weighted.at(-1)[0];
};
/** A small seeded generator (mulberry32), so a failing run can be repeated with its seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function heap(cdp, page) {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const wasm = await page.evaluate(() => window.soak.wasmBytes());
  return { js: usedSize, wasm };
}

/**
 * Runs the soak; resolves with its figures and a list of violations (empty when it passed).
 * @param {{ http: string, ws: string }} server a started test server mounting /bench-pages
 * @param {import('playwright-core').Browser} browser
 */
export async function runSoak(server, browser, {
  faults = 1000, clients = 10, intervalMs = 20, budgetMs = 150_000, seed = Date.now() % 1e9, warmup = 20,
  log = () => {},
} = {}) {
  const started = performance.now();
  const random = rng(seed);
  const run = `soak-${process.pid}-${Date.now()}`;
  const ids = Array.from({ length: clients }, (_, i) => `${run}-${i}`);
  const page = await newPage(browser);
  const cdp = await page.context().newCDPSession(page);
  const control = async (verb, params) => {
    const q = new URLSearchParams(params).toString();
    return getJson(`${server.http}/control/${verb}?${q}`);
  };
  const counts = { drop: 0, close: 0, refuse: 0, silence: 0 };
  const violations = [];
  const faultLog = [];
  let injected = 0;
  let heap0 = null;
  let heap1 = null;
  let timedOut = false;
  try {
    await page.goto(`${server.http}/bench-pages/soak.html`);
    await page.waitForFunction(() => window.soakReady === true, null, { timeout: 15_000 });
    await page.evaluate((args) => window.soak.start(args),
      { base: server.ws, ids, options: SOAK_OPTIONS, intervalMs });

    const waitOpen = (id, ms) => page.waitForFunction((k) => window.soak.isOpen(k), id, { polling: 10, timeout: ms })
      .then(() => true, () => false);
    const silenceOk = (id) => ids.indexOf(id) % 2 === 0;
    const inject = async (id) => {
      const kind = pick(silenceOk(id) ? KINDS : KINDS_NO_SILENCE, random);
      const [closesBefore, sentBefore] = await page.evaluate((k) => [window.soak.closes(k), window.soak.sent(k)], id);
      faultLog.push({ id, kind, sent: sentBefore, server: kind !== 'silence' });
      const entry = faultLog.at(-1);
      let reply;
      if (kind === 'drop') {
        reply = await control('drop', { client: id });
      } else if (kind === 'close') {
        const code = CLOSE_CODES[Math.floor(random() * CLOSE_CODES.length)];
        entry.kind = `close ${code}`;
        reply = await control('close', { client: id, code, reason: 'soak' });
      } else if (kind === 'refuse') {
        await control('refuse', { client: id, ms: 300 });
        reply = await control('drop', { client: id });
      } else {
        reply = await control('silence', { client: id, ms: 3000 });
      }
      entry.hit = reply.dropped ?? reply.closed ?? reply.silenced;
      entry.t = performance.now() - started;
      // The fault counts once the client saw its socket end.
      const ended = await page.waitForFunction(([k, n]) => window.soak.closes(k) > n, [id, closesBefore],
        { polling: 10, timeout: 3_000 }).then(() => true, () => false);
      if (kind === 'silence') await control('silence', { client: id, ms: 0 });
      if (!ended) violations.push(`${id}: no close event within 3 s of a ${kind} fault`);
      counts[kind] += 1;
      injected += 1;
      if (injected % 100 === 0) log(`${injected} faults (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}), ${((performance.now() - started) / 1000).toFixed(0)} s`);
    };

    // Warm-up faults (JIT, pools, caches), then the heap baseline.
    for (let i = 0; i < Math.min(warmup, faults); i += 1) {
      const id = ids[i % ids.length];
      await waitOpen(id, 5_000);
      await inject(id);
    }
    heap0 = await heap(cdp, page);

    // Every client in its own loop: wait until open, let messages flow a little, inject.
    let next = injected;
    await Promise.all(ids.map(async (id) => {
      while (next < faults) {
        if (performance.now() - started > budgetMs) { timedOut = true; return; }
        next += 1;
        await waitOpen(id, 5_000);
        await sleep(50 + random() * 250);
        await inject(id);
      }
    }));

    const drained = await page.evaluate((ms) => window.soak.drain(ms), 10_000);
    if (!drained) violations.push('the outboxes did not drain within 10 s of the last fault');
    await sleep(300); // the server records the last echoes' sends
    heap1 = await heap(cdp, page);
    const summaries = await page.evaluate(() => window.soak.summaries());
    const overlaps = await page.evaluate(() => window.soak.overlaps());
    const pageErrors = [
      ...(await page.evaluate(() => window.soak.errors())),
      ...page.errors.filter((e) => !/^console: WebSocket connection to .* failed/.test(e)),
    ];

    // The server's record, client by client.
    let sent = 0; let queued = 0; let lostQueued = 0; let lostDirect = 0; let duplicates = 0;
    let disorder = 0; let echoes = 0; let echoDisorder = 0; let maxConcurrent = 0; let connections = 0;
    let maxConcurrentSilenced = 0; let lostOutsideWindow = 0;
    let requeued = 0;
    const details = [];
    for (const s of summaries) {
      const stats = await getJson(`${server.http}/stats?client=${encodeURIComponent(s.id)}`);
      if (silenceOk(s.id)) maxConcurrentSilenced = Math.max(maxConcurrentSilenced, stats.max_concurrent);
      else maxConcurrent = Math.max(maxConcurrent, stats.max_concurrent);
      connections += stats.total_connections;
      const prefix = `m:${s.id}:`;
      const got = stats.messages.filter((m) => typeof m.t === 'string' && m.t.startsWith(prefix))
        .map((m) => Number(m.t.slice(prefix.length)));
      const seen = new Uint8Array(s.sent);
      let last = -1;
      // Where a message number sits: after which fault it was sent, and what the server got
      // around it (the neighbourhood shows a resend or a gap).
      const mine = faultLog.filter((x) => x.id === s.id);
      const near = (n) => {
        const prev = mine.filter((x) => x.sent <= n).at(-1);
        const at = got.indexOf(n);
        const around = at < 0 ? '' : `; server got ...${got.slice(Math.max(0, at - 3), at + 5).join(' ')}...`;
        const seenBy = s.events.filter(([, k]) => k <= n + 3 && k >= n - 3).map(([e, k, code]) => `${e}${code ? ` ${code}` : ''} at #${k}`);
        return `${prev ? `sent ${n - prev.sent} message(s) after a ${prev.kind} fault began (it hit ${prev.hit} socket(s))` : 'before any fault'}`
          + `${seenBy.length ? ` (client: ${seenBy.join(', ')})` : ''}${around}`;
      };
      for (const n of got) {
        if (n >= s.sent) { violations.push(`${s.id}: server got #${n}, never sent`); continue; }
        if (seen[n]) { duplicates += 1; details.push(`${s.id}: #${n} arrived twice [unexplained], ${near(n)}`); }
        seen[n] = 1;
        if (n <= last) disorder += 1;
        last = n;
      }
      const ownEnds = new Set(s.events.filter(([e]) => e === 'heartbeattimeout').map(([, k]) => k));
      const serverEnds = s.events.filter(([e, k]) => e === 'close' && !ownEnds.has(k)).map(([, k]) => k);
      const inQueue = new Uint8Array(s.sent);
      for (const [a, b] of s.queuedRuns) for (let n = a; n <= b; n += 1) inQueue[n] = 1;
      for (let n = 0; n < s.sent; n += 1) {
        if (inQueue[n]) queued += 1;
        if (!seen[n]) {
          if (inQueue[n]) lostQueued += 1; else lostDirect += 1;
          // Explained: the connection ended from the server's side (not by the client's own
          // heartbeat) within LOSS_WINDOW sends after the message was handed to it.
          const outside = !inQueue[n] && !serverEnds.some((k) => k > n && k <= n + LOSS_WINDOW);
          if (outside) lostOutsideWindow += 1;
          const around = got.findIndex((x) => x > n);
          details.push(`${s.id}: #${n} (sent ${inQueue[n] ? 'while down' : 'while open'}) lost${outside ? ' [unexplained]' : ''}, ${near(n)}`
            + (around >= 0 ? `; server got ...${got.slice(Math.max(0, around - 3), around + 3).join(' ')}...` : ''));
        }
      }
      sent += s.sent;
      echoes += s.echoes;
      echoDisorder += s.echoDisorder;
      requeued += s.stats?.requeued ?? 0;
      if (s.state !== 'open') violations.push(`${s.id}: ended in state ${s.state}`);
      if (s.echoes === 0) violations.push(`${s.id}: no echo came back`);
    }
    const heapGrowth = (heap1.js - heap0.js) + (heap1.wasm - heap0.wasm);
    if (lostQueued) violations.push(`${lostQueued} outbox message(s) lost`);
    if (duplicates) violations.push(`${duplicates} message(s) arrived twice`);
    if (disorder) violations.push(`${disorder} message(s) arrived out of order`);
    if (lostOutsideWindow) {
      violations.push(`${lostOutsideWindow} message(s) sent while open were lost although their connection `
        + `lived on for ${LOSS_WINDOW} more sends or ended by the client's own heartbeat`);
    }
    if (echoDisorder) violations.push(`${echoDisorder} echo(es) came back twice or out of order`);
    if (maxConcurrent > 1) violations.push(`the server saw ${maxConcurrent} concurrent sockets of one client (no silence faults)`);
    if (overlaps) violations.push(`${overlaps} socket(s) created while the same client had one CONNECTING or OPEN`);
    const closingSends = pageErrors.filter((e) => e.includes('WebSocket is already in CLOSING or CLOSED state')).length;
    if (closingSends) {
      violations.push(`${closingSends} send(s) on a browser socket already CLOSING or CLOSED (Chromium logs `
        + '"WebSocket is already in CLOSING or CLOSED state." and discards the message)');
    }
    const otherErrors = pageErrors.filter((e) => !e.includes('WebSocket is already in CLOSING or CLOSED state'));
    if (otherErrors.length) violations.push(`page errors: ${otherErrors.slice(0, 5).join('; ')}${otherErrors.length > 5 ? ` (+${otherErrors.length - 5})` : ''}`);
    if (heapGrowth >= 2 ** 20) violations.push(`heap grew ${(heapGrowth / 1024).toFixed(0)} KB (limit 1 MB)`);
    if (timedOut) violations.push(`time budget of ${budgetMs / 1000} s ran out after ${injected} of ${faults} faults`);
    await page.evaluate(() => window.soak.close());

    return {
      seed,
      faults: injected,
      kinds: counts,
      clients,
      seconds: (performance.now() - started) / 1000,
      connections,
      messages_sent: sent,
      sent_while_down: queued,
      lost_outbox: lostQueued,
      lost_sent_while_open: lostDirect,
      duplicates,
      out_of_order: disorder,
      requeued_by_client: requeued,
      echoes_received: echoes,
      max_concurrent: maxConcurrent,
      max_concurrent_with_silence: maxConcurrentSilenced,
      lost_outside_window: lostOutsideWindow,
      browser_overlaps: overlaps,
      page_errors: pageErrors.length,
      heap_js_before: heap0.js,
      heap_js_after: heap1.js,
      wasm_before: heap0.wasm,
      wasm_after: heap1.wasm,
      heap_growth: heapGrowth,
      violations,
      details,
      fault_log: faultLog,
      client_events: Object.fromEntries(summaries.map((x) => [x.id, x.events])),
    };
  } finally {
    await page.close();
  }
}

/** The figures as printed lines. */
export function describeSoak(r) {
  const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
  return [
    `${r.faults} forced disconnects (${Object.entries(r.kinds).map(([k, v]) => `${k} ${v}`).join(', ')}) `
      + `on ${r.clients} clients in ${r.seconds.toFixed(1)} s (seed ${r.seed}); ${r.connections} connections`,
    `messages: ${r.messages_sent} sent (${r.sent_while_down} while down, via the outbox), `
      + `${r.echoes_received} echoes back; lost: ${r.lost_outbox} from the outbox, ${r.lost_sent_while_open} sent while open `
      + `(${r.lost_outside_window} of them unexplained by a server-side end); `
      + `${r.duplicates} duplicated, ${r.out_of_order} out of order; ${r.requeued_by_client} requeued from dying sockets`,
    `sockets: server max concurrent per client ${r.max_concurrent} (${r.max_concurrent_with_silence} on clients with `
      + `silence faults), browser-side overlaps ${r.browser_overlaps}; `
      + `page errors ${r.page_errors}`,
    `heap: JS ${kb(r.heap_js_before)} -> ${kb(r.heap_js_after)}, wasm ${kb(r.wasm_before)} -> ${kb(r.wasm_after)}; `
      + `growth ${kb(r.heap_growth)} (limit 1024 KB)`,
    ...r.details.filter((d) => d.includes('[unexplained]')).slice(0, 20).map((d) => `  ${d}`),
    r.violations.length ? `FAILED: ${r.violations.join('; ')}` : 'passed: every invariant held',
  ];
}
