// A Vite-built page (the `web` build: `resocket/web`, started with init()) that also starts a
// module worker doing the same; `window.result` = { page, worker } logs.
import init, { ReSocket } from 'resocket/web';
import { echo } from '../echo.js';

const client = new URLSearchParams(location.search).get('client');
const url = (who) => `ws://${location.host}/ws/echo?client=${client}-${who}`;
// The worker gets its URL as its name: nothing is lost while its module (and wasm) loads.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: url('worker') });
const fromWorker = new Promise((resolve) => { worker.onmessage = (e) => resolve(e.data); });
init()
  .then(() => Promise.all([echo(ReSocket, url('page')), fromWorker]))
  .then(([page, log]) => { window.result = { page, worker: log }; });
