// `npm run bench -- --profile`: where the receive path spends its time and allocates, per client.
// A /ws/flood run under the CDP CPU profiler (Profiler, 50 us sampling), then another under the
// sampling heap profiler (HeapProfiler.startSampling); prints the top functions by self time
// and by bytes allocated. scripts/bench.sh builds the npm package and the Rust bench crate with
// `wasm-pack --profiling` for it (wasm function names kept) into bench/out/*-profiling and
// bundles them into bench/out/dist-profiling; writes bench/out/profile-CLIENT.cpuprofile (open
// it in Chrome DevTools, Performance panel) and a summary in bench/out/profile.json.
// Environment: PROFILE_CLIENTS (raw,resocket-js,rust-stream,gloo-net), PROFILE_MESSAGES (20000).
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, newPage, ROOT } from '../tests/e2e/harness.mjs';

const DIST = path.join(ROOT, 'bench', 'out', 'dist-profiling');
const OUT = path.join(ROOT, 'bench', 'out');
const CLIENTS = (process.env.PROFILE_CLIENTS || 'raw,resocket-js,rust-stream,gloo-net').split(',');
const MESSAGES = Number(process.env.PROFILE_MESSAGES || 20_000);
const TOP = 22;

const short = (frame) => {
  const name = frame.functionName || '(anonymous)';
  const file = frame.url ? frame.url.split('/').pop() : '';
  const wasm = file.endsWith('.wasm') || frame.url.startsWith('wasm');
  return file && !name.startsWith('(') ? `${name}  [${wasm ? 'wasm' : `${file}:${frame.lineNumber + 1}`}]` : name;
};

function cpuSummary(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] || 0;
    self.set(id, (self.get(id) || 0) + dt);
  });
  const byName = new Map();
  let total = 0;
  let wasm = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    const key = short(node.callFrame);
    if (node.callFrame.functionName === '(idle)') continue;
    total += us;
    if (/\.wasm$|^wasm/.test(node.callFrame.url) || /^wasm-|-to-wasm|-to-js/.test(node.callFrame.functionName)) wasm += us;
    byName.set(key, (byName.get(key) || 0) + us);
  }
  const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, TOP)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
  return { busy_ms: total / 1000, wasm_ms: wasm / 1000, top };
}

function allocSummary(profile) {
  const byName = new Map();
  let total = 0;
  const walk = (node) => {
    if (node.selfSize) {
      const key = short(node.callFrame);
      byName.set(key, (byName.get(key) || 0) + node.selfSize);
      total += node.selfSize;
    }
    node.children.forEach(walk);
  };
  walk(profile.head);
  const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 12)
    .map(([name, bytes]) => ({ name, kb: bytes / 1024, share: bytes / total }));
  return { sampled_kb: total / 1024, top };
}

async function flood(page, server, tag) {
  await page.evaluate((url) => window.bench.client.open(url),
    `${server.ws}/ws/flood?count=${MESSAGES}&size=64&wait=1&client=profile-${tag}-${Date.now()}`);
}

const server = await startServer({ statics: [`/bench=${DIST}`] });
const browser = await launchBrowser();
const summary = {};
try {
  for (const id of CLIENTS) {
    const page = await newPage(browser);
    const cdp = await page.context().newCDPSession(page);
    await page.goto(`${server.http}/bench/index.html`);
    await page.waitForFunction(() => window.benchReady === true);
    await page.evaluate((name) => window.bench.load(name), id);
    await flood(page, server, `${id}-warm`); // warm-up: JIT tiers, wasm tier-up
    await page.evaluate(() => window.bench.client.flood());
    await page.evaluate(() => window.bench.client.close());

    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
    await flood(page, server, id);
    await cdp.send('Profiler.start');
    const { ms } = await page.evaluate(() => window.bench.timed('flood'));
    const { profile } = await cdp.send('Profiler.stop');
    await page.evaluate(() => window.bench.client.close());
    fs.writeFileSync(path.join(OUT, `profile-${id}.cpuprofile`), JSON.stringify(profile));

    await cdp.send('HeapProfiler.enable');
    await flood(page, server, `${id}-alloc`);
    await cdp.send('HeapProfiler.startSampling', {
      samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    });
    await page.evaluate(() => window.bench.client.flood());
    const { profile: alloc } = await cdp.send('HeapProfiler.stopSampling');
    await page.evaluate(() => window.bench.client.close());
    await page.close();

    const cpu = cpuSummary(profile);
    const mem = allocSummary(alloc);
    summary[id] = { messages: MESSAGES, flood_ms: ms, cpu, alloc: mem };
    console.log(`\n== ${id}: ${MESSAGES} messages in ${ms.toFixed(0)} ms; main thread busy ${cpu.busy_ms.toFixed(0)} ms`
      + ` (${((cpu.busy_ms * 1000) / MESSAGES).toFixed(1)} us/msg), in wasm ${cpu.wasm_ms.toFixed(0)} ms`);
    for (const f of cpu.top) {
      console.log(`${f.ms.toFixed(1).padStart(8)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
    }
    console.log(`-- JS heap allocations (sampled every 512 bytes, collected objects included; `
      + `${((mem.sampled_kb * 1024) / MESSAGES).toFixed(0)} bytes per message):`);
    for (const f of mem.top) {
      console.log(`${f.kb.toFixed(1).padStart(8)} KB ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
    }
  }
} finally {
  await browser.close();
  await server.stop();
}
fs.writeFileSync(path.join(OUT, 'profile.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`\n[profile] wrote bench/out/profile.json and bench/out/profile-*.cpuprofile`);
