// A small Redis client: one TCP connection speaking RESP2, commands pipelined in order, bulk
// replies as Buffers (binary-exact), a fresh connection on the next command after the old one
// failed. It is all the Redis session store needs (EVALSHA/EVAL of its scripts), so the adapter
// has no runtime dependency. Errors name the host and port, never the URL's password.

import net from 'node:net';

/** A Redis URL's parts: `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]`. */
export function parseRedisUrl(url) {
  const bad = (why) => new Error(`invalid Redis URL (${why}): expected redis://[USER:PASSWORD@]HOST[:PORT][/DB]`);
  let u;
  try {
    u = new URL(String(url));
  } catch {
    throw bad('not a URL');
  }
  if (u.protocol === 'rediss:') throw bad('TLS (rediss://) is not supported; reach Redis over a TLS tunnel');
  if (u.protocol !== 'redis:') throw bad(`scheme ${JSON.stringify(u.protocol)}`);
  if (!u.hostname) throw bad('no host');
  const db = u.pathname.replace(/^\/+|\/+$/g, '');
  if (db !== '' && !/^[0-9]{1,5}$/.test(db)) throw bad('the database is not a number');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : null,
    password: u.password ? decodeURIComponent(u.password) : null,
    db: db === '' ? 0 : Number(db),
  };
}

/** An error reply of the server (`-ERR ...`). */
export class RedisReplyError extends Error {
  constructor(line) {
    super(`redis: ${line}`);
    this.name = 'RedisReplyError';
    /** The error's first word (`ERR`, `NOSCRIPT`, `WRONGPASS`, ...). */
    this.prefix = line.split(' ', 1)[0];
  }
}

/** Encodes one command (an array of strings, numbers and Buffers) as a RESP array. */
export function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}
const CRLF = Buffer.from('\r\n');

/**
 * Parses one RESP2 reply from `buf` at `at`: `{ value, next }`, or null when the reply is not
 * complete yet. Bulk strings are Buffers (copies), error replies RedisReplyError values, nulls
 * null. Throws on a byte that starts no RESP2 type.
 */
export function parseReply(buf, at = 0) {
  if (at >= buf.length) return null;
  const eol = buf.indexOf(CRLF, at + 1);
  if (eol < 0) return null;
  const line = buf.toString('latin1', at + 1, eol);
  const next = eol + 2;
  const count = () => {
    const n = Number(line);
    if (!Number.isSafeInteger(n) || n < -1) throw new Error('redis: malformed reply (bad length)');
    return n;
  };
  switch (buf[at]) {
    case 0x2b: // +
      return { value: line, next };
    case 0x2d: // -
      return { value: new RedisReplyError(line), next };
    case 0x3a: // :
      return { value: Number(line), next };
    case 0x24: { // $
      const n = count();
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return null;
      return { value: Buffer.from(buf.subarray(next, next + n)), next: next + n + 2 };
    }
    case 0x2a: { // *
      const n = count();
      if (n < 0) return { value: null, next };
      const out = [];
      let i = next;
      for (let k = 0; k < n; k++) {
        const r = parseReply(buf, i);
        if (!r) return null;
        out.push(r.value);
        i = r.next;
      }
      return { value: out, next: i };
    }
    default:
      throw new Error(`redis: malformed reply (type byte 0x${buf[at].toString(16)})`);
  }
}

/** One connection to a Redis server, opened on the first command and again after a failure. */
export class RespClient {
  #opts;
  #conn = null;
  #closed = false;

  /**
   * `url`: `redis://[USER:PASSWORD@]HOST[:PORT][/DB]`. Options: `connectTimeoutMs` (5 s),
   * `commandTimeoutMs` (10 s without any reply while commands wait: the connection is dropped
   * and they fail).
   */
  constructor(url, { connectTimeoutMs = 5000, commandTimeoutMs = 10_000 } = {}) {
    this.#opts = { ...parseRedisUrl(url), connectTimeoutMs, commandTimeoutMs };
  }

  /** Where it connects, for messages (`HOST:PORT`; never the password). */
  get address() {
    const { host, port } = this.#opts;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * Sends one command; resolves to its reply, rejects with a RedisReplyError for an error
   * reply or an Error when the connection failed (the command may or may not have run).
   */
  command(args) {
    if (this.#closed) return Promise.reject(new Error('redis: the client was closed'));
    if (!this.#conn || this.#conn.socket.destroyed) this.#conn = this.#connect();
    return this.#conn.send(args);
  }

  /** Closes the connection; waiting commands fail. */
  close() {
    this.#closed = true;
    this.#conn?.socket.destroy();
    this.#conn = null;
  }

  #connect() {
    const { host, port, username, password, db, connectTimeoutMs, commandTimeoutMs } = this.#opts;
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const pending = [];
    let buf = Buffer.alloc(0);
    let failure = null;
    const fail = (why) => {
      failure ??= new Error(`redis: ${why} (${this.address})`);
      socket.destroy();
    };
    // While commands wait, a silence of commandTimeoutMs ends the connection.
    const arm = () => socket.setTimeout(pending.length ? commandTimeoutMs : 0);
    // `handshake`: what a failed reply means; it ends the connection before the commands
    // pipelined behind it see their own (NOAUTH) replies.
    const send = (args, handshake) => new Promise((resolve, reject) => {
      pending.push({ resolve, reject, handshake });
      if (!socket.connecting && pending.length === 1) arm();
      socket.write(encodeCommand(args));
    });
    socket.setTimeout(connectTimeoutMs);
    socket.on('connect', arm);
    socket.on('timeout', () => fail(socket.connecting ? 'connect timeout' : `no reply within ${commandTimeoutMs} ms`));
    socket.on('error', (e) => fail(`connection failed: ${e.code ?? e.message}`));
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let at = 0;
      try {
        for (let r = parseReply(buf, at); r; r = parseReply(buf, at)) {
          at = r.next;
          const p = pending.shift();
          if (!p) return fail('a reply nobody asked for');
          if (!(r.value instanceof RedisReplyError)) p.resolve(r.value);
          else if (p.handshake) return fail(`${p.handshake} (${r.value.prefix})`);
          else p.reject(r.value);
        }
      } catch (e) {
        return fail(e.message.replace(/^redis: /, ''));
      }
      buf = buf.subarray(at);
      arm();
    });
    socket.on('close', () => {
      const err = failure ?? new Error(`redis: connection closed (${this.address})`);
      for (const p of pending.splice(0)) p.reject(err);
    });
    // The handshake goes first on the wire; a failure ends the connection and every command
    // pipelined behind it.
    if (password !== null) {
      send(username !== null ? ['AUTH', username, password] : ['AUTH', password], 'authentication failed').catch(() => {});
    }
    if (db !== 0) send(['SELECT', db], `cannot select database ${db}`).catch(() => {});
    return { socket, send };
  }
}
