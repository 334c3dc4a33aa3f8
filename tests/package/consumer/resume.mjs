// The `resocket/resume` entry by name in Node.js: `node resume.mjs WS_URL` runs the echo
// exchange with `{ resume: true }` (against the server's /ws/resume) and prints, as JSON, its
// log and what the default entry says to the same option (it has no resume protocol built in).
import { ReSocket } from 'resocket/resume';
import { ReSocket as Plain } from 'resocket';
import { echo } from './echo.js';

const [url] = process.argv.slice(2);
let refused = 'nothing thrown';
try {
  new Plain(url, { resume: true }).close();
} catch (e) {
  refused = `${e.name} ${e.kind}: ${e.message}`;
}
console.log(JSON.stringify({ refused, log: await echo(ReSocket, url, { resume: true }) }));
