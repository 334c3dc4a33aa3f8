// `npm run bench`: resocket against its peers in one run, in headless Chromium, against the
// project's server. Built first by scripts/bench.sh (the npm package, the bench crates, the
// bench page); writes bench/results.json, bench/results.md and bench/chart.svg.
//
// Clients, alternated round by round, each round starting one client later (A B C D E, B C D E A,
// ...):
//   raw          the browser WebSocket + JSON.parse (the in-browser limit)
//   resocket-js  resocket's JS API (the npm package) in JSON mode
//   rust-stream  resocket's Rust ReSocket read as a typed JSON Stream (bench/rust-stream)
//   gloo-net     gloo-net's WebSocket Stream + serde_json (bench/gloo-net)
//   rws          reconnecting-websocket 4.4 from npm + JSON.parse
//
// Flood rounds, each client in a page of its own, loaded and warmed up once: a /ws/flood run per
// client (messages per second; main-thread task time and script time per message from CDP
// Performance.getMetrics read before and after), garbage collected before each run. Single runs
// move by 20% and more on a shared 2-core machine, so there are many short ones (a fresh page
// per run would cost more than the run) and the ratios to raw are medians of the per-round ratios,
// printed with a bootstrap interval.
// Page rounds, each client on a fresh page: construction to first message (the client's import and
// wasm start-up included), sequential echo round trips (p50, p99).
// Once per client: JS heap (after a forced GC) and wasm memory before and after 1,000 reconnect
// cycles; recovery time from a server restart to the first new message against the delay the
// client had scheduled (reconnecting clients); gzip -9 sizes of what an app ships.
//
// Environment: BENCH_MESSAGES (10000, per flood run), BENCH_FLOODS (31 flood rounds), BENCH_SIZE
// (64), BENCH_ROUNDS (9 page rounds), BENCH_ECHO (500), BENCH_CYCLES (1000), BENCH_TRIALS (3,
// recovery), BENCH_CLIENTS (comma list), BENCH_SKIP (comma list of: floods, rounds, heap,
// recovery), BENCH_OUT (directory for the three files: bench/).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { startServer, launchBrowser, newPage, getJson, ROOT } from '../tests/e2e/harness.mjs';
import { minified } from '../scripts/minify.mjs';
import { minifyWasmNames } from '../scripts/wasm-names.mjs';
import { ALL_CLIENTS, renderMarkdown, renderSvg, targets } from './report.mjs';

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const CONFIG = {
  messages: env('BENCH_MESSAGES', 10_000),
  floods: env('BENCH_FLOODS', 31),
  size: env('BENCH_SIZE', 64),
  rounds: env('BENCH_ROUNDS', 9),
  echo: env('BENCH_ECHO', 500),
  cycles: env('BENCH_CYCLES', 1000),
  trials: env('BENCH_TRIALS', 3),
  warmup: 2_000,
  downMs: 1_000,
};
const SKIP = new Set((process.env.BENCH_SKIP || '').split(',').filter(Boolean));
const OUT = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(ROOT, 'bench');
const DIST = path.join(ROOT, 'bench', 'out', 'dist');

const CLIENTS = ALL_CLIENTS.filter((c) => !process.env.BENCH_CLIENTS || process.env.BENCH_CLIENTS.split(',').includes(c.id));

const epoch = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const range = (xs) => (xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : null);
/** The clients in round `r`'s order: each round starts one client later (A B C, B C A, ...). */
const rotated = (r) => CLIENTS.map((_, i) => CLIENTS[(i + r) % CLIENTS.length]);
const log = (...args) => console.log('[bench]', ...args);

/** Page errors, minus Chromium's own log line for a refused connection (expected in recovery). */
const pageErrors = (page) => page.errors.filter((e) => !/^console: WebSocket connection to .* failed/.test(e));

async function metrics(cdp) {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

async function openBenchPage(browser, server, query = '') {
  const page = await newPage(browser);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${server.http}/bench/index.html${query}`);
  await page.waitForFunction(() => window.benchReady === true);
  return { page, cdp };
}

async function heapNow(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const dom = await cdp.send('Memory.getDOMCounters');
  return { js: usedSize, listeners: dom.jsEventListeners };
}

/** One round of one client on a fresh page: start-up, flood, echo. */
async function round(browser, server, client, r) {
  const { page, cdp } = await openBenchPage(browser, server);
  const tag = `${client.id}-${r}-${Date.now()}`;
  try {
    const startupMs = await page.evaluate(([name, url]) => window.bench.startup(name, url),
      [client.id, `${server.ws}/ws/flood?count=1&size=${CONFIG.size}&client=startup-${tag}`]);
    const api = await page.evaluate(() => window.bench.client.api ?? null);

    await flood(page, cdp, server, client, CONFIG.warmup, `warmup-${tag}`); // JIT tiers, wasm tier-up
    await page.evaluate((url) => window.bench.client.open(url), `${server.ws}/ws/echo?client=echo-${tag}`);
    const rtts = await page.evaluate(async (n) => Array.from(await window.bench.client.echo(n)), CONFIG.echo);
    await page.evaluate(() => window.bench.client.close());
    const echo = { n: rtts.length, p50: percentile(rtts, 50), p99: percentile(rtts, 99) };
    if (pageErrors(page).length) throw new Error(`${client.id}: page errors: ${pageErrors(page).join('; ')}`);
    return { api, startup_ms: startupMs, echo };
  } finally {
    await page.close();
  }
}

/** One /ws/flood run of `n` messages by the page's current client, garbage collected first. */
async function flood(page, cdp, server, client, n, tag) {
  await page.evaluate((url) => window.bench.client.open(url),
    `${server.ws}/ws/flood?count=${n}&size=${CONFIG.size}&wait=1&client=${tag}`);
  await cdp.send('HeapProfiler.collectGarbage');
  const before = await metrics(cdp);
  const { value: count, ms } = await page.evaluate(() => window.bench.timed('flood'));
  const after = await metrics(cdp);
  await page.evaluate(() => window.bench.client.close());
  if (count !== n) throw new Error(`${client.id}: received ${count} of ${n}`);
  return {
    count,
    ms,
    msgs_per_s: count / (ms / 1000),
    task_us: ((after.TaskDuration - before.TaskDuration) * 1e6) / count,
    script_us: ((after.ScriptDuration - before.ScriptDuration) * 1e6) / count,
  };
}

/**
 * The flood rounds: each client in a page of its own, loaded and warmed up once and kept open
 * (several clients in one page would share the JIT's feedback for the harness code that JS
 * clients have in common, and slow each other), then `CONFIG.floods` rounds.
 */
async function floods(browser, server) {
  const pages = new Map();
  const rows = [];
  try {
    for (const c of CLIENTS) {
      const { page, cdp } = await openBenchPage(browser, server);
      pages.set(c.id, { page, cdp });
      await page.evaluate((name) => window.bench.load(name), c.id);
      await flood(page, cdp, server, c, CONFIG.warmup, `warmup-${c.id}-${Date.now()}`);
    }
    for (let r = 0; r < CONFIG.floods; r += 1) {
      const row = {};
      for (const c of rotated(r)) {
        const { page, cdp } = pages.get(c.id);
        row[c.id] = await flood(page, cdp, server, c, CONFIG.messages, `flood-${c.id}-${r}-${Date.now()}`);
      }
      rows.push(row);
      log(`flood round ${r + 1}/${CONFIG.floods} `
        + CLIENTS.map((c) => `${c.id} ${fmt(row[c.id].msgs_per_s, 0)} msg/s ${fmt(row[c.id].script_us)} us`).join(', '));
    }
    for (const [id, { page }] of pages) {
      if (pageErrors(page).length) throw new Error(`${id}: page errors: ${pageErrors(page).join('; ')}`);
    }
  } finally {
    for (const { page } of pages.values()) await page.close();
  }
  return rows;
}

/** JS heap (after forced GC), wasm memory and listeners before and after N reconnect cycles. */
async function heap(browser, server, client) {
  const { page, cdp } = await openBenchPage(browser, server);
  const id = `heap-${client.id}-${Date.now()}`;
  try {
    await page.evaluate((name) => window.bench.load(name), client.id);
    await page.evaluate((url) => window.bench.client.open(url), `${server.ws}/ws/echo?client=${id}`);
    await page.evaluate(() => window.bench.client.cycles(50)); // warm-up: JIT, caches, pools
    const h0 = await heapNow(cdp);
    const w0 = await page.evaluate(() => window.bench.wasmBytes());
    const t0 = performance.now();
    await page.evaluate((n) => window.bench.client.cycles(n), CONFIG.cycles);
    const ms = performance.now() - t0;
    const h1 = await heapNow(cdp);
    const w1 = await page.evaluate(() => window.bench.wasmBytes());
    const stats = await getJson(`${server.http}/stats?client=${id}`);
    await page.evaluate(() => window.bench.client.close());
    if (pageErrors(page).length) throw new Error(`${client.id}: page errors: ${pageErrors(page).join('; ')}`);
    return {
      cycles: CONFIG.cycles,
      ms,
      reconnecting: await page.evaluate(() => window.bench.client.reconnects),
      js_before: h0.js,
      js_after: h1.js,
      js_growth: h1.js - h0.js,
      wasm_before: w0,
      wasm_after: w1,
      wasm_growth: w1 - w0,
      listeners_before: h0.listeners,
      listeners_after: h1.listeners,
      connections: stats.total_connections,
      max_concurrent: stats.max_concurrent,
    };
  } finally {
    await page.close();
  }
}

async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/**
 * Recovery: every reconnecting client on its own page, all watching one server on a fixed port
 * (`/ws/flood?count=1`: each new connection gets a message at once). The server is killed, kept
 * down for `downMs`, and started again; each client's log gives the delay it had scheduled for
 * the attempt that succeeded and the time of the first new message.
 */
async function recovery(browser, server, clients) {
  const port = await freePort();
  let target = await startServer({ port });
  const pages = [];
  try {
    for (const client of clients) {
      const { page } = await openBenchPage(browser, server);
      await page.evaluate((name) => window.bench.load(name), client.id);
      if (!(await page.evaluate(() => window.bench.client.reconnects))) {
        await page.close();
        continue;
      }
      await page.evaluate((url) => window.bench.client.watch(url),
        `ws://127.0.0.1:${port}/ws/flood?count=1&size=${CONFIG.size}&client=recovery-${client.id}`);
      pages.push({ client, page, trials: [] });
    }
    for (let trial = 0; trial < CONFIG.trials && pages.length; trial += 1) {
      await sleep(5_500); // past every client's stable time: each trial starts from attempt 0
      const killedAt = epoch();
      await target.stop();
      await sleep(CONFIG.downMs);
      const spawnedAt = epoch();
      target = await startServer({ port });
      const readyAt = epoch();
      const deadline = Date.now() + 20_000;
      for (const p of pages) {
        let entry = null;
        while (!entry && Date.now() < deadline) {
          const entries = JSON.parse(await p.page.evaluate(() => window.bench.client.watchLog()));
          const mine = entries.filter(([, t]) => t > killedAt);
          const msgIndex = mine.findIndex(([k, t]) => k === 'msg' && t > spawnedAt);
          if (msgIndex >= 0) {
            const [, msgAt] = mine[msgIndex];
            const scheds = mine.slice(0, msgIndex).filter(([k]) => k === 'sched');
            const last = scheds.at(-1);
            const fireAt = last ? last[1] + last[2] : null;
            const scheduled = fireAt === null ? null : Math.max(0, fireAt - readyAt);
            entry = {
              recovery_ms: msgAt - readyAt,
              scheduled_ms: scheduled,
              overhead_ms: scheduled === null ? null : msgAt - Math.max(fireAt, readyAt),
              attempts: scheds.length,
              server_start_ms: readyAt - spawnedAt,
            };
          } else {
            await sleep(50);
          }
        }
        p.trials.push(entry ?? { recovery_ms: null, timeout: true });
      }
      log(`recovery trial ${trial + 1}:`, pages.map((p) => `${p.client.id} ${fmt(p.trials.at(-1).recovery_ms)} ms`
        + ` (scheduled ${fmt(p.trials.at(-1).scheduled_ms)})`).join(', '));
    }
    for (const p of pages) {
      if (pageErrors(p.page).length) throw new Error(`${p.client.id}: page errors: ${pageErrors(p.page).join('; ')}`);
    }
    return Object.fromEntries(pages.map((p) => [p.client.id, { down_ms: CONFIG.downMs, trials: p.trials }]));
  } finally {
    for (const p of pages) await p.page.close();
    await target.stop();
  }
}

const gzBytes = (bytes) => zlib.gzipSync(bytes, { level: 9 }).length;
const gz = (file) => gzBytes(fs.readFileSync(file));
const fmt = (v, digits = 1) => (v === null || v === undefined ? 'n/a' : Number(v).toFixed(digits));

/**
 * gzip -9 sizes: what an app ships with each client, and the bench page's chunk per client.
 * The npm package's JavaScript is minified by scripts/package.mjs, after it shortened the wasm
 * import/export names; the other wasm clients get both here, on a copy, before they are measured.
 */
async function sizes() {
  const stats = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'out', 'stats.json'), 'utf8'));
  const files = (dir, names) => names.map((n) => path.join(ROOT, dir, n));
  // The JS snippets wasm-bindgen writes beside the glue (inline_js, module imports) are
  // imported by it and ship with it: they count.
  const snippets = (dir) => {
    const root = path.join(ROOT, dir, 'snippets');
    if (!fs.existsSync(root)) return [];
    return fs.readdirSync(root, { recursive: true })
      .filter((f) => f.endsWith('.js'))
      .map((f) => path.join(root, f));
  };
  // `shorten`: a copy of the build gets what scripts/package.mjs does to the npm package
  // before terser, the shortened wasm import/export names (scripts/wasm-names.mjs).
  const copies = [];
  const pkgFiles = (dir, base, minify = false) => {
    let from = path.join(ROOT, dir);
    if (minify) {
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), `bench-size-${base}-`));
      copies.push(copy);
      fs.cpSync(from, copy, { recursive: true });
      minifyWasmNames({
        wasmFile: path.join(copy, `${base}_bg.wasm`),
        glueModule: `./${base}_bg.js`,
        glueFiles: [`${base}_bg.js`, `${base}.js`].map((f) => path.join(copy, f)),
      });
      from = copy;
    }
    const wasm = [path.join(from, `${base}_bg.wasm`)];
    const js = [...[`${base}_bg.js`, `${base}.js`].map((f) => path.join(from, f)).filter((f) => fs.existsSync(f)),
      ...snippets(path.relative(ROOT, from))];
    return { wasm, js, minify };
  };
  const measure = async ({ wasm, js, minify }, what) => {
    const w = wasm.reduce((s, f) => s + gz(f), 0);
    let j = 0;
    for (const f of js) j += minify ? gzBytes(Buffer.from(await minified(f))) : gz(f);
    return { what, wasm: w, js: j, total: w + j };
  };
  const shipped = {
    raw: { what: 'nothing (built into the browser)', wasm: 0, js: 0, total: 0 },
    'resocket-js': await measure({
      // What the root entry loads: the class with its loader, and the engine's wasm.
      wasm: files('pkg', ['resocket.wasm']),
      js: files('pkg', ['resocket.js']),
    }, 'npm package pkg/, what its root entry loads: resocket.js (the class and its loader, minified by terser)'
      + ' + resocket.wasm (the engine: plain wasm exports, no glue)'),
    'resocket-js-resume': await measure({
      wasm: files('pkg', ['resume/resocket.wasm']),
      js: files('pkg', ['resume/resocket.js']),
    }, 'the resocket/resume entry (the resume protocol built in): resume/resocket.js + resume/resocket.wasm'),
    'rust-stream': await measure(pkgFiles('bench/out/min-rust-stream', 'rust_stream', true),
      'a minimal resocket consumer (ReSocket + Typed/Json, resocket without the `resume` feature, wasm-pack, opt-level s, LTO, wasm-opt -Os;'
        + ' wasm import/export names shortened and JS glue and snippets minified as in the package)'),
    'gloo-net': await measure(pkgFiles('bench/out/min-gloo-net', 'gloo_net', true),
      'a minimal gloo-net + serde_json consumer (same build, names shortened and JS glue minified the same way)'),
    rws: await measure({ wasm: [], js: files('node_modules/reconnecting-websocket/dist', ['reconnecting-websocket-iife.min.js']) },
      'dist/reconnecting-websocket-iife.min.js'),
  };
  // gloo-net's consumer as wasm-pack and terser leave it (no name shortening), for ANCHORS.md's figure.
  shipped['gloo-net'].plain = (await measure({ ...pkgFiles('bench/out/min-gloo-net', 'gloo_net'), minify: true }, '')).total;
  for (const copy of copies) fs.rmSync(copy, { recursive: true, force: true });
  const chunk = {};
  for (const c of CLIENTS) {
    const group = stats.namedChunkGroups[c.id];
    const names = [...group.assets, ...(group.auxiliaryAssets || [])].map((a) => a.name);
    chunk[c.id] = names.reduce((s, n) => s + gz(path.join(DIST, n)), 0);
  }
  return { shipped, chunk };
}

function machine(chromium) {
  const cpus = os.cpus();
  return {
    nproc: cpus.length,
    cpu: cpus[0]?.model?.trim() || 'unknown',
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    chromium,
  };
}

/**
 * The median of the per-round ratios of `pick` to the raw WebSocket's in the same round, and a
 * 90% bootstrap interval of that median (2,000 resamples, seeded: the same rounds always give
 * the same interval).
 */
function ratio(rounds, id, pick) {
  const xs = rounds.filter((r) => r[id] && r.raw).map((r) => pick(r[id]) / pick(r.raw));
  if (!xs.length) return { median: null, low: null, high: null };
  let seed = 0x2545f491;
  const random = () => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const medians = Array.from({ length: 2000 }, () => median(xs.map(() => xs[Math.floor(random() * xs.length)])));
  return { median: median(xs), low: percentile(medians, 5), high: percentile(medians, 95) };
}

function summarize(results) {
  const out = {};
  for (const c of CLIENTS) {
    const rs = results.rounds.map((r) => r[c.id]).filter(Boolean);
    const runs = results.floods.map((r) => r[c.id]).filter(Boolean);
    out[c.id] = {
      startup_ms: range(rs.map((r) => r.startup_ms)),
      startup_cold_ms: rs[0]?.startup_ms ?? null,
      msgs_per_s: range(runs.map((r) => r.msgs_per_s)),
      task_us: range(runs.map((r) => r.task_us)),
      script_us: range(runs.map((r) => r.script_us)),
      echo_p50_ms: range(rs.map((r) => r.echo.p50)),
      echo_p99_ms: range(rs.map((r) => r.echo.p99)),
      vs_raw: c.id === 'raw' ? null : {
        throughput: ratio(results.floods, c.id, (r) => r.msgs_per_s),
        script: ratio(results.floods, c.id, (r) => r.script_us),
        task: ratio(results.floods, c.id, (r) => r.task_us),
      },
    };
  }
  return out;
}

async function main() {
  const started = performance.now();
  if (!fs.existsSync(path.join(DIST, 'bench.js'))) throw new Error('bench/out/dist is missing: run `npm run bench`');
  const server = await startServer({ statics: [`/bench=${DIST}`] });
  const browser = await launchBrowser();
  const results = {
    date: new Date().toISOString(),
    machine: machine(`Chromium ${browser.version()}`),
    config: CONFIG,
    clients: CLIENTS.map(({ id, label }) => ({ id, label })),
    floods: [],
    rounds: [],
  };
  log(`${results.machine.nproc} x ${results.machine.cpu}, ${results.machine.chromium}, server ${server.http}`);
  try {
    if (!SKIP.has('floods')) results.floods = await floods(browser, server);
    if (!SKIP.has('rounds')) {
      for (let r = 0; r < CONFIG.rounds; r += 1) {
        const row = {};
        // No client always runs first or right after the same neighbour.
        for (const c of rotated(r)) {
          row[c.id] = await round(browser, server, c, r);
          const x = row[c.id];
          if (x.api) results.clients.find((k) => k.id === c.id).api = x.api;
          log(`page round ${r + 1} ${c.id.padEnd(11)} echo p50 ${fmt(x.echo.p50, 2)} p99 ${fmt(x.echo.p99, 2)} ms`
            + `  first message ${fmt(x.startup_ms)} ms`);
        }
        results.rounds.push(row);
      }
    }
    if (results.floods.length || results.rounds.length) results.summary = summarize(results);
    if (!SKIP.has('heap')) {
      results.heap = {};
      for (const c of CLIENTS) {
        results.heap[c.id] = await heap(browser, server, c);
        const h = results.heap[c.id];
        log(`heap ${c.id.padEnd(11)} ${h.cycles} cycles in ${fmt(h.ms / 1000)} s: JS ${fmt(h.js_growth / 1024)} KB,`
          + ` wasm ${fmt(h.wasm_growth / 1024)} KB, listeners ${h.listeners_before} -> ${h.listeners_after},`
          + ` max concurrent ${h.max_concurrent}${h.reconnecting ? '' : ' (app-level reconnect)'}`);
      }
    }
    if (!SKIP.has('recovery')) {
      results.recovery = await recovery(browser, server, CLIENTS);
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  results.sizes = await sizes();
  results.targets = targets(results);
  results.duration_s = (performance.now() - started) / 1000;
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = renderMarkdown(results, CLIENTS);
  fs.writeFileSync(path.join(OUT, 'results.md'), md);
  fs.writeFileSync(path.join(OUT, 'chart.svg'), renderSvg(results, CLIENTS));
  console.log(`\n${md}`);
  log(`wrote ${path.relative(ROOT, OUT)}/results.json, results.md, chart.svg in ${fmt(results.duration_s, 0)} s`);
}

main().catch((e) => {
  console.error('[bench] failed:', e);
  process.exit(1);
});
