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
const MAX_RECORDS = 4096;
const EVENT_KINDS = ['open', 'close', 'heartbeattimeout'];
const errors = [];
window.addEventListener('error', (e) => errors.push(`error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => errors.push(`unhandledrejection: ${e.reason}`));

function startClient(id, base, options, intervalMs) {
  const c = {
    id,
    socket: new ReSocket(`${base}/ws/echo?client=${encodeURIComponent(id)}`, options),
    sent: 0,
    // Preallocated, so that the soak's own bookkeeping does not count as heap growth.
    queuedRuns: new Int32Array(2 * MAX_RECORDS), // [first, last] runs of numbers sent while not open
    runs: 0,
    opens: 0,
    closes: 0,
    echoes: 0,
    lastEcho: -1,
    echoDisorder: 0,
    sendErrors: 0,
    timer: null,
    events: new Int32Array(3 * MAX_RECORDS), // [kind, sent, code] per event (EVENT_KINDS)
    eventCount: 0,
  };
  const record = (kind, code = 0) => {
    if (c.eventCount >= MAX_RECORDS) return;
    c.events.set([EVENT_KINDS.indexOf(kind), c.sent, code], 3 * c.eventCount);
    c.eventCount += 1;
  };
  const prefix = `m:${id}:`;
  // What happened, stamped with how many messages had been sent: [kind, sent, code].
  c.socket.addEventListener('open', () => { c.opens += 1; record('open'); });
  c.socket.addEventListener('close', (e) => { c.closes += 1; record('close', e.code); });
  c.socket.addEventListener('heartbeattimeout', () => record('heartbeattimeout'));
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
      if (c.runs > 0 && c.queuedRuns[2 * c.runs - 1] === n - 1) c.queuedRuns[2 * c.runs - 1] = n;
      else if (c.runs < MAX_RECORDS) {
        c.queuedRuns[2 * c.runs] = n;
        c.queuedRuns[2 * c.runs + 1] = n;
        c.runs += 1;
      }
    }
  }, intervalMs);
  clients.set(id, c);
}

const pairs = (array, n, width) => Array.from({ length: n }, (_, i) => Array.from(array.subarray(width * i, width * i + width)));
const summary = (c) => ({
  id: c.id,
  sent: c.sent,
  queuedRuns: pairs(c.queuedRuns, c.runs, 2),
  opens: c.opens,
  closes: c.closes,
  echoes: c.echoes,
  echoDisorder: c.echoDisorder,
  sendErrors: c.sendErrors,
  events: pairs(c.events, c.eventCount, 3).map(([k, sent, code]) => [EVENT_KINDS[k], sent, code]),
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
