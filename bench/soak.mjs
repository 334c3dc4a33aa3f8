// `npm run soak`: the chaos soak at full size (bench/soak-lib.mjs describes it): 1,000 forced
// disconnects of mixed kinds while messages flow both ways, within about 3 minutes. Prints its
// figures; exits 1 if an invariant failed. Environment: SOAK_FAULTS (1000), SOAK_CLIENTS (10),
// SOAK_BUDGET_S (170), SOAK_SEED (random; printed, so a failure can be replayed).
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, startServer, ROOT } from '../tests/e2e/harness.mjs';
import { describeSoak, runSoak } from './soak-lib.mjs';

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

const server = await startServer({ statics: [`/bench-pages=${path.join(ROOT, 'bench', 'pages')}`] });
const browser = await launchBrowser();
let result;
try {
  result = await runSoak(server, browser, {
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
for (const line of describeSoak(result)) console.log(`[soak] ${line}`);
const file = path.join(ROOT, 'target', 'soak-last.json');
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`[soak] every figure and detail: ${path.relative(ROOT, file)}`);
process.exit(result.violations.length ? 1 : 0);
