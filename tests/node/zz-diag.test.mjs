import { test } from 'node:test';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer } from '/work/main/tests/e2e/harness.mjs';
import { APP, packedApp } from '/work/main/tests/package/packed.mjs';
packedApp();
const entry = createRequire(path.join(APP, 'index.js')).resolve('resocket');
const { ReSocket } = await import(pathToFileURL(entry));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function freePort() { return new Promise((resolve) => { const srv = net.createServer(); srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); }); }); }
test('kill', async () => {
  const port = await freePort();
  let own = await startServer({ port });
  const t0 = Date.now();
  const log = [];
  const ws = new ReSocket(`${own.ws}/ws/echo?client=x`, { minDelay: 100, maxDelay: 400 });
  const received = [];
  ws.onmessage = (e) => received.push(e.data);
  for (const t of ['open','close','error','statechange','reconnecting','message']) ws.addEventListener(t, (e) => log.push(`${Date.now()-t0} ${t} ${e.detail?.state ?? ''} ${e.code ?? ''}`));
  await new Promise((r) => ws.addEventListener('open', r, { once: true }));
  ws.send('before');
  while (!received.includes('before')) await sleep(20);
  log.push(`${Date.now()-t0} kill`);
  await own.stop();
  log.push(`${Date.now()-t0} killed`);
  const end = Date.now() + 10000;
  while (ws.state !== 'reconnecting') { if (Date.now() > end) { console.log(log.join('\n'), 'state', ws.state, ws.readyState); throw new Error('timeout'); } await sleep(20); }
  ws.close();
});
