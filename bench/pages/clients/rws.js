// reconnecting-websocket 4.4 from npm (the most used JS peer) with JSON.parse.
import ReconnectingWebSocket from 'reconnecting-websocket';
import { makeClient } from './socketlike.js';

export const { reconnects, open, flood, echo, close, firstMessage, watch, watchLog, cycles } = makeClient({
  make: (url) => new ReconnectingWebSocket(url),
  send: (socket, value) => socket.send(JSON.stringify(value)),
  reconnect: (socket) => socket.reconnect(),
  // Its delay is not observable from outside: wrap the (private) method that computes it.
  instrument: (socket, log) => {
    const next = Object.getPrototypeOf(socket)._getNextDelay;
    // eslint-disable-next-line no-param-reassign
    socket._getNextDelay = function delay() {
      const d = next.call(this);
      if (d > 0) log('sched', d);
      return d;
    };
  },
});
