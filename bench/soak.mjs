// `npm run soak`: the chaos soak at full size (bench/soak-lib.mjs describes it): 1,000 forced
// disconnects of mixed kinds while messages flow both ways, within about 3 minutes.
// `npm run soak -- --resume`: the resume soak (bench/soak-resume-lib.mjs): 1,000 faults against
// /ws/resume with the clients in resume mode, both sides' records compared per direction.
// Prints its figures; exits 1 if an invariant failed. Environment: SOAK_FAULTS (1000),
// SOAK_CLIENTS (10), SOAK_BUDGET_S (170), SOAK_SEED (random; printed, so a failure can be
// replayed).
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, startServer, ROOT } from '../tests/e2e/harness.mjs';
import { describeSoak, runSoak } from './soak-lib.mjs';
import { describeResumeSoak, runResumeSoak } from './soak-resume-lib.mjs';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--resume');
if (unknown.length) {
  console.error(`[soak] unknown argument(s): ${unknown.join(' ')} (known: --resume)`);
  process.exit(2);
}
const resume = args.includes('--resume');
const [run, describe, last] = resume
  ? [runResumeSoak, describeResumeSoak, 'soak-resume-last.json']
  : [runSoak, describeSoak, 'soak-last.json'];

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

const server = await startServer({ statics: [`/bench-pages=${path.join(ROOT, 'bench', 'pages')}`] });
const browser = await launchBrowser();
let result;
try {
  result = await run(server, browser, {
    faults: env('SOAK_FAULTS', 1000),
    clients: env('SOAK_CLIENTS', 10),
    budgetMs: env('SOAK_BUDGET_S', 170) * 1000,
    seed: process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : undefined,
    log: (line) => console.log(`[soak] ${line}`),
  });
} finally {
  await browser.close();
  await server.stop();
}
for (const line of describe(result)) console.log(`[soak] ${line}`);
const file = path.join(ROOT, 'target', last);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`[soak] every figure and detail: ${path.relative(ROOT, file)}`);
process.exit(result.violations.length ? 1 : 0);
