// A short resume soak (the full one is `npm run soak -- --resume`; bench/soak-resume-lib.mjs
// describes both): 150 faults of mixed kinds (server drops, close frames, refused reconnects,
// client-side kills; about half right after a burst of text and binary messages both ways) on 5
// JS ReSocket clients in resume mode against the server's /ws/resume, while numbered messages
// flow both ways. Fails on any message lost, duplicated, reordered or unknown in either
// direction (the client's record against the server application's, and the other way round), a
// gap or reset event, a second live socket, a page error, or a run where no fault landed
// mid-send.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, launchBrowser, startServer } from './harness.mjs';
import { describeResumeSoak, runResumeSoak } from '../../bench/soak-resume-lib.mjs';

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

test('resume soak: 150 faults, nothing lost, duplicated or reordered either way by both sides\' records', async (t) => {
  const result = await runResumeSoak(server, browser, { faults: 150, clients: 5, budgetMs: 60_000 });
  for (const line of describeResumeSoak(result)) t.diagnostic(line);
  assert.equal(result.faults, 150, 'every fault was injected within the time budget');
  assert.ok(result.c2s.sent > 0 && result.s2c.sent > 0, 'messages flowed both ways');
  assert.ok(result.resumed >= 150, `${result.resumed} sessions resumed`);
  assert.deepEqual(result.violations, [], describeResumeSoak(result).join('\n'));
});
