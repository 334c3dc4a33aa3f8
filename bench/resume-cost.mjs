// `npm run bench -- resume` (and a step of `npm run bench`): what resume mode costs per message.
// In headless Chromium, the npm package's `ReSocket` (text mode; the page parses JSON itself)
// against the project's server, plain (`/ws/flood`, `/ws/echo`) and with `{ resume: true }`
// (`/ws/resume?flood=N`, `/ws/resume`: the same messages through the `resocket-resume` adapter):
//   receive  the server sends N messages of S bytes as fast as it can (`{"seq":I,"v":"x..."}`,
//            then a `done` marker); the page checks every seq. Messages per second, and the
//            page's main-thread task and script time per message (CDP Performance.getMetrics
//            before and after, garbage collected first).
//   send     the page sends N messages of S bytes in windows of W (each window's echoes awaited
//            before the next: resume mode keeps up to 1,024 unacknowledged messages, so a
//            window stays below half of that), the server echoes them. Round trips per second,
//            the time of the `send()` calls alone per message, task and script time per message
//            (echoes received included).
//   wire     one smaller run of each, watched through CDP's Network domain: WebSocket frames
//            and bytes in each direction (frame headers included: 2 bytes, +2 or +8 for longer
//            payloads, +4 for the client's mask), per application message: the resume framing's
//            overhead (hello/welcome/from once per connection, acks every 32 messages).
// Each mode in a page of its own, loaded and warmed up once; rounds alternate which mode goes
// first, and the resume/plain ratios are medians of the per-round ratios.
//
// A figure, not a test: nothing is timed against a target. Writes bench/resume-cost.json and
// its section of bench/results.md (between the resume-cost markers; run.mjs rewrites the rest
// of the file, and this runs after it).
//
// Environment: RESUME_MESSAGES (10000, per run), RESUME_ROUNDS (9), RESUME_SIZE (64 bytes),
// RESUME_WINDOW (256), RESUME_WIRE_MESSAGES (2000), RESUME_PKG (the npm package directory whose
// web/ build is loaded: pkg/), RESUME_WRITE (1: write the two files; 0: print only).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, launchBrowser, newPage, ROOT } from '../tests/e2e/harness.mjs';

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const CONFIG = {
  messages: env('RESUME_MESSAGES', 10_000),
  rounds: env('RESUME_ROUNDS', 9),
  size: env('RESUME_SIZE', 64),
  window: env('RESUME_WINDOW', 256),
  wireMessages: env('RESUME_WIRE_MESSAGES', 2_000),
  warmup: 2_000,
};
const PKG = path.resolve(process.env.RESUME_PKG || path.join(ROOT, 'pkg'));
const WRITE = process.env.RESUME_WRITE !== '0';
const OUT = path.join(ROOT, 'bench');
const MODES = ['plain', 'resume'];
const log = (...args) => console.log('[resume-cost]', ...args);
const fmt = (v, digits = 1) => (v === null || v === undefined ? 'n/a' : Number(v).toFixed(digits));
const num = (n) => (n === null || n === undefined ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

// ------------------------------------------------------------------ in the page

/** Loads the package's plain ESM build. */
async function pageSetup() {
  const { ReSocket } = await import('/resume-pkg/resume/resocket.js');
  await ReSocket.ready;
  window.rc = { ReSocket, ws: null };
}

/** Opens a socket (resume mode or not) and waits for `open`. */
async function pageOpen({ url, resume }) {
  const ws = new window.rc.ReSocket(url, resume ? { resume: true } : {});
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onclose = (e) => reject(new Error(`closed before open: ${e.code}`));
  });
  ws.onopen = null;
  ws.onclose = null;
  window.rc.ws = ws;
}

function pageClose() {
  const ws = window.rc.ws;
  ws.onmessage = null;
  ws.free();
  window.rc.ws = null;
}

/** The server floods; every seq is checked. Resolves with the count and the milliseconds. */
function pageReceive() {
  const ws = window.rc.ws;
  return new Promise((resolve, reject) => {
    let expected = 0;
    const t0 = performance.now();
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === 'done') {
        ws.onmessage = null;
        if (m.count !== expected) reject(new Error(`done after ${expected}, server sent ${m.count}`));
        else resolve({ count: expected, ms: performance.now() - t0 });
      } else if (m.seq !== expected) {
        ws.onmessage = null;
        reject(new Error(`expected seq ${expected}, got ${m.seq}`));
      } else {
        expected += 1;
      }
    };
    ws.send('go');
  });
}

/** Sends `n` messages of `size` bytes in windows of `win`, awaiting each window's echoes. */
async function pageSend({ n, size, win }) {
  const ws = window.rc.ws;
  const pad = 'x'.repeat(size);
  const messages = Array.from({ length: n }, (_, i) => {
    const head = `{"seq":${i},"v":"`;
    return `${head}${pad.slice(0, Math.max(0, size - head.length - 2))}"}`;
  });
  let got = 0;
  let failure = null;
  let wake = null;
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.seq !== got && !failure) failure = new Error(`echo ${got} came back as ${m.seq}`);
    got += 1;
    if (wake && got >= wake.until) wake.resolve();
  };
  let sendMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i += win) {
    const end = Math.min(n, i + win);
    const s0 = performance.now();
    for (let j = i; j < end; j += 1) ws.send(messages[j]);
    sendMs += performance.now() - s0;
    if (got < end) await new Promise((resolve) => { wake = { until: end, resolve }; });
    wake = null;
    if (failure) throw failure;
  }
  const ms = performance.now() - t0;
  ws.onmessage = null;
  return { count: got, ms, sendMs };
}

// ------------------------------------------------------------------ the driver

async function metrics(cdp) {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

function urls(server, mode, kind, n, tag) {
  const client = `resume-cost-${mode}-${kind}-${tag}`;
  if (kind === 'receive') {
    return mode === 'resume'
      ? `${server.ws}/ws/resume?client=${client}&flood=${n}&size=${CONFIG.size}`
      : `${server.ws}/ws/flood?client=${client}&count=${n}&size=${CONFIG.size}&wait=1`;
  }
  return mode === 'resume' ? `${server.ws}/ws/resume?client=${client}` : `${server.ws}/ws/echo?client=${client}`;
}

/** One measured run of `kind` in `mode`: open, GC, metrics, run, metrics, close. */
async function run(p, server, mode, kind, n, tag) {
  await p.page.evaluate(pageOpen, { url: urls(server, mode, kind, n, tag), resume: mode === 'resume' });
  await p.cdp.send('HeapProfiler.collectGarbage');
  const before = await metrics(p.cdp);
  const r = kind === 'receive'
    ? await p.page.evaluate(pageReceive)
    : await p.page.evaluate(pageSend, { n, size: CONFIG.size, win: CONFIG.window });
  const after = await metrics(p.cdp);
  await p.page.evaluate(pageClose);
  if (r.count !== n) throw new Error(`${mode} ${kind}: ${r.count} of ${n}`);
  const out = {
    msgs_per_s: r.count / (r.ms / 1000),
    task_us: ((after.TaskDuration - before.TaskDuration) * 1e6) / r.count,
    script_us: ((after.ScriptDuration - before.ScriptDuration) * 1e6) / r.count,
  };
  if (r.sendMs !== undefined) out.send_call_us = (r.sendMs * 1000) / r.count;
  return out;
}

async function openPage(browser, server) {
  const page = await newPage(browser);
  await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${server.http}/health`); // a page of the server's own origin (/ws/resume checks it)
  await page.evaluate(pageSetup);
  return { page, cdp };
}

/** Frame header bytes of a payload of `len` bytes; `masked` for the client's frames. */
const header = (len, masked) => 2 + (len > 65_535 ? 8 : len > 125 ? 2 : 0) + (masked ? 4 : 0);

/** One run of `kind` in `mode` with CDP's Network domain on: frames and bytes both ways. */
async function wire(p, server, mode, kind, tag) {
  const n = CONFIG.wireMessages;
  const url = urls(server, mode, kind, n, tag);
  const tally = { up: { frames: 0, bytes: 0 }, down: { frames: 0, bytes: 0 } };
  let id = null;
  const created = (e) => { if (e.url === url) id = e.requestId; };
  const count = (dir, masked) => (e) => {
    if (e.requestId !== id) return;
    const { opcode, payloadData } = e.response;
    if (opcode !== 1 && opcode !== 2) return;
    const len = opcode === 1 ? Buffer.byteLength(payloadData, 'utf8') : Buffer.from(payloadData, 'base64').length;
    tally[dir].frames += 1;
    tally[dir].bytes += len + header(len, masked);
  };
  const sent = count('up', true);
  const received = count('down', false);
  await p.cdp.send('Network.enable');
  p.cdp.on('Network.webSocketCreated', created);
  p.cdp.on('Network.webSocketFrameSent', sent);
  p.cdp.on('Network.webSocketFrameReceived', received);
  try {
    await p.page.evaluate(pageOpen, { url, resume: mode === 'resume' });
    const r = kind === 'receive'
      ? await p.page.evaluate(pageReceive)
      : await p.page.evaluate(pageSend, { n, size: CONFIG.size, win: CONFIG.window });
    if (r.count !== n) throw new Error(`${mode} ${kind} (wire): ${r.count} of ${n}`);
    await new Promise((resolve) => { setTimeout(resolve, 300); }); // the last acks
    await p.page.evaluate(pageClose);
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  } finally {
    p.cdp.off('Network.webSocketCreated', created);
    p.cdp.off('Network.webSocketFrameSent', sent);
    p.cdp.off('Network.webSocketFrameReceived', received);
    await p.cdp.send('Network.disable');
  }
  if (id === null) throw new Error(`${mode} ${kind} (wire): no WebSocket seen`);
  return {
    messages: n,
    up_frames: tally.up.frames,
    up_bytes: tally.up.bytes,
    down_frames: tally.down.frames,
    down_bytes: tally.down.bytes,
    bytes_per_message: (tally.up.bytes + tally.down.bytes) / n,
    frames_per_message: (tally.up.frames + tally.down.frames) / n,
  };
}

const KINDS = ['receive', 'send'];
const FIELDS = ['msgs_per_s', 'task_us', 'script_us', 'send_call_us'];

function summarize(rounds) {
  const out = {};
  for (const kind of KINDS) {
    out[kind] = {};
    for (const mode of MODES) {
      out[kind][mode] = {};
      for (const f of FIELDS) {
        const xs = rounds.map((r) => r[kind][mode][f]).filter((x) => x !== undefined);
        if (xs.length) out[kind][mode][f] = median(xs);
      }
    }
    out[kind].ratio = {};
    for (const f of FIELDS) {
      const xs = rounds.map((r) => r[kind].resume[f] / r[kind].plain[f]).filter(Number.isFinite);
      if (xs.length) out[kind].ratio[f] = median(xs);
    }
  }
  return out;
}

function table(results) {
  const { summary: s, wire: w } = results;
  const rows = [];
  const label = { receive: 'receive (server floods)', send: `send (windows of ${CONFIG.window}, echoed)` };
  for (const kind of KINDS) {
    for (const mode of MODES) {
      const x = s[kind][mode];
      rows.push(`| ${label[kind]} | ${mode} | ${num(x.msgs_per_s)} | ${fmt(x.task_us, 2)} | ${fmt(x.script_us, 2)}`
        + ` | ${fmt(x.send_call_us, 2)} | ${fmt(w[kind][mode].bytes_per_message)} | ${fmt(w[kind][mode].frames_per_message, 3)} |`);
    }
    const r = s[kind].ratio;
    const dB = w[kind].resume.bytes_per_message - w[kind].plain.bytes_per_message;
    rows.push(`| | resume / plain | ${fmt(r.msgs_per_s, 2)}x | ${fmt(r.task_us, 2)}x | ${fmt(r.script_us, 2)}x`
      + ` | ${r.send_call_us === undefined ? '' : `${fmt(r.send_call_us, 2)}x`} | +${fmt(dB, 2)} | |`);
  }
  return [
    '| run | mode | msgs/s | task µs/msg | script µs/msg | send() µs/msg | wire bytes/msg | frames/msg |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function markdown(results) {
  const { config: c, machine, wire: w } = results;
  const up = (kind, mode) => w[kind][mode];
  const d = (kind) => results.summary[kind].resume.script_us - results.summary[kind].plain.script_us;
  return [
    '<!-- resume-cost:start (written by bench/resume-cost.mjs) -->',
    '## The per-message cost of resume mode',
    '',
    `${machine}; ${results.date.slice(0, 10)}. The npm package's \`ReSocket\` in text mode (the page parses the JSON),`
      + ` plain against \`/ws/flood\` and \`/ws/echo\`, and with \`{ resume: true }\` against \`/ws/resume\` (the same`
      + ` messages through the \`resocket-resume\` adapter, in-memory store). ${num(c.messages)} messages of`
      + ` ${c.size} bytes per run, medians of ${c.rounds} rounds (the ratios: medians of the per-round ratios).`
      + ' Task and script time: the page\'s main thread per message (CDP); `send()`: the wall time of the calls'
      + ' alone (the browser\'s own `WebSocket.send` included). Wire bytes:'
      + ` both directions, frame headers included, per application message, from a run of ${num(c.wireMessages)}`
      + ' (handshake frames included).',
    '',
    table(results),
    '',
    `Per message, resume mode costs the page ${fmt(d('receive'), 2)} µs more script receiving`
      + ` (${fmt(results.summary.receive.ratio.script_us, 2)}x) and ${fmt(d('send'), 2)} µs more sending with the echo`
      + ` received (${fmt(results.summary.send.ratio.script_us, 2)}x); throughput and task time move more with the`
      + ' machine\'s load than with the mode. '
      + `Receiving, resume mode's frames are the app messages plus an \`ack\` every 32 (client to server:`
      + ` ${num(up('receive', 'resume').up_frames)} frames, ${num(up('receive', 'resume').up_bytes)} bytes for`
      + ` ${num(c.wireMessages)} messages, against ${num(up('receive', 'plain').up_frames)} frame and`
      + ` ${num(up('receive', 'plain').up_bytes)} bytes plain); app messages carry no header of their own. Sending`
      + ' adds the same acks the other way, and the round trips include the echoes received.',
    '<!-- resume-cost:end -->',
    '',
  ].join('\n');
}

/** Replaces this script's section of bench/results.md (or adds it before flood-memory's). */
function writeSection(section) {
  const file = path.join(OUT, 'results.md');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const re = /<!-- resume-cost:start[\s\S]*?<!-- resume-cost:end -->\n?/;
  let next;
  if (re.test(old)) next = old.replace(re, section);
  else if (old.includes('<!-- flood-memory:start')) next = old.replace('<!-- flood-memory:start', `${section}\n<!-- flood-memory:start`);
  else next = `${old.replace(/\n*$/, '\n\n')}${section}`;
  fs.writeFileSync(file, next);
}

async function main() {
  const started = performance.now();
  const web = path.join(PKG, 'resume', 'resocket.js');
  if (!fs.existsSync(web)) throw new Error(`${web} is missing: build the package (bash scripts/build.sh)`);
  const server = await startServer({ statics: [`/resume-pkg=${PKG}`] });
  const browser = await launchBrowser();
  const load = os.loadavg()[0];
  const machine = `Chromium ${browser.version()} headless, ${os.cpus().length} cores, load average ${load.toFixed(1)} at the start`;
  const rounds = [];
  const wires = { receive: {}, send: {} };
  const tag = Date.now();
  log(`${PKG}: ${CONFIG.rounds} rounds of ${CONFIG.messages} messages of ${CONFIG.size} bytes, plain and resume (${server.http})`);
  try {
    const pages = {};
    for (const mode of MODES) {
      pages[mode] = await openPage(browser, server);
      for (const kind of KINDS) await run(pages[mode], server, mode, kind, CONFIG.warmup, `warmup-${tag}`);
    }
    for (let r = 0; r < CONFIG.rounds; r += 1) {
      const row = { receive: {}, send: {} };
      const order = r % 2 ? [...MODES].reverse() : MODES;
      for (const kind of KINDS) {
        for (const mode of order) row[kind][mode] = await run(pages[mode], server, mode, kind, CONFIG.messages, `${r}-${tag}`);
      }
      rounds.push(row);
      log(`round ${r + 1}/${CONFIG.rounds} `
        + KINDS.map((k) => `${k}: ${MODES.map((m) => `${m} ${num(row[k][m].msgs_per_s)} msg/s ${fmt(row[k][m].task_us, 2)} us`).join(', ')}`)
          .join('; '));
    }
    for (const kind of KINDS) {
      for (const mode of MODES) {
        wires[kind][mode] = await wire(pages[mode], server, mode, kind, `wire-${tag}`);
        const x = wires[kind][mode];
        log(`wire ${kind} ${mode}: up ${x.up_frames} frames ${x.up_bytes} B, down ${x.down_frames} frames ${x.down_bytes} B`
          + ` for ${x.messages} messages: ${fmt(x.bytes_per_message, 2)} B/msg`);
      }
    }
    for (const [mode, p] of Object.entries(pages)) {
      if (p.page.errors.length) throw new Error(`${mode}: page errors: ${p.page.errors.join('; ')}`);
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  const results = {
    date: new Date().toISOString(),
    machine,
    load,
    package: PKG.startsWith(`${ROOT}${path.sep}`) ? path.relative(ROOT, PKG) : PKG,
    config: CONFIG,
    rounds,
    summary: summarize(rounds),
    wire: wires,
    duration_s: (performance.now() - started) / 1000,
  };
  console.log(`\n${table(results)}\n`);
  if (WRITE) {
    fs.writeFileSync(path.join(OUT, 'resume-cost.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeSection(markdown(results));
    log(`wrote bench/resume-cost.json and its section of bench/results.md in ${fmt(results.duration_s, 0)} s`);
  }
}

main().catch((e) => {
  console.error('[resume-cost] failed:', e);
  process.exit(1);
});
