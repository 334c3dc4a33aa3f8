// The `ws` adapter over real `ws` sockets on 127.0.0.1: exactly-once both ways across dropped
// TCP streams, handshake errors and close codes, the Origin allowlist, gaps, the frame format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resume, MemoryStore, decodeText, encodeAppText, encodeControl, originAllowed } from '../index.mjs';
import { Client, msg, sentInOrder, serve, sleep, until } from './helpers.mjs';

test('frames: app text survives unchanged, control frames round-trip, errors never echo input', () => {
  for (const t of ['', 'x', '\0', '\0\0y', '{"t":"ack","seq":1}']) assert.deepEqual(decodeText(encodeAppText(t)), { app: t });
  assert.equal(encodeAppText('abc'), 'abc');
  assert.deepEqual(decodeText('\0{"t":"ack","seq":3,"x":1}'), { control: { t: 'ack', seq: 3, x: 1 } });
  const secret = 'feedfacefeedfacefeedfacefeedface';
  for (const bad of [`\0{"t":"nope","sid":"${secret}"}`, '\0[1]', '\0{', `\0{"t":"ack","seq":"${secret}"}`, `\0{"t":"ping","p":"${'x'.repeat(2000)}"}`]) {
    assert.throws(() => decodeText(bad), (e) => e.code === 1002 && !e.message.includes(secret));
  }
  assert.ok(originAllowed('http://localhost:5173', ['http://localhost:*']));
  assert.ok(!originAllowed('http://localhost.evil:5173', ['http://localhost:*']));
  assert.ok(originAllowed(undefined, []));
  assert.ok(!originAllowed(undefined, [], true));
});

for (const [name, total, every] of [['every 7 sends', 300, 7], ['after every send', 60, 1]]) {
  test(`nothing lost, duplicated or reordered with the TCP dropped ${name}`, async () => {
    const srv = await serve(new Resume({ origins: ['http://app.test'] }));
    const c = new Client(srv.port, 'http://app.test');
    await c.connect();
    for (let i = 0; i < total; i++) {
      c.send(msg(i));
      if (i % every === every - 1) {
        await sleep(1);
        c.drop();
        await c.connect();
      }
    }
    const expected = Array.from({ length: total }, (_, i) => msg(i));
    await until('everything echoed', () => srv.log.received.length >= total && c.received.length >= sentInOrder(srv.log).length);
    assert.deepEqual(srv.log.received, expected, 'server side');
    assert.deepEqual(c.received, sentInOrder(srv.log), 'client side');
    assert.deepEqual([c.resets, c.gaps.length], [0, 0]);
    assert.ok(c.resumes >= Math.floor(total / every));
    await srv.close();
  });
}

test('a full buffer becomes a gap the client reports with the exact range', async () => {
  const srv = await serve(new Resume({ limits: { maxBufferedMessages: 3 } }), { tickMs: 3 });
  const c = new Client(srv.port);
  await c.connect();
  await until('a tick', () => c.received.length > 0);
  const had = c.recv;
  c.drop();
  await sleep(80);
  await c.connect();
  await sleep(30);
  assert.ok(c.gaps.length <= 1);
  if (c.gaps.length) assert.equal(c.gaps[0][0], had + 1);
  const gapLen = c.gaps.reduce((n, [f, t]) => n + t - f + 1, 0);
  assert.equal(c.received.length + gapLen, c.recv, 'every seq received or reported');
  await srv.close();
});

test('origin allowlist: 403 before the upgrade; another origin cannot resume a session', async () => {
  const srv = await serve(new Resume({ origins: ['http://a.test', 'http://b.test'] }));
  await assert.rejects(new Client(srv.port, 'https://evil.test').open(), /403/);
  const a = new Client(srv.port, 'http://a.test');
  await a.connect();
  const b = new Client(srv.port, 'http://b.test');
  b.sid = a.sid;
  await b.connect();
  assert.equal(b.resets, 1);
  assert.notEqual(b.sid, a.sid);
  a.drop();
  await a.connect();
  assert.deepEqual([a.resumes, a.resets], [1, 0]);
  await srv.close();
});

async function closeCode(ws) {
  return new Promise((r) => ws.once('close', (code) => r(code)));
}

test('handshake errors close with the protocol codes; the session limit answers 1013', async () => {
  const srv = await serve(new Resume({ helloTimeoutMs: 200, limits: { maxSessions: 1 } }));
  const c = new Client(srv.port);
  let ws = await c.open();
  assert.equal(await closeCode(ws), 4408);
  ws = await c.open();
  ws.send('hi');
  assert.equal(await closeCode(ws), 1002);
  ws = await c.open();
  ws.send(encodeControl({ t: 'hello', sid: 'nope', recv: 0 }));
  assert.equal(await closeCode(ws), 1002);
  await c.connect();
  ws = await c.open();
  ws.send(encodeControl({ t: 'hello', sid: c.sid, recv: 5 }));
  assert.equal(await closeCode(ws), 1002);
  ws = await c.open();
  ws.send(encodeControl({ t: 'hello', sid: null, recv: 0 }));
  assert.equal(await closeCode(ws), 1013);
  // bye ends the session: 1000, and the slot is free again.
  const closed = closeCode(c.ws);
  c.ws.send(encodeControl({ t: 'bye' }));
  assert.equal(await closed, 1000);
  await new Client(srv.port).connect();
  await srv.close();
});

test('ping gets pong; ackreq gets an ack at once; a repeated from discards duplicates', async () => {
  const srv = await serve(new Resume());
  const c = new Client(srv.port);
  await c.connect();
  c.ws.send(encodeControl({ t: 'ping' }));
  await until('pong', () => c.pongs === 1);
  c.send('one');
  await until('echo', () => c.received.length === 1);
  const acks = [];
  c.ws.on('message', (d) => { const f = decodeText(d.toString()); if (f.control?.t === 'ack') acks.push(f.control.seq); });
  c.ws.send(encodeControl({ t: 'ackreq' }));
  await until('ack', () => acks.includes(1));
  // A connection that re-sends seq 1: the server discards it.
  const sid = c.sid;
  c.drop();
  const ws = await c.open();
  const frames = [];
  ws.on('message', (d, bin) => frames.push(bin ? d : decodeText(d.toString())));
  ws.send(encodeControl({ t: 'hello', sid, recv: 1 }));
  await until('welcome', () => frames.length >= 2);
  ws.send(encodeControl({ t: 'from', seq: 1 }));
  ws.send('one');
  ws.send('two');
  await until('echo two', () => frames.some((f) => f.app === 'two'));
  assert.deepEqual(srv.log.received, ['one', 'two']);
  ws.terminate();
  await srv.close();
});

test('memory store: expiry and the reject policy', async () => {
  const store = new MemoryStore();
  const limits = { maxBufferedMessages: 1, maxBufferedBytes: 100, overflow: 'reject', ttlMs: 30, maxSessions: 5 };
  const o = await store.open(null, '', 0, limits);
  assert.match(o.sid, /^[0-9a-f]{32}$/);
  assert.equal(await store.push(o.sid, o.epoch, 'a', limits), 1);
  await assert.rejects(store.push(o.sid, o.epoch, 'b', limits), /resend buffer full/);
  await sleep(40);
  await assert.rejects(store.ack(o.sid, o.epoch, 0), /gone/);
  assert.equal((await store.open(o.sid, '', 0, limits)).resumed, false);
});
