// resocket's JS API (the npm package in pkg/) in JSON mode: `event.data` is the parsed value and
// `send(value)` stringifies. An older build without JSON mode or addEventListener gets strings
// (parsed by socketlike.js) and string sends; `api` says which one was measured.
import { ReSocket } from 'resocket';
import { makeClient } from './socketlike.js';

const full = typeof ReSocket.prototype.addEventListener === 'function';
export const api = full ? 'full (JSON mode)' : 'minimal (no JSON mode; JSON.parse in the page)';

export const { reconnects, open, flood, echo, close, firstMessage, watch, watchLog, cycles } = makeClient({
  make: (url) => new ReSocket(url, { json: true }),
  send: full ? (socket, value) => socket.send(value) : (socket, value) => socket.send(JSON.stringify(value)),
  reconnect: typeof ReSocket.prototype.reconnect === 'function' ? (socket) => socket.reconnect() : null,
  instrument: (socket, log) => {
    if (!full) return;
    // The scheduled retry: a `reconnecting` event carrying the delay in ms.
    socket.addEventListener('reconnecting', (e) => {
      const d = e.delay ?? e.detail?.delay;
      if (typeof d === 'number') log('sched', d);
    });
  },
});
