// One node of a resume cluster on the Node adapter with the Redis store, for
// tests/e2e/resume-cluster.test.mjs: the subset of the project server's API the cluster test
// drives, with the same behaviour, so one test runs against Rust nodes, Node nodes or a mix.
//
//   node cluster-node.mjs --redis redis://127.0.0.1:PORT/ --origin http://127.0.0.1:* [--port N]
//
// Prints `listening on http://127.0.0.1:PORT`, then serves on 127.0.0.1:
// - `/ws/resume?client=ID&tick=MS`: every message is echoed; with `tick`, also
//   `{"type":"tick","seq":S}` every MS ms, S being the seq the tick itself goes out under;
//   a gap the client reports is answered with `{"type":"gap","from":F,"to":T}`.
// - `/control/drop`: ends every connection without a close frame (sessions stay resumable);
//   `/control/refuse?ms=N`: answers upgrades with 503 for N ms.
// - `/stats?client=ID`: `{ total_connections, current_connections, messages: [{t} | {len}] }`,
//   the messages in the order the handler took them.
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { RedisStore, Resume } from '../index.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const redisUrl = flag('--redis');
if (!redisUrl) {
  console.error('cluster-node: --redis URL is required');
  process.exit(2);
}
const store = await RedisStore.connect(redisUrl);
const resume = new Resume({ store, origins: [flag('--origin', 'http://127.0.0.1:*')] });
const wss = new WebSocketServer({ noServer: true, ...resume.wsOptions() });
const clients = new Map();
const stats = (id) => {
  if (!clients.has(id)) clients.set(id, { total_connections: 0, current_connections: 0, messages: [] });
  return clients.get(id);
};
let refuseUntil = 0;

wss.on('connection', async (ws, req, { client, tickMs }) => {
  const st = stats(client);
  st.total_connections += 1;
  st.current_connections += 1;
  ws.on('close', () => { st.current_connections -= 1; });
  let s;
  try {
    s = await resume.accept(ws, req);
  } catch {
    return;
  }
  // One queue: a tick's seq is the session's next when it goes out.
  let queue = Promise.resolve();
  const send = (make) => {
    queue = queue.then(() => s.send(make())).catch(() => {});
  };
  s.on('message', (data, isBinary) => {
    st.messages.push(isBinary ? { len: data.length } : { t: String(data) });
    send(() => (isBinary ? Buffer.from(data) : String(data)));
  });
  s.on('gap', (g) => send(() => JSON.stringify({ type: 'gap', from: g.from, to: g.to })));
  s.on('error', () => {});
  if (tickMs > 0) {
    const t = setInterval(() => send(() => JSON.stringify({ type: 'tick', seq: s.lastSent + 1 })), tickMs);
    s.on('close', () => clearInterval(t));
  }
});

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://node');
  const json = (status, v) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  if (url.pathname === '/control/drop') {
    let n = 0;
    for (const ws of wss.clients) {
      ws.terminate();
      n += 1;
    }
    return json(200, { ok: true, dropped: n });
  }
  if (url.pathname === '/control/refuse') {
    const ms = Number(url.searchParams.get('ms'));
    if (!Number.isSafeInteger(ms) || ms < 0) return json(400, { error: 'ms must be a whole number of ms' });
    refuseUntil = Date.now() + ms;
    return json(200, { ok: true, refusing_ms: ms });
  }
  if (url.pathname === '/stats') {
    const id = url.searchParams.get('client') ?? '';
    return json(200, { client: id, ...stats(id) });
  }
  json(404, { error: 'not found' });
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://node');
  const client = url.searchParams.get('client');
  const tickMs = Number(url.searchParams.get('tick') ?? 0);
  const bad = url.pathname !== '/ws/resume' || !client || !Number.isSafeInteger(tickMs) || tickMs < 0;
  if (bad || Date.now() < refuseUntil) {
    socket.end(`HTTP/1.1 ${bad ? '400 Bad Request' : '503 Service Unavailable'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, { client, tickMs }));
});

server.listen(Number(flag('--port', '0')), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close();
  store.close();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
