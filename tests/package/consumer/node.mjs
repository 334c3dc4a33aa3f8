// A Node.js script using the installed package by name: `node node.mjs WS_URL [ws]` runs the
// echo exchange, prints its log as JSON and exits by itself (nothing the package leaves behind
// keeps the process alive). With `ws`, the `ws` package's class is given as the `WebSocket`
// option (Node.js without a global WebSocket).
import { ReSocket } from 'resocket';
import { echo } from './echo.js';

const [url, which] = process.argv.slice(2);
const options = which === 'ws' ? { WebSocket: (await import('ws')).WebSocket } : {};
console.log(JSON.stringify(await echo(ReSocket, url, options)));
