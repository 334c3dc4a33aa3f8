// A webpack-bundled page (the bundler build, `import 'resocket'`) that also starts a bundled
// module worker doing the same; `window.result` = { page, worker } logs.
import { ReSocket } from 'resocket';
import { echo } from '../echo.js';

const client = new URLSearchParams(location.search).get('client');
const url = (who) => `ws://${location.host}/ws/echo?client=${client}-${who}`;
// The worker gets its URL as its name: nothing is lost while its module (and wasm) loads.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: url('worker') });
const fromWorker = new Promise((resolve) => { worker.onmessage = (e) => resolve(e.data); });
Promise.all([echo(ReSocket, url('page')), fromWorker]).then(([page, log]) => {
  window.result = { page, worker: log };
});
