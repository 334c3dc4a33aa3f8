// Beyond one server: two nodes on one real redis-server (started here on a free 127.0.0.1 port)
// and the JavaScript class in headless Chromium in resume mode, its URL function alternating
// between the nodes, so every reconnect lands on the other node and the session moves with it.
// Runs against two resocket-server processes (`--resume-redis`), two Node processes on the `ws`
// adapter's RedisStore (adapters/resocket-resume-ws/test/cluster-node.mjs), and one of each
// (the two adapters share Redis's key layout and scripts). While the page sends and the nodes
// tick, the test cuts the connection (`/control/drop`), refuses upgrades on one node
// (`/control/refuse`), and kills the idle node, sends the client through the dead node's port,
// and restarts it on the same port. Then, from both sides' records: every message exactly once
// and in order each way (the nodes' records merged, the page's echoes, every tick's seq against
// the count of messages the page received), each node served connections of the one session,
// sessions resumed, no gap, reset or error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { ROOT, getJson, launchBrowser, newPage, startServer, until } from './harness.mjs';
import { startRedis } from '../../adapters/resocket-resume-ws/test/helpers.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');
const NODE_SCRIPT = path.join(ROOT, 'adapters', 'resocket-resume-ws', 'test', 'cluster-node.mjs');
const ORIGINS = 'http://127.0.0.1:*';
const N = 400;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let redis;
let pages;
let browser;
let page;

before(async () => {
  redis = await startRedis();
  pages = await startServer({ statics: [`/fixtures=${FIXTURES}`] });
  browser = await launchBrowser();
  page = await newPage(browser);
  await page.goto(`${pages.http}/fixtures/esm.html?entry=resume`);
  await page.waitForFunction(() => window.ready === true);
});

after(async () => {
  await browser?.close();
  await pages?.stop();
  await redis?.stop();
});

/** A Node-adapter node (cluster-node.mjs) on `port` (0: a free one); resolves once listening. */
async function startNodeProcess(port) {
  const child = spawn(process.execPath, [NODE_SCRIPT, '--redis', redis.url, '--origin', ORIGINS, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffer = '';
  const bound = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Node node did not start within 10 s')), 10_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the Node node exited early with ${code}`)); });
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const m = buffer.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
  });
  child.removeAllListeners('exit');
  return {
    port: bound,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A node of `kind` ('rust': resocket-server --resume-redis; 'node': the ws adapter). */
async function startNode(kind, port = 0) {
  const proc = kind === 'rust'
    ? await startServer({ port, args: ['--resume-redis', redis.url, '--allow-origin', ORIGINS] })
    : await startNodeProcess(port);
  const http = `http://127.0.0.1:${proc.port}`;
  return { kind, port: proc.port, http, ws: `ws://127.0.0.1:${proc.port}`, stop: () => proc.stop() };
}

const stats = (node, client) => getJson(`${node.http}/stats?client=${client}`);
const control = (node, verb) => getJson(`${node.http}/control/${verb}`);

async function cluster(kinds, t) {
  const client = `cluster-${kinds.join('-')}`;
  const nodes = [];
  t.after(async () => { for (const n of nodes) await n.stop(); });
  for (const kind of kinds) nodes.push(await startNode(kind));
  console.log(`[cluster] ${kinds.join(' + ')} nodes on ports ${nodes.map((n) => n.port).join(', ')}, redis on ${redis.port}`);
  const urls = nodes.map((n) => `${n.ws}/ws/resume?client=${client}&tick=20`);
  const run = page.evaluate(async ({ urls, N }) => {
    let attempt = 0;
    const ws = new ReSocket(() => urls[attempt++ % urls.length], { resume: true, minDelay: 20, maxDelay: 100 });
    const got = [];
    const events = [];
    ws.onmessage = (e) => got.push(e.data);
    for (const type of ['resumed', 'gap', 'reset', 'discarded', 'error']) {
      ws.addEventListener(type, (e) => events.push({ type, detail: e.detail ?? e.message }));
    }
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < N; i++) {
      ws.send(`m${i}`);
      await sleep(8);
    }
    const start = Date.now();
    while (got.filter((d) => d.startsWith('m')).length < N && Date.now() - start < 30000) await sleep(20);
    ws.close(1000);
    return { got, events, attempts: attempt };
  }, { urls, N });
  let done = false;
  run.then(() => { done = true; }, () => { done = true; });

  // Faults while traffic flows both ways, until the page has every echo.
  const earlier = nodes.map(() => ({ messages: [], connections: 0 }));
  const faults = { drops: 0, refusals: 0, restarts: 0 };
  for (let step = 1; !done; step++) {
    await sleep(150);
    if (done) break;
    if (step === 10) {
      // Kill the node the client is not on (its records are final), send the client through
      // the dead node's port, then restart it on the same port.
      let busy = -1;
      await until('the client on exactly one node', async () => {
        const cur = await Promise.all(nodes.map(async (n) => (await stats(n, client)).current_connections));
        busy = cur.findIndex((c) => c > 0);
        return cur.filter((c) => c > 0).length === 1;
      });
      const idle = 1 - busy;
      const s = await stats(nodes[idle], client);
      earlier[idle].messages.push(...s.messages);
      earlier[idle].connections += s.total_connections;
      await nodes[idle].stop();
      const before = (await stats(nodes[busy], client)).total_connections;
      await control(nodes[busy], 'drop');
      await until('the client back on the live node', async () => (await stats(nodes[busy], client)).total_connections > before);
      nodes[idle] = await startNode(kinds[idle], nodes[idle].port);
      faults.restarts += 1;
    } else if (step % 4 === 0) {
      await control(nodes[(step / 4) % 2], 'refuse?ms=250');
      faults.refusals += 1;
    } else {
      const dropped = await Promise.all(nodes.map((n) => control(n, 'drop')));
      if (dropped.some((d) => d.dropped > 0)) faults.drops += 1;
    }
  }
  const { got, events, attempts } = await run;
  console.log(`[cluster] ${JSON.stringify(faults)}, ${attempts} connection attempts, ${got.length} messages received by the page`);
  assert.ok(faults.drops >= 5 && faults.refusals >= 1 && faults.restarts === 1, JSON.stringify(faults));

  // Client to server: each node took its part in order; together, every message exactly once.
  const want = Array.from({ length: N }, (_, i) => `m${i}`);
  const records = await Promise.all(nodes.map(async (n, i) => {
    const s = await stats(n, client);
    return { messages: [...earlier[i].messages, ...s.messages].map((m) => m.t), connections: earlier[i].connections + s.total_connections };
  }));
  const index = (m) => (/^m\d+$/.test(m) ? Number(m.slice(1)) : -1);
  for (const [i, r] of records.entries()) {
    const mine = r.messages.map(index);
    assert.ok(!mine.includes(-1), `node ${i} took only the page's messages`);
    assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `node ${i} took its part in order`);
    assert.ok(r.messages.length > 0, `node ${i} took part of the stream`);
    assert.ok(r.connections >= 2, `node ${i} served ${r.connections} connections of the session`);
  }
  const merged = records.flatMap((r) => r.messages.map(index)).sort((a, b) => a - b);
  assert.deepEqual(merged, want.map((_, i) => i), 'server side: every message exactly once');

  // Server to client: every echo once, in order; every tick's seq is its position in
  // everything the page received (any message lost, repeated or reordered shifts it).
  assert.deepEqual(got.filter((d) => d.startsWith('m')), want, 'client side: every echo once, in order');
  let ticks = 0;
  got.forEach((d, i) => {
    if (d.startsWith('m')) return;
    const v = JSON.parse(d);
    assert.deepEqual(v, { type: 'tick', seq: i + 1 }, `message at position ${i}`);
    ticks += 1;
  });
  assert.ok(ticks > 20, `${ticks} ticks`);
  assert.deepEqual(events.filter((e) => e.type !== 'resumed'), [], 'no gap, reset, discard or error');
  const resumed = events.filter((e) => e.type === 'resumed' && e.detail.resumed).length;
  assert.ok(resumed >= 5, `${resumed} sessions resumed after ${faults.drops} drops`);
  // Chromium logs every refused connection (dead node, 503) to the console; nothing else.
  const otherErrors = page.errors.filter((e) => !/^console: WebSocket connection to .* failed/.test(e));
  assert.deepEqual(otherErrors, []);
  page.errors.length = 0;
}

test('two resocket-server processes on one Redis: the session moves between them, nothing lost or twice', (t) => cluster(['rust', 'rust'], t));
test('two Node processes on the ws adapter\'s RedisStore: the same', (t) => cluster(['node', 'node'], t));
test('a Rust node and a Node node on one Redis share sessions: the same', (t) => cluster(['rust', 'node'], t));
