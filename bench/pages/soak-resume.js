// The resume soak's page side: N ReSocket clients in resume mode (`{ resume: true }`, the npm
// package's plain ESM build, pkg/web/), each on /ws/resume?client=ID&tick=MS. Every client sends
// a numbered message every `intervalMs` whatever the connection state, and on the driver's word a
// burst of text and binary messages (so that a fault lands while messages are in flight both
// ways); the server echoes each one and sends a tick every `tickMs`. The page records what each
// client's application received, in order, as compact keys (see KEY), and what the resume events
// reported. The driver (bench/soak-resume-lib.mjs) injects the faults and compares these records
// with the server's (/stats: what its handler took and what it sent).
import { ReSocket } from '/pkg/resume/resocket.js';

// Every browser WebSocket, to check from the browser's side that a client never has two sockets
// CONNECTING or OPEN at once (`overlaps`), and what was sent on a socket already CLOSING or
// CLOSED (Chromium discards it with a console error): the control frame's type, or "app".
const sockets = new Set();
let overlaps = 0;
const lateSends = [];
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

  send(data) {
    if (this.readyState > 1) {
      const control = typeof data === 'string' && data[0] === '\0' && data[1] !== '\0';
      lateSends.push(control ? (/"t":"(\w+)"/.exec(data)?.[1] ?? 'control') : 'app');
    }
    super.send(data);
  }
};

/** A received message as one number: `4n` the echo of text #n, `4n+1` the echo of binary #n,
 * `4s+2` the tick of seq s, `4i+3` the i-th gap notice from the server. The driver computes the
 * same keys from the server's record of what it sent. */
const KEY = { echoText: 0, echoBinary: 1, tick: 2, gap: 3 };
/** Binary messages: the message number as 8 ASCII digits, then byte i = (n + i) & 255. */
const DIGITS = 8;
const errors = [];
window.addEventListener('error', (e) => errors.push(`error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => errors.push(`unhandledrejection: ${e.reason}`));

const clients = new Map();

function binary(n, size) {
  const bytes = new Uint8Array(Math.max(size, DIGITS));
  const digits = String(n).padStart(DIGITS, '0');
  for (let i = 0; i < DIGITS; i += 1) bytes[i] = digits.charCodeAt(i);
  for (let i = DIGITS; i < bytes.length; i += 1) bytes[i] = (n + i) & 255;
  return bytes;
}

/** The number a binary echo carries, or -1 if any of its bytes is not what was sent. */
function binaryNumber(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < DIGITS) return -1;
  const n = Number(String.fromCharCode(...bytes.subarray(0, DIGITS)));
  if (!Number.isInteger(n)) return -1;
  for (let i = DIGITS; i < bytes.length; i += 1) if (bytes[i] !== ((n + i) & 255)) return -1;
  return n;
}

function startClient(id, base, options, intervalMs, tickMs) {
  const url = `${base}/ws/resume?client=${encodeURIComponent(id)}&tick=${tickMs}`;
  const c = {
    id,
    socket: new ReSocket(url, options),
    sent: 0, // client -> server: the next message number
    keys: [], // server -> client: what the application received, in order
    gaps: 0,
    corrupt: 0,
    tickMismatch: 0,
    opens: 0,
    closes: 0,
    resumedEvents: 0,
    newSessions: 0,
    resent: 0,
    replayed: 0,
    gapEvents: [],
    resetEvents: [],
    discarded: 0,
    heartbeatTimeouts: 0,
    errorEvents: 0,
    timer: null,
  };
  c.socket.binaryType = 'arraybuffer';
  const prefix = `c:${id}:`;
  c.socket.addEventListener('open', () => { c.opens += 1; });
  c.socket.addEventListener('close', () => { c.closes += 1; });
  c.socket.addEventListener('heartbeattimeout', () => { c.heartbeatTimeouts += 1; });
  c.socket.addEventListener('error', () => { c.errorEvents += 1; });
  c.socket.addEventListener('resumed', (e) => {
    c.resumedEvents += 1;
    if (!e.detail.resumed) c.newSessions += 1;
    c.resent += e.detail.resent;
    c.replayed += e.detail.replayed;
  });
  c.socket.addEventListener('gap', (e) => c.gapEvents.push(e.detail));
  c.socket.addEventListener('reset', (e) => c.resetEvents.push(e.detail));
  c.socket.addEventListener('discarded', (e) => { c.discarded += e.detail.dropped + e.detail.expired; });
  c.socket.addEventListener('message', (e) => {
    if (typeof e.data !== 'string') {
      const n = binaryNumber(e.data);
      if (n < 0) { c.corrupt += 1; return; }
      c.keys.push(4 * n + KEY.echoBinary);
      return;
    }
    if (e.data.startsWith(prefix)) {
      c.keys.push(4 * Number(e.data.slice(prefix.length)) + KEY.echoText);
      return;
    }
    let v;
    try { v = JSON.parse(e.data); } catch { v = null; }
    if (v?.type === 'tick') {
      // The tick goes out under seq `v.seq`: with nothing lost or repeated before it, it is
      // the session's message number keys.length + 1.
      if (v.seq !== c.keys.length + 1) c.tickMismatch += 1;
      c.keys.push(4 * v.seq + KEY.tick);
    } else if (v?.type === 'gap') {
      c.keys.push(4 * c.gaps + KEY.gap);
      c.gaps += 1;
    } else {
      c.corrupt += 1;
    }
  });
  c.send = (data) => {
    try {
      c.socket.send(data);
      c.sent += 1;
      return true;
    } catch (e) {
      errors.push(`send ${id} #${c.sent}: ${e.message}`);
      return false;
    }
  };
  c.timer = setInterval(() => c.send(`${prefix}${c.sent}`), intervalMs);
  clients.set(id, c);
}

const BINARY_SIZES = [64, 4096, 16384, 65536];

window.soak = {
  /** Starts the clients; resolves once every one is open. */
  async start({ base, ids, options, intervalMs, tickMs }) {
    for (const id of ids) startClient(id, base, options, intervalMs, tickMs);
    await Promise.all([...clients.values()].map((c) => (c.socket.readyState === 1 ? null
      : new Promise((resolve) => c.socket.addEventListener('open', resolve, { once: true })))));
  },
  isOpen: (id) => clients.get(id).socket.readyState === 1,
  resumedEvents: (id) => clients.get(id).resumedEvents,
  /** Sends `n` messages at once, every `binaryEvery`-th one binary (sizes from 64 B to 64 KB):
   * they and their echoes are on the wire, both ways, when the fault that follows lands. */
  burst(id, n, binaryEvery, pick) {
    const c = clients.get(id);
    const prefix = `c:${id}:`;
    for (let i = 0; i < n; i += 1) {
      const size = BINARY_SIZES[(pick + i) % BINARY_SIZES.length];
      if (!c.send(i % binaryEvery === binaryEvery - 1 ? binary(c.sent, size) : `${prefix}${c.sent}`)) break;
    }
    return c.socket.stats.unacked;
  },
  /** A client-side kill: the client closes its socket and connects again at once. */
  reconnect: (id) => clients.get(id).socket.reconnect(),
  stopSending() {
    for (const c of clients.values()) clearInterval(c.timer);
  },
  /** Whether every client is open with nothing queued or unacknowledged. */
  drained: () => [...clients.values()].every((c) => {
    if (c.socket.readyState !== 1) return false;
    const s = c.socket.stats;
    return s.outboxLength === 0 && s.unacked === 0;
  }),
  received: (id) => clients.get(id).keys.length,
  record(id) {
    const c = clients.get(id);
    const { socket, timer, send, ...rest } = c;
    return { ...rest, state: socket.state, stats: socket.stats };
  },
  close() {
    for (const c of clients.values()) c.socket.close();
  },
  overlaps: () => overlaps,
  lateSends: () => lateSends,
  errors: () => errors,
};

await ReSocket.ready;
window.soakReady = true;
