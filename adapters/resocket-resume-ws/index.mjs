// The server side of the resocket resume protocol (docs/PROTOCOL.md, subprotocol
// `resocket.resume.v1`) for the Node `ws` package: exactly-once, in-order delivery of text and
// binary messages in both directions across reconnects.
//
// The application's connection handler uses a ResumeSocket in place of the raw `ws` socket.
// Sessions live in a store: MemoryStore (the default, one node), RedisStore (any number of
// nodes, see redis-store.mjs), or any object with the same async methods.
// Errors name the bad value, never a session id or a payload.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  ResumeError, bufferFull, gone, protocolError, storeError, superseded, tooLarge, tooManySessions,
} from './errors.mjs';

/** The subprotocol a server selects to speak this protocol. */
export const PROTOCOL = 'resocket.resume.v1';
/** The largest control frame, in bytes. */
export const MAX_CONTROL_BYTES = 1024;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const SID = /^[0-9a-f]{32}$/;

/** The default bounds (docs/PROTOCOL.md section 5). */
export const DEFAULT_LIMITS = Object.freeze({
  maxBufferedMessages: 1024,
  maxBufferedBytes: 1 << 20,
  overflow: 'drop-oldest', // or 'reject'
  ttlMs: 120_000,
  maxSessions: 10_000,
});

export { ResumeError };
export { RedisStore } from './redis-store.mjs';

/** Encodes a control frame. */
export function encodeControl(obj) {
  return '\0' + JSON.stringify(obj);
}

/** The text frame for an app text message (escaped when it starts with U+0000). */
export function encodeAppText(text) {
  return text.charCodeAt(0) === 0 ? '\0' + text : text;
}

/**
 * Decodes a text frame: `{ app: string }` or `{ control: object }`; throws a protocol error
 * (which never repeats the frame).
 */
export function decodeText(text) {
  if (text.charCodeAt(0) !== 0) return { app: text };
  if (text.charCodeAt(1) === 0) return { app: text.slice(1) };
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONTROL_BYTES) {
    throw protocolError(`control frame of ${bytes} bytes, at most ${MAX_CONTROL_BYTES} allowed`);
  }
  let v;
  try {
    v = JSON.parse(text.slice(1));
  } catch {
    throw protocolError('malformed control frame: not valid JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof v.t !== 'string') {
    throw protocolError('malformed control frame: not an object with a string t');
  }
  const seqOk = (n) => Number.isSafeInteger(n) && n >= 0;
  const need = {
    hello: () => (v.sid === null || typeof v.sid === 'string') && seqOk(v.recv),
    welcome: () => typeof v.sid === 'string' && seqOk(v.recv) && seqOk(v.sent),
    from: () => seqOk(v.seq),
    ack: () => seqOk(v.seq),
    ackreq: () => true,
    ping: () => true,
    pong: () => true,
    bye: () => true,
  }[v.t];
  if (!need) throw protocolError('malformed control frame: unknown type');
  if (!need()) throw protocolError(`malformed control frame: bad fields in ${v.t}`);
  return { control: v };
}

const size = (m) => (typeof m === 'string' ? Buffer.byteLength(m) : m.length);

/** Sessions in this process's memory: fast, one node, lost with the process. */
export class MemoryStore {
  constructor() {
    this.sessions = new Map();
  }

  get size() {
    return this.sessions.size;
  }

  #live(sid, epoch) {
    const s = this.sessions.get(sid);
    if (!s) throw gone();
    if (s.expires <= Date.now()) {
      this.sessions.delete(sid);
      throw gone();
    }
    if (s.epoch !== epoch) throw superseded();
    return s;
  }

  static #trim(s, upto) {
    while (s.first <= upto && s.buffer.length > 0) {
      s.bytes -= size(s.buffer.shift());
      s.first += 1;
    }
  }

  /** Resumes `sid` (same origin, not expired) or creates a session; see the Rust adapter. */
  async open(sid, origin, clientRecv, limits) {
    const now = Date.now();
    const s = sid ? this.sessions.get(sid) : undefined;
    if (s && s.expires > now && s.origin === origin) {
      if (clientRecv > s.sent) {
        throw protocolError(`hello.recv ${clientRecv} is above the ${s.sent} messages the server sent`);
      }
      MemoryStore.#trim(s, clientRecv);
      s.epoch += 1;
      s.expires = now + limits.ttlMs;
      return { sid, epoch: s.epoch, resumed: true, recv: s.recv, sent: s.sent, replayFrom: s.first, replay: [...s.buffer] };
    }
    for (const [k, v] of this.sessions) if (v.expires <= now) this.sessions.delete(k);
    if (this.sessions.size >= limits.maxSessions) {
      throw tooManySessions(limits.maxSessions);
    }
    const id = randomBytes(16).toString('hex');
    this.sessions.set(id, { origin, epoch: 1, recv: 0, sent: 0, first: 1, buffer: [], bytes: 0, expires: now + limits.ttlMs });
    return { sid: id, epoch: 1, resumed: false, recv: 0, sent: 0, replayFrom: 1, replay: [] };
  }

  async push(sid, epoch, message, limits) {
    const s = this.#live(sid, epoch);
    const n = size(message);
    if (n > limits.maxBufferedBytes) {
      throw tooLarge(n, limits.maxBufferedBytes);
    }
    const over = () => s.buffer.length + 1 > limits.maxBufferedMessages || s.bytes + n > limits.maxBufferedBytes;
    if (limits.overflow === 'reject' && over()) {
      throw bufferFull(s.buffer.length, s.bytes);
    }
    while (over() && s.buffer.length > 0) {
      s.bytes -= size(s.buffer.shift());
      s.first += 1;
    }
    if (s.buffer.length === 0) s.first = s.sent + 1;
    s.sent += 1;
    s.bytes += n;
    s.buffer.push(message);
    return s.sent;
  }

  async ack(sid, epoch, seq) {
    const s = this.#live(sid, epoch);
    if (seq > s.sent) throw protocolError(`ack ${seq} is above the ${s.sent} messages the server sent`);
    MemoryStore.#trim(s, seq);
  }

  async received(sid, epoch, seq) {
    const s = this.#live(sid, epoch);
    if (seq > s.recv) s.recv = seq;
  }

  async touch(sid, epoch, ttlMs) {
    this.#live(sid, epoch).expires = Date.now() + ttlMs;
  }

  async remove(sid, epoch) {
    this.#live(sid, epoch);
    this.sessions.delete(sid);
  }
}

/** The Origin allowlist: exact origins, `http://host:*` for any port. */
export function originAllowed(origin, allowed, requireOrigin = false) {
  if (origin === undefined || origin === null) return !requireOrigin;
  const o = String(origin).trim().replace(/\/$/, '').toLowerCase();
  return allowed.some((a) => {
    const p = a.trim().replace(/\/$/, '').toLowerCase();
    if (p === '*') return true;
    if (p.endsWith(':*')) {
      const prefix = p.slice(0, -2);
      return o === prefix || (o.startsWith(prefix + ':') && /^[0-9]+$/.test(o.slice(prefix.length + 1)));
    }
    return p === o;
  });
}

/**
 * The resume layer of a `ws` server. Pass `resume.wsOptions()` to `new WebSocketServer(...)` (it
 * checks Origin with a 403 and selects the subprotocol), then in `connection`:
 * `const s = await resume.accept(ws, req)`.
 */
export class Resume {
  constructor({
    store = new MemoryStore(),
    origins = [],
    requireOrigin = false,
    limits = {},
    helloTimeoutMs = 10_000,
    ackEvery = 32,
    ackDelayMs = 200,
    maxMessageBytes = 1 << 20,
  } = {}) {
    this.store = store;
    this.origins = origins;
    this.requireOrigin = requireOrigin;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.helloTimeoutMs = helloTimeoutMs;
    this.ackEvery = ackEvery;
    this.ackDelayMs = ackDelayMs;
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Whether a request's Origin header may connect. */
  checkOrigin(origin) {
    return originAllowed(origin, this.origins, this.requireOrigin);
  }

  /** `verifyClient` and `handleProtocols` for `new WebSocketServer({ ...resume.wsOptions() })`. */
  wsOptions() {
    return {
      maxPayload: this.maxMessageBytes + 2,
      verifyClient: (info, done) => {
        if (this.checkOrigin(info.req.headers.origin)) done(true);
        else done(false, 403, 'origin not allowed');
      },
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    };
  }

  /**
   * Runs the handshake on a `ws` socket (which selected PROTOCOL); resolves to the
   * ResumeSocket, or rejects with a ResumeError after closing the socket with its code.
   */
  accept(ws, req) {
    const origin = req?.headers?.origin;
    return new Promise((resolve, reject) => {
      const fail = (e) => {
        clearTimeout(timer);
        ws.off('message', onFirst);
        ws.off('close', onClose);
        ws.resume?.();
        if (e.code && ws.readyState === ws.OPEN) ws.close(e.code, e.message.slice(0, 120).replace(/[^\x20-\x7e]/g, '?'));
        reject(e);
      };
      if (!this.checkOrigin(origin)) return fail(new ResumeError('origin', `origin ${JSON.stringify(origin)} is not allowed`, 1008));
      const timer = setTimeout(
        () => fail(new ResumeError('hello-timeout', `no hello within ${this.helloTimeoutMs} ms`, 4408)),
        this.helloTimeoutMs,
      );
      const onClose = () => fail(new ResumeError('closed', 'the connection closed before hello'));
      const onFirst = async (data, isBinary) => {
        ws.off('message', onFirst);
        clearTimeout(timer);
        ws.pause?.();
        try {
          if (isBinary) throw protocolError('expected hello, got a binary app message');
          const f = decodeText(data.toString('utf8'));
          if (!f.control) throw protocolError('expected hello, got a text app message');
          if (f.control.t !== 'hello') throw protocolError(`expected hello, got ${f.control.t}`);
          const { sid, recv } = f.control;
          if (sid !== null && !SID.test(sid)) {
            throw protocolError(`malformed session id (${sid.length} characters; expected 32 lowercase hex)`);
          }
          const o = await this.store.open(sid, origin ?? '', recv, this.limits);
          ws.off('close', onClose);
          const socket = new ResumeSocket(this, ws, o, recv);
          ws.send(encodeControl({ t: 'welcome', sid: o.sid, resumed: o.resumed, recv: o.recv, sent: o.sent, ttl: this.limits.ttlMs }));
          ws.send(encodeControl({ t: 'from', seq: o.replayFrom }));
          for (const m of o.replay) ws.send(typeof m === 'string' ? encodeAppText(m) : m);
          ws.resume?.();
          resolve(socket);
        } catch (e) {
          fail(e instanceof ResumeError ? e : storeError(e));
        }
      };
      ws.on('message', onFirst);
      ws.on('close', onClose);
    });
  }
}

/**
 * One connection of a resumable session. Events: `message` (data: string | Buffer, in order,
 * exactly once across reconnects), `gap` ({from, to}: the client's messages that are gone for
 * good), `close` (this connection ended; the session stays resumable for its ttl).
 */
export class ResumeSocket extends EventEmitter {
  #r;
  #ws;
  #sid;
  #epoch;
  #expect;
  #gotFrom = false;
  #skip = 0;
  #unackedIn = 0;
  #ackTimer = null;
  #ackedIn;
  #acked;
  #askedAck = false;
  #inbound = Promise.resolve();
  #outbound = Promise.resolve();
  #closed = false;
  #touch;

  constructor(resume, ws, opened, clientRecv) {
    super();
    this.#r = resume;
    this.#ws = ws;
    this.#sid = opened.sid;
    this.#epoch = opened.epoch;
    this.#expect = opened.recv + 1;
    this.#ackedIn = opened.recv;
    this.#acked = clientRecv;
    /** Whether the client resumed an existing session. */
    this.resumed = opened.resumed;
    /** How many buffered messages were re-sent at the handshake. */
    this.replayed = opened.replay.length;
    /** The seq of the last message sent in the session. */
    this.lastSent = opened.sent;
    ws.on('message', (data, isBinary) => {
      this.#inbound = this.#inbound.then(() => this.#onFrame(data, isBinary)).catch((e) => this.#fail(e));
    });
    ws.on('close', () => this.#end());
    ws.on('error', () => {});
    const every = Math.max(1000, Math.floor(resume.limits.ttlMs / 3));
    this.#touch = setInterval(() => {
      resume.store.touch(this.#sid, this.#epoch, resume.limits.ttlMs).catch((e) => this.#fail(e));
    }, every);
    this.#touch.unref?.();
  }

  /**
   * Sends a message (string: text, Buffer/Uint8Array: binary): numbered, kept until the client
   * acknowledges it, re-sent after a resume. Resolves to its seq once it is in the session
   * (whether or not this connection is still up); rejects if it is not (superseded, gone,
   * buffer full with overflow 'reject', too large).
   */
  send(message) {
    const m = typeof message === 'string' ? message : Buffer.from(message);
    const p = this.#outbound.then(async () => {
      const seq = await this.#r.store.push(this.#sid, this.#epoch, m, this.#r.limits);
      this.lastSent = seq;
      if (!this.#closed && this.#ws.readyState === this.#ws.OPEN) {
        this.#ws.send(typeof m === 'string' ? encodeAppText(m) : m);
        const half = Math.max(1, Math.floor(this.#r.limits.maxBufferedMessages / 2));
        if (!this.#askedAck && seq - this.#acked > half) {
          this.#askedAck = true;
          this.#ws.send(encodeControl({ t: 'ackreq' }));
        }
      }
      return seq;
    });
    this.#outbound = p.catch(() => {});
    return p;
  }

  /** Ends the session on purpose: bye, close 1000, the session is removed. */
  async close() {
    await this.#outbound;
    if (!this.#closed && this.#ws.readyState === this.#ws.OPEN) {
      this.#ws.send(encodeControl({ t: 'bye' }));
      this.#ws.close(1000, 'session ended');
    }
    await this.#r.store.remove(this.#sid, this.#epoch).catch(() => {});
    this.#end();
  }

  async #onFrame(data, isBinary) {
    if (this.#closed) return;
    let f;
    if (isBinary) f = { app: data };
    else f = decodeText(data.toString('utf8'));
    if (f.control) return this.#onControl(f.control);
    if (!this.#gotFrom) throw protocolError("app message before the client's from");
    if (size(f.app) > this.#r.maxMessageBytes) {
      throw tooLarge(size(f.app), this.#r.maxMessageBytes);
    }
    if (this.#skip > 0) {
      this.#skip -= 1;
      return;
    }
    const seq = this.#expect;
    // Received means handed to the application: recorded first.
    await this.#r.store.received(this.#sid, this.#epoch, seq);
    this.#expect += 1;
    this.emit('message', f.app, isBinary);
    this.#unackedIn += 1;
    if (this.#unackedIn >= this.#r.ackEvery) this.#sendAck();
    else if (!this.#ackTimer) this.#ackTimer = setTimeout(() => this.#sendAck(), this.#r.ackDelayMs);
  }

  #sendAck(force = false) {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    this.#unackedIn = 0;
    const seq = this.#expect - 1;
    if ((seq > this.#ackedIn || force) && !this.#closed && this.#ws.readyState === this.#ws.OPEN) {
      this.#ackedIn = seq;
      this.#ws.send(encodeControl({ t: 'ack', seq }));
    }
  }

  async #onControl(c) {
    switch (c.t) {
      case 'from': {
        if (this.#gotFrom) throw protocolError('a second from on one connection');
        if (c.seq < 1 || c.seq > MAX_SEQ) throw protocolError(`from.seq ${c.seq} out of range`);
        this.#gotFrom = true;
        if (c.seq > this.#expect) {
          const gap = { from: this.#expect, to: c.seq - 1 };
          await this.#r.store.received(this.#sid, this.#epoch, c.seq - 1);
          this.#expect = c.seq;
          this.emit('gap', gap);
        } else {
          this.#skip = this.#expect - c.seq;
        }
        return;
      }
      case 'ack':
        if (c.seq > this.#acked) {
          await this.#r.store.ack(this.#sid, this.#epoch, c.seq);
          this.#acked = c.seq;
          this.#askedAck = false;
        }
        return;
      case 'ackreq':
        return this.#sendAck(true);
      case 'ping':
        if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(encodeControl({ t: 'pong' }));
        return;
      case 'pong':
        return;
      case 'bye':
        await this.#r.store.remove(this.#sid, this.#epoch).catch(() => {});
        this.#ws.close(1000, 'session ended');
        this.#end();
        return;
      default:
        throw protocolError(`unexpected ${c.t} after the handshake`);
    }
  }

  #fail(e) {
    const err = e instanceof ResumeError ? e : storeError(e);
    if (!this.#closed && this.#ws.readyState === this.#ws.OPEN && err.code) {
      this.#ws.close(err.code, err.message.slice(0, 120).replace(/[^\x20-\x7e]/g, '?'));
    }
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#end();
  }

  #end() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#ackTimer);
    clearInterval(this.#touch);
    this.#r.store.touch(this.#sid, this.#epoch, this.#r.limits.ttlMs).catch(() => {});
    this.emit('close');
  }
}
