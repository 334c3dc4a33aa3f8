// `npm run bench -- memory` (and the last step of `npm run bench`): memory during a long upload
// to a server that reads slowly. In headless Chromium, the npm package's `ReSocket` (the same
// engine as the Rust `ReSocket` and its `Sink`) sends 1 KiB messages for 30 s in the usual loop,
// `while (ws.bufferedAmount < mark) ws.send(...)`, then yields a few ms, against the server's
// `/ws/slow` (it reads at most `bps` bytes per second, so TCP backpressure keeps the browser's
// `bufferedAmount` near the mark). Every second it prints the messages sent and read by the
// server, `bufferedAmount`, `stats.inFlight` (messages handed to the socket whose bytes may not
// all have left the browser) and `stats.outboxLength`, the wasm memory, and the JS heap (CDP
// `Runtime.getHeapUsage` after a forced GC, and `Performance.getMetrics`' JSHeapUsedSize without
// one). At the end the server's limit is lifted and every message must arrive, in order.
//
// A figure, not a test: nothing here is timed against a target. Writes bench/flood-memory.json
// and its section of bench/results.md (between the flood-memory markers; kept when run.mjs
// rewrites the rest, since this runs after it).
//
// Environment: FLOOD_SECONDS (30), FLOOD_SIZE (1024 bytes), FLOOD_MARK (1 MiB: the Rust Sink's
// default high-water mark), FLOOD_BPS (1 MiB/s), FLOOD_SAMPLE_MS (1000), FLOOD_PKG (the npm
// package directory whose web/ build is loaded: pkg/), FLOOD_WRITE (1: write the two files; 0:
// print only, e.g. for another build of the package).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, launchBrowser, newPage, getJson, ROOT } from '../tests/e2e/harness.mjs';

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const CONFIG = {
  seconds: env('FLOOD_SECONDS', 30),
  size: env('FLOOD_SIZE', 1024),
  mark: env('FLOOD_MARK', 1 << 20),
  bps: env('FLOOD_BPS', 1 << 20),
  sampleMs: env('FLOOD_SAMPLE_MS', 1000),
};
const PKG = path.resolve(process.env.FLOOD_PKG || path.join(ROOT, 'pkg'));
const WRITE = process.env.FLOOD_WRITE !== '0';
const OUT = path.join(ROOT, 'bench');
const log = (...args) => console.log('[flood-memory]', ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => (bytes === null || bytes === undefined ? 'n/a' : (bytes / 2 ** 20).toFixed(2));
const num = (n) => (n === null || n === undefined ? 'n/a' : Math.round(n).toLocaleString('en-US'));

/** Records every wasm instance's memory (the package's `init()` instantiates it). */
function instrumentWasm() {
  window.__memories = [];
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = WebAssembly[name];
    WebAssembly[name] = async function instrumented(...args) {
      const result = await original.apply(this, args);
      const instance = result instanceof WebAssembly.Instance ? result : result.instance;
      for (const value of Object.values(instance.exports)) {
        if (value instanceof WebAssembly.Memory) window.__memories.push(value);
      }
      return result;
    };
  }
}

/** In the page: loads the package, opens the socket and starts the send loop. */
async function startFlood({ url, size, mark }) {
  const { default: init, ReSocket } = await import('/flood-pkg/web/resocket.js');
  await init();
  const ws = new ReSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('close', () => reject(new Error('closed before opening')), { once: true });
  });
  const flood = { ws, sent: 0, running: true, loops: 0, errors: [] };
  window.flood = flood;
  const pad = 'x'.repeat(size);
  flood.done = (async () => {
    while (flood.running) {
      try {
        // The usual upload loop: send while the browser's buffer is below the mark.
        while (flood.running && ws.bufferedAmount < mark) {
          const head = `${flood.sent}:`;
          ws.send(head + pad.slice(head.length));
          flood.sent += 1;
        }
      } catch (e) {
        flood.errors.push(String(e));
        flood.running = false;
      }
      flood.loops += 1;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
}

function pageSample() {
  const { ws, sent, errors } = window.flood;
  const stats = ws.stats;
  return {
    sent,
    buffered: ws.bufferedAmount,
    in_flight: stats.inFlight ?? null,
    outbox: stats.outboxLength ?? null,
    messages_out: stats.messagesOut ?? null,
    wasm: window.__memories.reduce((sum, m) => sum + m.buffer.byteLength, 0),
    errors,
  };
}

/** The server's stats of `client`, with `limit` of its messages from index `since`. */
async function serverStats(server, client, since = 0, limit = 0) {
  return getJson(`${server.http}/stats?client=${client}&since=${since}&limit=${limit}`);
}

async function sample(page, cdp, server, client, t0) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const jsUsed = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? null;
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const p = await page.evaluate(pageSample);
  const srv = await serverStats(server, client);
  return {
    t: (performance.now() - t0) / 1000,
    ...p,
    server_read: srv.message_count,
    js_live: usedSize,
    js_used: jsUsed,
  };
}

function row(s) {
  return [s.t.toFixed(1), num(s.sent), num(s.server_read), num(s.buffered), num(s.in_flight), num(s.outbox),
    mb(s.wasm), mb(s.js_live), mb(s.js_used)];
}

function table(samples) {
  const head = ['t s', 'sent', 'read by server', 'bufferedAmount', 'inFlight', 'outbox', 'wasm MiB',
    'JS heap MiB (after GC)', 'JS heap MiB (no GC)'];
  const lines = [head, ...samples.map(row)];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
  return lines.map((l) => l.map((c, i) => String(c).padStart(widths[i])).join('  ')).join('\n');
}

function summarize(samples, final) {
  const max = (key) => {
    const xs = samples.map((s) => s[key]).filter((x) => x !== null && x !== undefined);
    return xs.length ? Math.max(...xs) : null;
  };
  const first = samples[0];
  const last = samples.at(-1);
  return {
    sent: final.sent,
    mb_sent: (final.sent * CONFIG.size) / 2 ** 20,
    in_flight_max: max('in_flight'),
    in_flight_bound: Math.ceil(CONFIG.mark / CONFIG.size) + 1,
    outbox_max: max('outbox'),
    buffered_max: max('buffered'),
    wasm_first: first.wasm,
    wasm_last: last.wasm,
    wasm_max: max('wasm'),
    js_live_first: first.js_live,
    js_live_last: last.js_live,
    js_live_max: max('js_live'),
    js_used_max: max('js_used'),
  };
}

function markdown(results) {
  const { config: c, summary: s, machine } = results;
  const pick = results.samples.filter((x, i, all) => i === 0 || i === all.length - 1 || Math.round(x.t) % 5 === 0);
  const rows = pick.map((x) => `| ${x.t.toFixed(0)} | ${num(x.sent)} | ${num(x.server_read)} | ${num(x.buffered)} `
    + `| ${num(x.in_flight)} | ${num(x.outbox)} | ${mb(x.wasm)} | ${mb(x.js_live)} |`);
  return [
    '<!-- flood-memory:start (written by bench/flood-memory.mjs) -->',
    `## Memory during a ${c.seconds} s upload to a slow reader`,
    '',
    `${machine}; ${results.date.slice(0, 10)}. The npm package's \`ReSocket\` (the engine under the Rust \`ReSocket\``
      + ` and its \`Sink\`) sends ${num(c.size)}-byte messages in the loop \`while (ws.bufferedAmount < ${num(c.mark)})`
      + ' ws.send(...)`, yielding 2 ms between bursts, against `/ws/slow`, which reads at most'
      + ` ${num(c.bps)} bytes/s: TCP backpressure holds \`bufferedAmount\` near the mark. JS heap after a forced GC`
      + ' (CDP), wasm linear memory, and `stats.inFlight` (messages handed to the socket whose bytes may not all have'
      + ' left the browser, kept to be resent if the socket dies), sampled every second:',
    '',
    '| t (s) | sent | read by the server | bufferedAmount | inFlight | outbox | wasm MiB | JS heap MiB |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `${num(s.sent)} messages (${s.mb_sent.toFixed(1)} MiB) in ${c.seconds} s, all read by the server, each once and in`
      + ` order, once its limit was lifted. \`inFlight\` peaked at ${num(s.in_flight_max)} (what ${num(c.mark)}`
      + ` bytes of buffer hold is ${num(s.in_flight_bound)} messages); the outbox peaked at ${num(s.outbox_max)}. Wasm`
      + ` memory ${mb(s.wasm_first)} -> ${mb(s.wasm_last)} MiB (max ${mb(s.wasm_max)}); JS heap after GC`
      + ` ${mb(s.js_live_first)} -> ${mb(s.js_live_last)} MiB (max ${mb(s.js_live_max)}; without GC at most`
      + ` ${mb(s.js_used_max)} MiB). Neither grows with the bytes sent: a copy is kept only of what the browser`
      + ' has not sent yet.',
    '<!-- flood-memory:end -->',
    '',
  ].join('\n');
}

/** Replaces this script's section of bench/results.md (or appends it). */
function writeSection(section) {
  const file = path.join(OUT, 'results.md');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const re = /<!-- flood-memory:start[\s\S]*?<!-- flood-memory:end -->\n?/;
  const next = re.test(old) ? old.replace(re, section) : `${old.replace(/\n*$/, '\n\n')}${section}`;
  fs.writeFileSync(file, next);
}

async function main() {
  const web = path.join(PKG, 'web', 'resocket.js');
  if (!fs.existsSync(web)) throw new Error(`${web} is missing: build the package (bash scripts/build.sh)`);
  const server = await startServer({ statics: [`/flood-pkg=${PKG}`] });
  const browser = await launchBrowser();
  const client = `flood-memory-${Date.now()}`;
  const machine = `Chromium ${browser.version()} headless`;
  const samples = [];
  let final;
  try {
    const page = await newPage(browser);
    await page.addInitScript(instrumentWasm);
    await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 })); // the 404 is a page error
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.goto(`${server.http}/health`);
    log(`${PKG}: ${CONFIG.seconds} s of ${CONFIG.size}-byte messages below a ${CONFIG.mark}-byte mark,`
      + ` server reading ${CONFIG.bps} bytes/s (${server.http})`);
    await page.evaluate(startFlood, {
      url: `${server.ws}/ws/slow?client=${client}&bps=${CONFIG.bps}`,
      size: CONFIG.size,
      mark: CONFIG.mark,
    });
    const t0 = performance.now();
    let next = 0;
    while (performance.now() - t0 < CONFIG.seconds * 1000) {
      const s = await sample(page, cdp, server, client, t0);
      samples.push(s);
      if (s.errors.length) throw new Error(`send failed: ${s.errors.join('; ')}`);
      log(row(s).join('  '));
      next += CONFIG.sampleMs;
      await sleep(Math.max(0, t0 + next - performance.now()));
    }
    await page.evaluate(async () => {
      window.flood.running = false;
      await window.flood.done;
    });
    samples.push(await sample(page, cdp, server, client, t0));
    final = await page.evaluate(pageSample);

    // Everything sent reaches the server, once, in order.
    await getJson(`${server.http}/control/throttle?client=${client}&bps=0`);
    const deadline = Date.now() + 120_000;
    let read = 0;
    while ((read = (await serverStats(server, client)).message_count) < final.sent) {
      if (Date.now() > deadline) throw new Error(`the server read ${read} of ${final.sent} messages`);
      await sleep(100);
    }
    const chunk = 4096;
    for (let since = 0; since < final.sent; since += chunk) {
      const got = await serverStats(server, client, since, chunk);
      if (got.message_count !== final.sent || got.bytes_in !== final.sent * CONFIG.size) {
        throw new Error(`the server read ${got.message_count} messages (${got.bytes_in} bytes): sent ${final.sent}`);
      }
      got.messages.forEach((m, i) => {
        if (!m.t?.startsWith(`${since + i}:`)) throw new Error(`message ${since + i} read as ${JSON.stringify(m).slice(0, 40)}`);
      });
    }
    const unsent = await page.evaluate(() => window.flood.ws.close().length);
    if (unsent) throw new Error(`close() handed back ${unsent} messages`);
    if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
  } finally {
    await browser.close();
    await server.stop();
  }
  const results = {
    date: new Date().toISOString(),
    machine,
    package: PKG.startsWith(`${ROOT}${path.sep}`) ? path.relative(ROOT, PKG) : PKG,
    config: CONFIG,
    samples: samples.map(({ errors, ...s }) => s),
    summary: summarize(samples, final),
  };
  console.log(`\n${table(samples)}\n`);
  const s = results.summary;
  log(`sent ${num(s.sent)} messages (${s.mb_sent.toFixed(1)} MiB); inFlight max ${num(s.in_flight_max)}`
    + ` (buffer holds ${num(s.in_flight_bound)}), outbox max ${num(s.outbox_max)};`
    + ` wasm ${mb(s.wasm_first)} -> ${mb(s.wasm_last)} MiB; JS heap after GC ${mb(s.js_live_first)} ->`
    + ` ${mb(s.js_live_last)} MiB (max ${mb(s.js_live_max)})`);
  if (WRITE) {
    fs.writeFileSync(path.join(OUT, 'flood-memory.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeSection(markdown(results));
    log('wrote bench/flood-memory.json and its section of bench/results.md');
  }
}

main().catch((e) => {
  console.error('[flood-memory] failed:', e);
  process.exit(1);
});
