// The Redis session store against a real redis-server (started here on a free 127.0.0.1 port,
// stopped at the end): the RESP client (reply parsing split at every byte, pipelining,
// binary-exact values, AUTH and SELECT, reconnecting after the connection was killed, errors
// without the password), the store's semantics (those of the memory store and of the Rust
// adapter's RedisStore: trim, replay, epochs, drop-oldest, reject, session limit, origin, expiry,
// remove), and two adapter instances ("nodes", each with its own Redis connection and no shared
// memory) with a client alternating between them: nothing lost, nothing duplicated.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resume, RedisStore } from '../index.mjs';
import { RedisReplyError, RespClient, encodeCommand, parseRedisUrl, parseReply } from '../resp.mjs';
import { Client, freePort, msg, sentInOrder, serve, sleep, startRedis, until } from './helpers.mjs';

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

test('RESP replies parse whole, and not before their last byte arrived', () => {
  const wire = Buffer.concat([
    Buffer.from('+OK\r\n-ERR wrong\r\n:-42\r\n$-1\r\n*-1\r\n$0\r\n\r\n'),
    Buffer.from('*3\r\n:1\r\n$4\r\na\r\nb\r\n*2\r\n$2\r\n'),
    Buffer.from([0, 0x0d]), // a binary bulk string is counted, not scanned for CRLF
    Buffer.from('\r\n+x\r\n'),
  ]);
  const values = [];
  for (let at = 0, r; (r = parseReply(wire, at)); at = r.next) values.push(r.value);
  assert.equal(values.length, 7);
  assert.deepEqual(values.slice(0, 1), ['OK']);
  assert.ok(values[1] instanceof RedisReplyError && values[1].prefix === 'ERR');
  assert.deepEqual(values.slice(2, 5), [-42, null, null]);
  assert.deepEqual(values[5], Buffer.alloc(0));
  assert.deepEqual(values[6], [1, Buffer.from('a\r\nb'), [Buffer.from([0, 0x0d]), 'x']]);
  // Every prefix of one reply is incomplete, never an error or a wrong value.
  const one = Buffer.from('*3\r\n:1\r\n$4\r\na\r\nb\r\n*2\r\n$2\r\n\0\r\r\n+x\r\n');
  for (let n = 0; n < one.length; n++) assert.equal(parseReply(one.subarray(0, n)), null, `prefix of ${n} bytes`);
  assert.equal(parseReply(one).next, one.length);
  assert.throws(() => parseReply(Buffer.from('?x\r\n')), /malformed reply/);
  assert.throws(() => parseReply(Buffer.from('$x\r\n')), /malformed reply/);
  assert.deepEqual(encodeCommand(['GET', Buffer.from([1]), 7]), Buffer.from('*3\r\n$3\r\nGET\r\n$1\r\n\x01\r\n$1\r\n7\r\n'));
});

test('Redis URLs: parts parsed, bad ones named without the password', () => {
  assert.deepEqual(parseRedisUrl('redis://u:p%40ss@[::1]:7000/3'), { host: '::1', port: 7000, username: 'u', password: 'p@ss', db: 3 });
  assert.deepEqual(parseRedisUrl('redis://:pw@localhost'), { host: 'localhost', port: 6379, username: null, password: 'pw', db: 0 });
  for (const [bad, why] of [['http://:hunter2@h/', 'scheme'], ['rediss://:hunter2@h/', 'TLS'], ['redis://:hunter2@h/x', 'database'], ['nope hunter2', 'not a URL']]) {
    assert.throws(() => parseRedisUrl(bad), (e) => e.message.includes(why) && !e.message.includes('hunter2'), bad);
  }
});

test('the RESP client: pipelined in order, binary-exact, error replies, reconnects after a kill', async (t) => {
  const c = new RespClient(redis.url);
  const killer = new RespClient(redis.url);
  t.after(() => { c.close(); killer.close(); });
  const bin = Buffer.from([0, 255, 13, 10, 116]);
  const replies = await Promise.all([
    c.command(['SET', 'k:bin', bin]),
    ...Array.from({ length: 500 }, (_, i) => c.command(['INCR', 'k:n']).then((n) => assert.equal(n, i + 1))),
    c.command(['GET', 'k:bin']),
    c.command(['GET', 'k:none']),
  ]);
  assert.equal(replies[0], 'OK');
  assert.deepEqual(replies.at(-2), bin);
  assert.equal(replies.at(-1), null);
  await assert.rejects(c.command(['NOPE']), (e) => e instanceof RedisReplyError && e.prefix === 'ERR');
  // Another client kills every other connection: the next command fails or reconnects; the one
  // after it works.
  assert.ok((await killer.command(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'])) >= 1);
  await c.command(['PING']).catch(() => {});
  assert.equal(await c.command(['PING']), 'PONG');
  c.close();
  await assert.rejects(c.command(['PING']), /closed/);
});

test('AUTH and SELECT from the URL; a wrong password fails without showing it', async () => {
  const locked = await startRedis(['--requirepass', 'hunter2']);
  const clients = [];
  const client = (url) => { clients.push(new RespClient(url)); return clients.at(-1); };
  try {
    const ok = client(`redis://:hunter2@127.0.0.1:${locked.port}/5`);
    await ok.command(['SET', 'where', 'five']);
    const other = client(`redis://default:hunter2@127.0.0.1:${locked.port}/5`);
    assert.deepEqual(await other.command(['GET', 'where']), Buffer.from('five'));
    const db0 = client(`redis://:hunter2@127.0.0.1:${locked.port}/`);
    assert.equal(await db0.command(['GET', 'where']), null);
    const wrong = client(`redis://:wrong-pw@127.0.0.1:${locked.port}/`);
    await assert.rejects(wrong.command(['PING']), (e) => /authentication failed/.test(e.message) && !e.message.includes('wrong-pw'));
  } finally {
    for (const c of clients) c.close();
    await locked.stop();
  }
});

test('an unreachable Redis: connect rejects naming the address, never the password', async (t) => {
  const port = await freePort();
  await assert.rejects(RedisStore.connect(`redis://:hunter2@127.0.0.1:${port}/`), (e) => {
    assert.match(e.message, new RegExp(`ECONNREFUSED.*127\\.0\\.0\\.1:${port}`));
    assert.ok(!e.message.includes('hunter2'), e.message);
    return true;
  });
  // A store error during the handshake closes the connection with 1011 (the client retries).
  const store = new RedisStore({ url: `redis://:hunter2@127.0.0.1:${port}/` });
  const srv = await serve(new Resume({ store }));
  t.after(async () => { await srv.close(); store.close(); });
  const c = new Client(srv.port);
  const ws = await c.open();
  const closed = new Promise((r) => ws.once('close', (code, reason) => r([code, String(reason)])));
  ws.send('\0{"t":"hello","sid":null,"recv":0}');
  const [code, reason] = await closed;
  assert.equal(code, 1011);
  assert.match(reason, /session store error/);
  assert.ok(!reason.includes('hunter2'));
});

test('store semantics match the memory store (and the Rust adapter\'s RedisStore)', async (t) => {
  const store = await RedisStore.connect(redis.url, { prefix: 't2' });
  const c = new RespClient(redis.url);
  t.after(() => { store.close(); c.close(); });
  const l = { maxBufferedMessages: 3, maxBufferedBytes: 10, overflow: 'drop-oldest', ttlMs: 120_000, maxSessions: 2 };
  const o = await store.open(null, 'o', 0, l);
  assert.match(o.sid, /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...o, sid: 0 }, { sid: 0, epoch: 1, resumed: false, recv: 0, sent: 0, replayFrom: 1, replay: [] });
  for (const [i, m] of ['aaaa', 'bbbb', 'cc', 'dddd'].entries()) assert.equal(await store.push(o.sid, o.epoch, m, l), i + 1);
  await store.received(o.sid, o.epoch, 5);
  // Drop-oldest kept seqs 2..=4 (3 messages, 10 bytes).
  const r = await store.open(o.sid, 'o', 0, l);
  assert.deepEqual(r, { sid: o.sid, epoch: 2, resumed: true, recv: 5, sent: 4, replayFrom: 2, replay: ['bbbb', 'cc', 'dddd'] });
  await assert.rejects(store.push(o.sid, o.epoch, 'x', l), (e) => e.kind === 'superseded' && e.code === 4409);
  await store.ack(r.sid, r.epoch, 3);
  await assert.rejects(store.ack(r.sid, r.epoch, 9), (e) => e.code === 1002 && /ack 9 is above the 4/.test(e.message));
  const r2 = await store.open(r.sid, 'o', 3, l);
  assert.deepEqual([r2.replayFrom, r2.replay], [4, ['dddd']]);
  await assert.rejects(store.open(r.sid, 'o', 7, l), (e) => e.code === 1002 && /hello.recv 7/.test(e.message));
  // Binary survives byte for byte, and stays binary.
  const bin = Buffer.from([0, 255, 116, 98]);
  await store.push(r2.sid, r2.epoch, bin, l);
  const r3 = await store.open(r2.sid, 'o', 4, l);
  assert.deepEqual(r3.replay, [bin]);
  assert.ok(Buffer.isBuffer(r3.replay[0]));
  await assert.rejects(store.push(r3.sid, r3.epoch, 'x'.repeat(11), l), (e) => e.code === 1009 && /11 bytes, at most 10/.test(e.message));
  // Another origin: a new session, and the limit of 2 sessions holds.
  assert.equal((await store.open(r3.sid, 'evil', 0, l)).resumed, false);
  await assert.rejects(store.open(null, 'o', 0, l), (e) => e.code === 1013);
  // Reject policy.
  const lr = { ...l, overflow: 'reject', maxBufferedMessages: 1, maxBufferedBytes: 100, maxSessions: 10 };
  const s = await store.open(null, 'o', 0, lr);
  await store.push(s.sid, s.epoch, '1', lr);
  await assert.rejects(store.push(s.sid, s.epoch, '2', lr), /resend buffer full \(1 messages, 1 bytes/);
  // Expiry is Redis's own; remove ends a session at once.
  await store.touch(s.sid, s.epoch, 50);
  await sleep(120);
  await assert.rejects(store.ack(s.sid, s.epoch, 0), (e) => e.kind === 'gone');
  await store.remove(r3.sid, r3.epoch);
  assert.equal((await store.open(r3.sid, 'o', 0, lr)).resumed, false);
  // The layout docs/PROTOCOL.md describes, under the prefix.
  const keys = (await c.command(['KEYS', 't2:*'])).map(String).map((k) => k.replace(/[0-9a-f]{32}/, 'SID')).sort();
  assert.ok(keys.includes('t2:all') && keys.includes('t2:s:SID'), keys.join(' '));
});

for (const [name, total, every] of [['every 9 sends', 240, 9], ['after every send', 40, 1]]) {
  test(`two nodes on one Redis, the client alternating between them (${name}): nothing lost, nothing twice`, async (t) => {
    const node = async () => {
      const store = await RedisStore.connect(redis.url, { prefix: `t3-${every}` });
      return { store, srv: await serve(new Resume({ store, origins: ['http://app.test'] })) };
    };
    const nodes = [];
    t.after(async () => {
      for (const n of nodes) {
        await n.srv.close();
        n.store.close();
      }
    });
    nodes.push(await node(), await node());
    let at = 0;
    const c = new Client(nodes[at].srv.port, 'http://app.test');
    await c.connect();
    for (let i = 0; i < total; i++) {
      c.send(msg(i));
      if (i % every === every - 1) {
        await sleep(1);
        c.drop();
        at = 1 - at;
        c.port = nodes[at].srv.port;
        await c.connect();
      }
    }
    const [a, b] = nodes.map((n) => n.srv.log);
    const sent = () => sentInOrder({ sent: [...a.sent, ...b.sent] });
    await until('everything echoed', () => a.received.length + b.received.length >= total && c.received.length >= sent().length);
    assert.deepEqual([c.resets, c.gaps.length], [0, 0]);
    assert.ok(c.resumes >= Math.floor(total / every), `${c.resumes} resumes`);
    // Each node took part of the stream; together, every message once, in order.
    assert.ok(a.received.length > 0 && b.received.length > 0);
    const expected = Array.from({ length: total }, (_, i) => msg(i));
    const id = (m) => (Buffer.isBuffer(m) ? `b:${m.toString('hex')}` : `t:${m}`);
    const index = new Map(expected.map((m, i) => [id(m), i]));
    const key = (m) => index.get(id(m)) ?? -1;
    const order = [...a.received, ...b.received].map(key);
    assert.ok(!order.includes(-1), 'only sent messages arrived');
    assert.deepEqual([...order].sort((x, y) => x - y), expected.map((_, i) => i), 'server side: each message exactly once');
    for (const log of [a, b]) {
      const mine = log.received.map(key);
      assert.deepEqual(mine, [...mine].sort((x, y) => x - y), 'each node took its part in order');
    }
    // No seq numbered twice across the nodes, and the client got each, once, in order.
    const seqs = [...a.sent, ...b.sent].map(([seq]) => seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'the nodes numbered 1..n between them, none twice');
    assert.deepEqual(c.received, sent(), 'client side');
  });
}
