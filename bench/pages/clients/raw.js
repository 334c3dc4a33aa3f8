// The in-browser limit: the browser WebSocket and JSON.parse, nothing else.
import { makeClient } from './socketlike.js';

export const { reconnects, open, flood, echo, close, firstMessage, watch, watchLog, cycles } = makeClient({
  make: (url) => new WebSocket(url),
  send: (socket, value) => socket.send(JSON.stringify(value)),
  reconnect: null,
});
