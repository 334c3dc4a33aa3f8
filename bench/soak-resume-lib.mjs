// The resume soak, shared by `npm run soak -- --resume` (bench/soak.mjs: 1,000 faults) and
// `npm test` (tests/e2e/soak-resume.test.mjs: a shorter run). Bounded in fault count and in time.
//
// N resocket JS clients in resume mode (bench/pages/soak-resume.js, `{ resume: true }`) on the
// server's /ws/resume (the resocket-resume adapter): each client sends a numbered message every
// `intervalMs` whatever its state; the server echoes every message and sends a tick every
// `tickMs`, so messages flow both ways all the time, each carrying its direction's number (the
// client's message number; the tick's seq in the session). Meanwhile each client, in its own
// loop, gets faults of mixed kinds:
//   drop       the server drops the TCP stream without a close frame (the browser sees 1006)
//   close      the server sends a close frame with a retrying code (1001, 1011-1014, 3000, 4500)
//   refuse     new upgrades answered 503 for 300 ms, then a drop (refused attempts back off)
//   reconnect  a client-side kill: the client closes its socket and connects again at once (the
//              server may still hold the old connection when the new one resumes the session)
// and about half of the faults come right after a burst of text and binary messages (up to
// 64 KB), so they land while messages are in flight both ways (mid-send). After the last fault
// the clients stop sending and drain (open, nothing queued, everything acknowledged), and both
// sides' records are compared, per client and per direction:
//   client -> server: the numbers the client sent vs what the server's application took
//                     (/stats `messages`);
//   server -> client: what the server's application sent, with each message's seq (/stats
//                     `sent`) vs what the client's application received, in order.
// Each direction must show 0 lost, 0 duplicated, 0 reordered, nothing unknown; every tick
// arrives as the session's message number it claims; binary echoes come back byte for byte; no
// gap or reset event and no gap notice from the server (the rates here stay far below the
// resend buffers' bounds, so any would be a hole); one session per client; at most one socket
// CONNECTING or OPEN per client in the browser; no page error; and some faults must have landed
// mid-send (messages re-sent or replayed), or the run proved nothing.
import { getJson, newPage } from '../tests/e2e/harness.mjs';
import { SOAK_OPTIONS, pick, rng, sleep } from './soak-lib.mjs';

export const RESUME_SOAK_OPTIONS = { ...SOAK_OPTIONS, resume: true };
const CLOSE_CODES = [1001, 1011, 1012, 1013, 1014, 3000, 4500];
const KINDS = [['drop', 0.3], ['close', 0.3], ['refuse', 0.15], ['reconnect', 0.25]];
/** The share of faults that follow a burst, and its shape. */
const BURST_SHARE = 0.5;
const BURST = 24;
const BINARY_EVERY = 4;
const KEY = { echoText: 0, echoBinary: 1, tick: 2, gap: 3 };

/**
 * Compares what one side sent (`expected`, unique keys in order) with what the other side's
 * application got (`got`, in order). Only the first `lostBelow` expected keys count as lost when
 * missing (the rest may still be on the wire).
 */
export function compareStreams(expected, got, lostBelow = expected.length) {
  const index = new Map();
  expected.forEach((k, i) => index.set(k, i));
  const seen = new Uint8Array(expected.length);
  let duplicated = 0; let reordered = 0; let unknown = 0; let highest = -1;
  const examples = [];
  for (const k of got) {
    const i = index.get(k);
    if (i === undefined) {
      unknown += 1;
      if (examples.length < 5) examples.push(`unknown key ${k}`);
      continue;
    }
    if (seen[i]) {
      duplicated += 1;
      if (examples.length < 5) examples.push(`#${i} twice`);
      continue;
    }
    seen[i] = 1;
    if (i < highest) {
      reordered += 1;
      if (examples.length < 5) examples.push(`#${i} after #${highest}`);
    } else {
      highest = i;
    }
  }
  let lost = 0;
  for (let i = 0; i < Math.min(lostBelow, expected.length); i += 1) {
    if (!seen[i]) {
      lost += 1;
      if (examples.length < 5) examples.push(`#${i} lost`);
    }
  }
  return { lost, duplicated, reordered, unknown, examples };
}

/** The client's message number in a /stats record of a text or binary message, or -1. */
function clientNumber(record, prefix) {
  if (typeof record.t === 'string') {
    return record.t.startsWith(prefix) ? Number(record.t.slice(prefix.length)) : -1;
  }
  if (typeof record.head === 'string' && record.head.length === 16) {
    const digits = Buffer.from(record.head, 'hex').toString('latin1');
    return /^\d{8}$/.test(digits) ? Number(digits) : -1;
  }
  return -1;
}

/** The keys (bench/pages/soak-resume.js KEY) of what the server's application sent. */
function serverKeys(sent, prefix) {
  let gaps = 0;
  return sent.map((m) => {
    if (typeof m.t === 'string' && !m.t.startsWith(prefix)) {
      let v = null;
      try { v = JSON.parse(m.t); } catch { /* not JSON */ }
      if (v?.type === 'tick') return 4 * v.seq + KEY.tick;
      if (v?.type === 'gap') { gaps += 1; return 4 * (gaps - 1) + KEY.gap; }
      return -1;
    }
    const n = clientNumber(m, prefix);
    return n < 0 ? -1 : 4 * n + (typeof m.t === 'string' ? KEY.echoText : KEY.echoBinary);
  });
}

/**
 * Runs the resume soak; resolves with its figures and a list of violations (empty when it
 * passed).
 * @param {{ http: string, ws: string }} server a started test server mounting /bench-pages
 * @param {import('playwright-core').Browser} browser
 */
export async function runResumeSoak(server, browser, {
  faults = 1000, clients = 10, intervalMs = 20, tickMs = 20, budgetMs = 170_000,
  seed = Date.now() % 1e9, options = RESUME_SOAK_OPTIONS, log = () => {},
} = {}) {
  const started = performance.now();
  const random = rng(seed);
  const run = `resume-${process.pid}-${Date.now()}`;
  const ids = Array.from({ length: clients }, (_, i) => `${run}-${i}`);
  const page = await newPage(browser);
  const control = (verb, params) => getJson(`${server.http}/control/${verb}?${new URLSearchParams(params)}`);
  const stats = (id, extra = '') => getJson(`${server.http}/stats?client=${encodeURIComponent(id)}${extra}`);
  const counts = { drop: 0, close: 0, refuse: 0, reconnect: 0 };
  const violations = [];
  const faultLog = [];
  let injected = 0; let bursts = 0; let missed = 0;
  let timedOut = false;
  try {
    await page.goto(`${server.http}/bench-pages/soak-resume.html`);
    await page.waitForFunction(() => window.soakReady === true, null, { timeout: 15_000 });
    await page.evaluate((args) => window.soak.start(args), { base: server.ws, ids, options, intervalMs, tickMs });

    const waitFor = (fn, arg, ms) => page.waitForFunction(fn, arg, { polling: 10, timeout: ms })
      .then(() => true, () => false);
    const inject = async (id) => {
      const kind = pick(KINDS, random);
      const burst = random() < BURST_SHARE;
      const entry = { id, kind, burst, t: Math.round(performance.now() - started) };
      faultLog.push(entry);
      const resumedBefore = await page.evaluate((k) => window.soak.resumedEvents(k), id);
      if (burst) {
        // The fault follows at once: the burst and its echoes are on the wire both ways.
        entry.unacked = await page.evaluate(([k, n, every, p]) => window.soak.burst(k, n, every, p),
          [id, BURST, BINARY_EVERY, Math.floor(random() * 4)]);
        bursts += 1;
      }
      if (kind === 'drop') {
        entry.hit = (await control('drop', { client: id })).dropped;
      } else if (kind === 'close') {
        const code = CLOSE_CODES[Math.floor(random() * CLOSE_CODES.length)];
        entry.kind = `close ${code}`;
        entry.hit = (await control('close', { client: id, code, reason: 'soak' })).closed;
      } else if (kind === 'refuse') {
        await control('refuse', { client: id, ms: 300 });
        entry.hit = (await control('drop', { client: id })).dropped;
      } else {
        await page.evaluate((k) => window.soak.reconnect(k), id);
        entry.hit = 1;
      }
      if (entry.hit === 0) missed += 1; // already down (a heartbeat timeout just before)
      // The fault counts once the client has resumed (or, had it missed, is open again).
      const back = entry.hit === 0
        ? await waitFor((k) => window.soak.isOpen(k), id, 5_000)
        : await waitFor(([k, n]) => window.soak.resumedEvents(k) > n, [id, resumedBefore], 5_000);
      if (!back) violations.push(`${id}: not open again within 5 s of a ${entry.kind} fault`);
      counts[kind] += 1;
      injected += 1;
      if (injected % 100 === 0) {
        log(`${injected} faults (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}; `
          + `${bursts} mid-burst), ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
    };

    let next = 0;
    await Promise.all(ids.map(async (id) => {
      while (next < faults) {
        if (performance.now() - started > budgetMs) { timedOut = true; return; }
        next += 1;
        await waitFor((k) => window.soak.isOpen(k), id, 5_000);
        await sleep(50 + random() * 200);
        await inject(id);
      }
    }));

    // Stop sending; wait until every client is open with nothing queued or unacknowledged.
    await page.evaluate(() => window.soak.stopSending());
    if (!await waitFor(() => window.soak.drained(), null, 15_000)) {
      violations.push('the clients did not drain (open, outbox empty, everything acknowledged) within 15 s');
    }

    const totals = {
      c2s: { sent: 0, taken: 0, lost: 0, duplicated: 0, reordered: 0, unknown: 0 },
      s2c: { sent: 0, received: 0, lost: 0, duplicated: 0, reordered: 0, unknown: 0 },
      resumed: 0, new_sessions: 0, resent: 0, replayed: 0, server_resumed: 0, server_new_sessions: 0,
      server_replayed: 0, refused_sends: 0, gap_events: 0, reset_events: 0, server_gap_notices: 0,
      discarded: 0, tick_mismatches: 0, corrupt: 0, heartbeat_timeouts: 0, connections: 0,
    };
    const details = [];
    for (const id of ids) {
      const prefix = `c:${id}:`;
      // The server's record first: everything in it up to seq `m1` must reach the client.
      const first = await stats(id, '&limit=0');
      const m1 = first.sent_count;
      if (!await waitFor(([k, n]) => window.soak.received(k) >= n, [id, m1], 10_000)) {
        violations.push(`${id}: the client did not receive the server's first ${m1} messages within 10 s`);
      }
      const rec = await page.evaluate((k) => window.soak.record(k), id);
      // Then the server's full record (what the client got so far is all in it).
      const s = await stats(id);

      // client -> server
      const taken = s.messages.map((m) => clientNumber(m, prefix));
      const c2s = compareStreams(Array.from({ length: rec.sent }, (_, n) => n), taken);
      // server -> client
      s.sent.forEach((m, i) => {
        if (m.seq !== i + 1) violations.push(`${id}: the server's record has seq ${m.seq} at position ${i + 1}`);
      });
      const keys = serverKeys(s.sent, prefix);
      const s2c = compareStreams(keys, rec.keys, m1);
      for (const [dir, r] of [['client -> server', c2s], ['server -> client', s2c]]) {
        if (r.lost || r.duplicated || r.reordered || r.unknown) details.push(`${id} ${dir}: ${r.examples.join(', ')}`);
      }
      totals.c2s.sent += rec.sent; totals.c2s.taken += taken.length;
      totals.s2c.sent += s.sent.length; totals.s2c.received += rec.keys.length;
      for (const f of ['lost', 'duplicated', 'reordered', 'unknown']) {
        totals.c2s[f] += c2s[f];
        totals.s2c[f] += s2c[f];
      }
      totals.resumed += rec.resumedEvents - rec.newSessions;
      totals.new_sessions += rec.newSessions;
      totals.resent += rec.resent;
      totals.replayed += rec.replayed;
      totals.server_resumed += s.resume.resumed;
      totals.server_new_sessions += s.resume.new_sessions;
      totals.server_replayed += s.resume.replayed;
      totals.refused_sends += s.resume.refused_sends;
      totals.gap_events += rec.gapEvents.length;
      totals.reset_events += rec.resetEvents.length;
      totals.server_gap_notices += keys.filter((k) => k % 4 === KEY.gap).length;
      totals.discarded += rec.discarded;
      totals.tick_mismatches += rec.tickMismatch;
      totals.corrupt += rec.corrupt;
      totals.heartbeat_timeouts += rec.heartbeatTimeouts;
      totals.connections += s.total_connections;
      if (rec.newSessions !== 1) violations.push(`${id}: ${rec.newSessions} new sessions (1 expected: the first)`);
      if (rec.gapEvents.length) violations.push(`${id}: gap events ${JSON.stringify(rec.gapEvents.slice(0, 3))}`);
      if (rec.resetEvents.length) violations.push(`${id}: reset events ${JSON.stringify(rec.resetEvents.slice(0, 3))}`);
      if (rec.state !== 'open') violations.push(`${id}: ended in state ${rec.state}`);
    }
    for (const [dir, t] of [['client -> server', totals.c2s], ['server -> client', totals.s2c]]) {
      for (const f of ['lost', 'duplicated', 'reordered', 'unknown']) {
        if (t[f]) violations.push(`${dir}: ${t[f]} message(s) ${f === 'unknown' ? 'received that were never sent' : f}`);
      }
    }
    if (totals.server_gap_notices) violations.push(`the server's application got ${totals.server_gap_notices} gap(s) in the client's messages`);
    if (totals.tick_mismatches) violations.push(`${totals.tick_mismatches} tick(s) arrived as another message number than their seq`);
    if (totals.corrupt) violations.push(`${totals.corrupt} message(s) arrived corrupted or unrecognised`);
    if (totals.discarded) violations.push(`${totals.discarded} message(s) discarded`);
    if (totals.resent + totals.replayed === 0 && injected > 0) {
      violations.push('no fault landed mid-send: nothing was re-sent or replayed');
    }
    const overlaps = await page.evaluate(() => window.soak.overlaps());
    if (overlaps) violations.push(`${overlaps} socket(s) created while the same client had one CONNECTING or OPEN`);
    // Sends on a socket already CLOSING or CLOSED: Chromium discards them with a console error
    // (counted here by kind, from the page's own record, instead).
    const lateSends = await page.evaluate(() => window.soak.lateSends());
    const lateKinds = {};
    for (const k of lateSends) lateKinds[k] = (lateKinds[k] ?? 0) + 1;
    if (lateSends.length) {
      violations.push(`${lateSends.length} send(s) on a browser socket already CLOSING or CLOSED (${JSON.stringify(lateKinds)}; `
        + 'Chromium discards them and logs "WebSocket is already in CLOSING or CLOSED state.")');
    }
    const pageErrors = [
      ...(await page.evaluate(() => window.soak.errors())),
      ...page.errors.filter((e) => !/^console: WebSocket connection to .* failed/.test(e)
        && !e.includes('WebSocket is already in CLOSING or CLOSED state')),
    ];
    if (pageErrors.length) violations.push(`page errors: ${pageErrors.slice(0, 5).join('; ')}${pageErrors.length > 5 ? ` (+${pageErrors.length - 5})` : ''}`);
    if (timedOut) violations.push(`time budget of ${budgetMs / 1000} s ran out after ${injected} of ${faults} faults`);
    await page.evaluate(() => window.soak.close());

    return {
      seed,
      faults: injected,
      kinds: counts,
      mid_burst: bursts,
      missed,
      clients,
      seconds: (performance.now() - started) / 1000,
      ...totals,
      browser_overlaps: overlaps,
      late_sends: lateSends.length,
      late_send_kinds: lateKinds,
      page_errors: pageErrors.length,
      violations,
      details,
      fault_log: faultLog,
    };
  } finally {
    await page.close();
  }
}

/** The figures as printed lines. */
export function describeResumeSoak(r) {
  const dir = (t, verb) => `${t.sent} sent, ${t[verb]} ${verb}`
    + `${t.sent > t[verb] && !t.lost ? ` (${t.sent - t[verb]} sent after the cut, still on the wire)` : ''}; `
    + `lost ${t.lost}, duplicated ${t.duplicated}, reordered ${t.reordered}, unknown ${t.unknown}`;
  return [
    `${r.faults} faults (${Object.entries(r.kinds).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.mid_burst} `
      + `right after a burst both ways; ${r.missed} found the client already down) on ${r.clients} clients `
      + `in ${r.seconds.toFixed(1)} s (seed ${r.seed}); ${r.connections} connections`,
    `client -> server: ${dir(r.c2s, 'taken')} (client's numbers vs the server application's record)`,
    `server -> client: ${dir(r.s2c, 'received')} (the server application's record vs the client's)`,
    `resume: ${r.resumed} sessions resumed (server: ${r.server_resumed}), ${r.new_sessions} new (server: `
      + `${r.server_new_sessions}); ${r.resent} messages re-sent by the clients, ${r.replayed} replayed to them `
      + `(server: ${r.server_replayed} re-sent at handshakes); ${r.refused_sends} server sends refused (superseded)`,
    `holes: ${r.gap_events} gap and ${r.reset_events} reset events, ${r.server_gap_notices} gaps seen by the server; `
      + `ticks off their seq ${r.tick_mismatches}, corrupt ${r.corrupt}, discarded ${r.discarded}; heartbeat timeouts `
      + `${r.heartbeat_timeouts}; browser-side overlaps ${r.browser_overlaps}; sends on a CLOSING socket ${r.late_sends}; `
      + `page errors ${r.page_errors}`,
    ...r.details.slice(0, 20).map((d) => `  ${d}`),
    r.violations.length ? `FAILED: ${r.violations.join('; ')}` : 'passed: every invariant held',
  ];
}
