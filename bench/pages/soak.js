// The soak's page side: N ReSocket clients from the npm package's plain ESM build (pkg/web/),
// each on /ws/echo?client=ID, sending a numbered message every `intervalMs` whatever the
// connection state (while down they wait in the outbox) and checking the echoes that come back.
// The driver (bench/soak-lib.mjs) injects faults through the server's control API and checks
// the server's record of what arrived.
import init, { ReSocket } from '/pkg/web/resocket.js';

// Every browser WebSocket, to check from the browser's side that a client never has two sockets
// CONNECTING or OPEN at once (`overlaps`).
const sockets = new Set();
let overlaps = 0;
const NativeWebSocket = window.WebSocket;
window.WebSocket = class TrackedWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.client = new URL(this.url).searchParams.get('client');
    for (const s of sockets) {
      if (s.readyState > 1) sockets.delete(s);
      else if (s.client === this.client) overlaps += 1;
    }
    sockets.add(this);
  }
};

const clients = new Map();
const errors = [];
window.addEventListener('error', (e) => errors.push(`error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => errors.push(`unhandledrejection: ${e.reason}`));

function startClient(id, base, options, intervalMs) {
  const c = {
    id,
    socket: new ReSocket(`${base}/ws/echo?client=${encodeURIComponent(id)}`, options),
    sent: 0,
    queuedRuns: [], // [first, last] runs of message numbers sent while not open
    opens: 0,
    closes: 0,
    echoes: 0,
    lastEcho: -1,
    echoDisorder: 0,
    sendErrors: 0,
    timer: null,
    events: [],
  };
  const prefix = `m:${id}:`;
  // What happened, stamped with how many messages had been sent: [kind, sent, code].
  c.socket.addEventListener('open', () => { c.opens += 1; c.events.push(['open', c.sent, 0]); });
  c.socket.addEventListener('close', (e) => { c.closes += 1; c.events.push(['close', c.sent, e.code]); });
  c.socket.addEventListener('heartbeattimeout', () => c.events.push(['heartbeattimeout', c.sent, 0]));
  c.socket.addEventListener('message', (e) => {
    if (typeof e.data !== 'string' || !e.data.startsWith(prefix)) return; // heartbeat pongs
    const n = Number(e.data.slice(prefix.length));
    if (n <= c.lastEcho) c.echoDisorder += 1;
    c.lastEcho = n;
    c.echoes += 1;
  });
  c.timer = setInterval(() => {
    const n = c.sent;
    const queued = c.socket.readyState !== 1;
    try {
      c.socket.send(`${prefix}${n}`);
    } catch (e) {
      c.sendErrors += 1;
      errors.push(`send ${id} #${n}: ${e.message}`);
      return;
    }
    c.sent += 1;
    if (queued) {
      const run = c.queuedRuns.at(-1);
      if (run && run[1] === n - 1) run[1] = n;
      else c.queuedRuns.push([n, n]);
    }
  }, intervalMs);
  clients.set(id, c);
}

const summary = (c) => ({
  id: c.id,
  sent: c.sent,
  queuedRuns: c.queuedRuns,
  opens: c.opens,
  closes: c.closes,
  echoes: c.echoes,
  echoDisorder: c.echoDisorder,
  sendErrors: c.sendErrors,
  events: c.events,
  state: c.socket.state,
  stats: c.socket.stats,
});

window.soak = {
  /** Starts the clients; resolves once every one is open. */
  async start({ base, ids, options, intervalMs }) {
    for (const id of ids) startClient(id, base, options, intervalMs);
    await Promise.all([...clients.values()].map((c) => (c.socket.readyState === 1 ? null
      : new Promise((resolve) => c.socket.addEventListener('open', resolve, { once: true })))));
  },
  isOpen: (id) => clients.get(id).socket.readyState === 1,
  closes: (id) => clients.get(id).closes,
  sent: (id) => clients.get(id).sent,
  /** Stops sending; resolves once every client is open with nothing left to send. */
  async drain(timeoutMs) {
    for (const c of clients.values()) clearInterval(c.timer);
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if ([...clients.values()].every((c) => c.socket.readyState === 1 && c.socket.bufferedAmount === 0)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  },
  summaries: () => [...clients.values()].map(summary),
  close() {
    for (const c of clients.values()) c.socket.close();
  },
  overlaps: () => overlaps,
  errors: () => errors,
  wasmBytes: () => 0,
};

const wasm = await init();
window.soak.wasmBytes = () => wasm.memory.buffer.byteLength;
window.soakReady = true;
