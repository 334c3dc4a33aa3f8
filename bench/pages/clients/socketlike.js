// The measurements for the clients with the browser WebSocket's surface (raw WebSocket,
// reconnecting-websocket, resocket's JS API). Each client module calls `makeClient` with how to
// construct its socket, how to send a value, and how to force a reconnect.
// Mirrors bench/rust-stream/src/harness.rs: open, flood, echo, close, firstMessage, watch,
// watchLog, cycles.

const epoch = () => performance.timeOrigin + performance.now();
const openSocket = (make, url) => new Promise((resolve, reject) => {
  const socket = make(url);
  socket.onopen = () => resolve(socket);
  socket.onclose = () => reject(new Error(`closed before open: ${url}`));
});

/**
 * @param {object} spec
 * @param {(url: string) => any} spec.make constructs the socket (connecting at once)
 * @param {(socket: any, value: object) => void} spec.send sends a value as JSON
 * @param {((socket: any) => void) | null} spec.reconnect forces a reconnect (null: the client
 *   has none, so `cycles` closes and opens a new socket the way an app would)
 * @param {(socket: any, log: (kind: string, value?: number) => void) => void} [spec.instrument]
 *   logs each scheduled retry as `log('sched', delayMs)` (recovery measurement)
 */
export function makeClient({ make, send, reconnect, instrument }) {
  let socket = null;
  let url = null;
  const log = [];
  const received = { bytes: 0 };
  const value = (e) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data);

  return {
    reconnects: reconnect !== null,
    async open(u) {
      url = u;
      socket = await openSocket(make, u);
      socket.onclose = null;
    },
    flood() {
      return new Promise((resolve, reject) => {
        let expected = 0;
        let bytes = 0;
        socket.onmessage = (e) => {
          const m = value(e);
          if (m.type === 'done') {
            socket.onmessage = null;
            if (m.count !== expected) reject(new Error(`done after ${expected}, server sent ${m.count}`));
            else { received.bytes = bytes; resolve(expected); }
          } else if (m.seq !== expected) {
            socket.onmessage = null;
            reject(new Error(`expected seq ${expected}, got ${m.seq}`));
          } else {
            expected += 1;
            bytes += m.v.length;
          }
        };
        socket.send('go');
      });
    },
    async echo(n) {
      const rtts = [];
      let waiting = null;
      socket.onmessage = (e) => waiting?.(value(e));
      for (let seq = 0; seq < n; seq += 1) {
        const t0 = performance.now();
        const pong = new Promise((resolve) => { waiting = (m) => { if (m.seq === seq) resolve(); }; });
        send(socket, { seq, t: t0 });
        await pong;
        rtts.push(performance.now() - t0);
      }
      socket.onmessage = null;
      return rtts;
    },
    close() {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
      socket = null;
    },
    firstMessage(u) {
      return new Promise((resolve, reject) => {
        const s = make(u);
        s.onmessage = (e) => { const m = value(e); s.onmessage = null; s.onclose = null; s.close(); resolve(m.seq); };
        s.onclose = () => reject(new Error(`closed before a message: ${u}`));
      });
    },
    async watch(u) {
      log.length = 0;
      let last = 0;
      socket = make(u);
      instrument?.(socket, (kind, v = 0) => log.push([kind, epoch(), v]));
      const opened = new Promise((resolve) => { socket.onopen = () => { log.push(['open', epoch(), 0]); resolve(); }; });
      socket.onclose = (e) => log.push(['disc', epoch(), e.code ?? 0]);
      socket.onmessage = (e) => {
        value(e);
        const t = epoch();
        if (t - last > 50) log.push(['msg', t, 0]);
        last = t;
      };
      await opened;
    },
    watchLog: () => JSON.stringify(log),
    /** `n` reconnect cycles, each: reconnect, wait for open, one echoed message. */
    async cycles(n) {
      for (let seq = 0; seq < n; seq += 1) {
        if (reconnect) {
          const opened = new Promise((resolve) => { socket.onopen = resolve; });
          reconnect(socket);
          await opened;
        } else {
          socket.onclose = null;
          socket.close();
          socket = await openSocket(make, url);
          socket.onclose = null;
        }
        const pong = new Promise((resolve) => { socket.onmessage = (e) => { if (value(e).seq === seq) resolve(); }; });
        send(socket, { seq, t: 0 });
        await pong;
      }
      socket.onmessage = null;
      socket.onopen = null;
    },
  };
}
