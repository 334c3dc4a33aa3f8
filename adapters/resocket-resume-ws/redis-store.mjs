// Sessions in Redis, so a client can resume on any node that shares the Redis.
//
// The same layout and the same Lua scripts as the Rust adapter's RedisStore
// (adapters/resocket-resume/src/redis_store.rs), so Node and Rust nodes can share one Redis:
// per session a hash `PREFIX:s:SID` (origin, epoch, recv, sent, first, bytes) and a list
// `PREFIX:b:SID` of the buffered server messages (seqs `first ..= sent`, each a kind byte `t`
// or `b` and the payload); a sorted set `PREFIX:all` (sid -> expiry) bounds the session count.
// Every operation is one script, so it is atomic and checks the caller's epoch; expiry is
// Redis's own (PEXPIRE), refreshed on every write and while a connection is attached.

import { createHash, randomBytes } from 'node:crypto';
import { bufferFull, gone, protocolError, superseded, tooLarge, tooManySessions } from './errors.mjs';
import { RedisReplyError, RespClient } from './resp.mjs';

// Written by hand after the Rust adapter's scripts; a change to one is a change to both.
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function check(epoch)
  if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
  if redis.call('HGET', KEYS[1], 'epoch') ~= epoch then return -1 end
  return 1
end
local function trim(upto)
  local first = tonumber(redis.call('HGET', KEYS[1], 'first'))
  local len = redis.call('LLEN', KEYS[2])
  local n = upto - first + 1
  if n <= 0 then return end
  if n > len then n = len end
  if n > 0 then
    local bytes = 0
    for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, n - 1)) do bytes = bytes + #v - 1 end
    redis.call('LTRIM', KEYS[2], n, -1)
    redis.call('HINCRBY', KEYS[1], 'bytes', -bytes)
  end
  redis.call('HSET', KEYS[1], 'first', first + n)
end
local function keep(ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[3], now_ms() + ttl, ARGV[1])
end
`;

const OPEN = `
local ttl = tonumber(ARGV[5])
if ARGV[2] == 'resume' then
  if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HGET', KEYS[1], 'origin') == ARGV[3] then
    local sent = tonumber(redis.call('HGET', KEYS[1], 'sent'))
    local recv = tonumber(ARGV[4])
    if recv > sent then return {-5, sent} end
    trim(recv)
    local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
    keep(ttl)
    local out = {1, epoch, tonumber(redis.call('HGET', KEYS[1], 'recv')), sent,
                 tonumber(redis.call('HGET', KEYS[1], 'first'))}
    for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do table.insert(out, v) end
    return out
  end
  return {0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms())
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then return {-2} end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'origin', ARGV[3], 'epoch', 1, 'recv', 0, 'sent', 0, 'first', 1, 'bytes', 0)
keep(ttl)
return {1, 1, 0, 0, 1}
`;

const PUSH = `
local c = check(ARGV[2]); if c ~= 1 then return {c} end
local size = #ARGV[3] - 1
local maxm = tonumber(ARGV[4])
local maxb = tonumber(ARGV[5])
if size > maxb then return {-6} end
local len = redis.call('LLEN', KEYS[2])
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes'))
if ARGV[6] == '1' and (len + 1 > maxm or bytes + size > maxb) then return {-4, len, bytes} end
while len > 0 and (len + 1 > maxm or bytes + size > maxb) do
  local v = redis.call('LPOP', KEYS[2])
  bytes = bytes - (#v - 1)
  len = len - 1
  redis.call('HINCRBY', KEYS[1], 'first', 1)
end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'bytes', bytes + size)
local sent = redis.call('HINCRBY', KEYS[1], 'sent', 1)
keep(tonumber(ARGV[7]))
return {1, sent}
`;

const ACK = `
local c = check(ARGV[2]); if c ~= 1 then return {c} end
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent'))
local seq = tonumber(ARGV[3])
if seq > sent then return {-5, sent} end
trim(seq)
return {1}
`;

const RECEIVED = `
local c = check(ARGV[2]); if c ~= 1 then return {c} end
local seq = tonumber(ARGV[3])
if seq > tonumber(redis.call('HGET', KEYS[1], 'recv')) then redis.call('HSET', KEYS[1], 'recv', seq) end
return {1}
`;

const TOUCH = `
local c = check(ARGV[2]); if c ~= 1 then return {c} end
keep(tonumber(ARGV[3]))
return {1}
`;

const REMOVE = `
local c = check(ARGV[2]); if c ~= 1 then return {c} end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return {1}
`;

class Script {
  constructor(body) {
    this.body = PRELUDE + body;
    this.sha = createHash('sha1').update(this.body).digest('hex');
  }
}
const SCRIPTS = {
  open: new Script(OPEN),
  push: new Script(PUSH),
  ack: new Script(ACK),
  received: new Script(RECEIVED),
  touch: new Script(TOUCH),
  remove: new Script(REMOVE),
};

const T = 0x74; // 't': a text message
const B = 0x62; // 'b': a binary message

function encode(m) {
  return typeof m === 'string'
    ? Buffer.concat([Buffer.of(T), Buffer.from(m, 'utf8')])
    : Buffer.concat([Buffer.of(B), m]);
}

function decode(v) {
  if (!Buffer.isBuffer(v) || v.length === 0 || (v[0] !== T && v[0] !== B)) {
    throw storeError('corrupt buffered message');
  }
  return v[0] === T ? v.toString('utf8', 1) : Buffer.from(v.subarray(1));
}

const storeError = (what) => new Error(`redis: ${what}`);
const ms = (n) => String(Math.max(1, Math.floor(n)));

/**
 * Sessions in Redis: any node sharing the Redis (Node or Rust adapter, the same `prefix`) can
 * resume any session. The store methods are those of MemoryStore.
 *
 * ```js
 * const store = await RedisStore.connect('redis://127.0.0.1:6379/');
 * const resume = new Resume({ store, origins: ['https://app.example'] });
 * ```
 */
export class RedisStore {
  #client;
  #prefix;

  /**
   * Options: `url` (`redis://[USER:PASSWORD@]HOST[:PORT][/DB]`, default
   * `redis://127.0.0.1:6379/`), `prefix` of the keys (default `resocket:resume`),
   * `connectTimeoutMs`, `commandTimeoutMs`. Connects on the first call (and again after a
   * failure); `RedisStore.connect` also checks the server answers. Errors never repeat the URL.
   */
  constructor({ url = 'redis://127.0.0.1:6379/', prefix = 'resocket:resume', connectTimeoutMs, commandTimeoutMs } = {}) {
    this.#client = new RespClient(url, { connectTimeoutMs, commandTimeoutMs });
    this.#prefix = String(prefix);
  }

  /** A store whose Redis answered a PING; rejects (without the URL) when it does not. */
  static async connect(url, options = {}) {
    const store = new RedisStore({ ...options, url });
    try {
      await store.#client.command(['PING']);
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** The key prefix. */
  get prefix() {
    return this.#prefix;
  }

  /** Closes the connection to Redis. */
  close() {
    this.#client.close();
  }

  async #run(script, sid, args) {
    const p = this.#prefix;
    const head = [3, `${p}:s:${sid}`, `${p}:b:${sid}`, `${p}:all`, sid];
    let reply;
    try {
      reply = await this.#client.command(['EVALSHA', script.sha, ...head, ...args]);
    } catch (e) {
      if (!(e instanceof RedisReplyError) || e.prefix !== 'NOSCRIPT') throw e;
      reply = await this.#client.command(['EVAL', script.body, ...head, ...args]);
    }
    if (!Array.isArray(reply) || !Number.isInteger(reply[0])) throw storeError('unexpected script reply');
    return reply;
  }

  /** Maps a script's status (the first element) to the adapter's errors. */
  #status(reply, limits, what) {
    switch (reply[0]) {
      case 1: return;
      case -1: throw superseded();
      case -3: throw gone();
      case -2: throw tooManySessions(limits.maxSessions);
      case -4: throw bufferFull(reply[1], reply[2]);
      case -5: throw protocolError(`${what} is above the ${reply[1]} messages the server sent`);
      case -6: throw tooLarge(0, limits.maxBufferedBytes);
      default: throw storeError(`unexpected script status ${reply[0]}`);
    }
  }

  /** Resumes `sid` (same origin, not expired) or creates a session; see MemoryStore.open. */
  async open(sid, origin, clientRecv, limits) {
    const tail = [ms(limits.ttlMs), String(limits.maxSessions)];
    if (sid) {
      const reply = await this.#run(SCRIPTS.open, sid, ['resume', origin, String(clientRecv), ...tail]);
      if (reply[0] !== 0) {
        this.#status(reply, limits, `hello.recv ${clientRecv}`);
        const [, epoch, recv, sent, replayFrom, ...rest] = reply;
        return { sid, epoch, resumed: true, recv, sent, replayFrom, replay: rest.map(decode) };
      }
    }
    const id = randomBytes(16).toString('hex');
    const reply = await this.#run(SCRIPTS.open, id, ['create', origin, '0', ...tail]);
    this.#status(reply, limits, 'hello.recv');
    return { sid: id, epoch: 1, resumed: false, recv: 0, sent: 0, replayFrom: 1, replay: [] };
  }

  /** Appends an outgoing message to the resend buffer; resolves to its seq. */
  async push(sid, epoch, message, limits) {
    const entry = encode(message);
    const reject = limits.overflow === 'reject' ? '1' : '0';
    const reply = await this.#run(SCRIPTS.push, sid, [
      String(epoch), entry, String(limits.maxBufferedMessages), String(limits.maxBufferedBytes), reject, ms(limits.ttlMs),
    ]);
    if (reply[0] === -6) throw tooLarge(entry.length - 1, limits.maxBufferedBytes);
    this.#status(reply, limits, 'push');
    return reply[1];
  }

  /** The client acknowledged every server message up to `seq`. */
  async ack(sid, epoch, seq) {
    this.#status(await this.#run(SCRIPTS.ack, sid, [String(epoch), String(seq)]), null, `ack ${seq}`);
  }

  /** The client message `seq` was received and is being handed to the application. */
  async received(sid, epoch, seq) {
    this.#status(await this.#run(SCRIPTS.received, sid, [String(epoch), String(seq)]), null, 'received');
  }

  /** Keeps the session for `ttlMs` from now. */
  async touch(sid, epoch, ttlMs) {
    this.#status(await this.#run(SCRIPTS.touch, sid, [String(epoch), ms(ttlMs)]), null, 'touch');
  }

  /** Ends the session. */
  async remove(sid, epoch) {
    this.#status(await this.#run(SCRIPTS.remove, sid, [String(epoch)]), null, 'remove');
  }
}
