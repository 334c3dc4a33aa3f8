// A short chaos soak (the full one is `npm run soak`; bench/soak-lib.mjs describes both): 50
// forced disconnects of mixed kinds (drop, close codes, refuse, silence) on 5 JS ReSocket clients
// while numbered messages flow both ways. Fails on any outbox message lost, any message
// duplicated or reordered, a second live socket, a page error, or 1 MB of heap growth.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, launchBrowser, startServer } from './harness.mjs';
import { describeSoak, runSoak } from '../../bench/soak-lib.mjs';

let server;
let browser;
before(async () => {
  server = await startServer({ statics: [`/bench-pages=${path.join(ROOT, 'bench', 'pages')}`] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('soak: 50 forced disconnects lose no outbox message, duplicate nothing, keep one socket', async (t) => {
  const result = await runSoak(server, browser, { faults: 50, clients: 5, warmup: 10, budgetMs: 60_000 });
  for (const line of describeSoak(result)) t.diagnostic(line);
  assert.equal(result.faults, 50, 'every fault was injected within the time budget');
  assert.deepEqual(result.violations, [], describeSoak(result).join('\n'));
});
