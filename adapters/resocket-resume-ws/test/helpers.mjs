// Shared by the adapter's tests: a `ws` server running the adapter (records and echoes), a client
// that speaks the protocol over a real `ws` socket, and a real redis-server on a free port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer, WebSocket } from 'ws';
import { PROTOCOL, decodeText, encodeAppText, encodeControl } from '../index.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A server whose handler records what it receives and echoes it (and ticks, if asked). */
export async function serve(resume, { tickMs } = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...resume.wsOptions() });
  await new Promise((r) => wss.once('listening', r));
  const log = { received: [], sent: [] };
  wss.on('connection', async (ws, req) => {
    let s;
    try {
      s = await resume.accept(ws, req);
    } catch {
      return;
    }
    s.on('message', async (data, isBinary) => {
      const m = isBinary ? Buffer.from(data) : data;
      log.received.push(m);
      try {
        const seq = await s.send(m);
        log.sent.push([seq, m]);
      } catch {}
    });
    s.on('gap', (g) => log.received.push(`GAP ${g.from}-${g.to}`));
    if (tickMs) {
      let n = 0;
      const t = setInterval(async () => {
        n += 1;
        const m = `tick ${n}`;
        try {
          log.sent.push([await s.send(m), m]);
        } catch {
          clearInterval(t);
        }
      }, tickMs);
      s.on('close', () => clearInterval(t));
    }
  });
  const port = wss.address().port;
  return { port, log, close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }) };
}

/** A client speaking the protocol (the client's side as docs/PROTOCOL.md describes it). */
export class Client {
  constructor(port, origin) {
    Object.assign(this, { port, origin, sid: null, recv: 0, sent: 0, buffer: [], received: [], gaps: [], resets: 0, resumes: 0 });
  }
  open() {
    const headers = this.origin ? { origin: this.origin } : {};
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${this.port}/`, [PROTOCOL], { headers });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  async connect() {
    const ws = await this.open();
    assert.equal(ws.protocol, PROTOCOL);
    this.ws = ws;
    this.expect = this.recv + 1;
    this.skip = 0;
    const welcome = new Promise((resolve) => {
      ws.on('message', (data, isBinary) => {
        const f = isBinary ? { app: Buffer.from(data) } : decodeText(data.toString());
        if (f.control?.t === 'welcome') return resolve(f.control);
        this.onFrame(f);
      });
    });
    ws.on('error', () => {});
    ws.on('close', () => { if (this.ws === ws) this.ws = null; });
    ws.send(encodeControl({ t: 'hello', sid: this.sid, recv: this.recv }));
    const w = await welcome;
    if (this.sid && (!w.resumed || w.sid !== this.sid)) {
      this.resets += 1;
      Object.assign(this, { recv: 0, sent: 0, buffer: [] });
    } else if (w.resumed) this.resumes += 1;
    this.sid = w.sid;
    assert.ok(w.recv <= this.sent);
    this.buffer = this.buffer.filter(([seq]) => seq > w.recv);
    const first = this.buffer.length ? this.buffer[0][0] : this.sent + 1;
    ws.send(encodeControl({ t: 'from', seq: first }));
    for (const [, m] of this.buffer) ws.send(typeof m === 'string' ? encodeAppText(m) : m);
  }
  onFrame(f) {
    if (f.control) {
      const c = f.control;
      if (c.t === 'from') {
        if (c.seq > this.expect) { this.gaps.push([this.expect, c.seq - 1]); this.recv = c.seq - 1; this.expect = c.seq; }
        else this.skip = this.expect - c.seq;
      } else if (c.t === 'ack') this.buffer = this.buffer.filter(([seq]) => seq > c.seq);
      else if (c.t === 'ackreq') this.ws?.send(encodeControl({ t: 'ack', seq: this.recv }));
      else if (c.t === 'pong') this.pongs = (this.pongs ?? 0) + 1;
      return;
    }
    if (this.skip > 0) { this.skip -= 1; return; }
    this.received.push(f.app);
    this.recv = this.expect;
    this.expect += 1;
    if (this.recv % 8 === 0) this.ws?.send(encodeControl({ t: 'ack', seq: this.recv }));
  }
  send(m) {
    this.sent += 1;
    this.buffer.push([this.sent, m]);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(typeof m === 'string' ? encodeAppText(m) : m);
  }
  /** Drops the TCP stream without a close frame. */
  drop() {
    const ws = this.ws;
    this.ws = null;
    ws?.removeAllListeners('message');
    ws?.terminate();
  }
}

export const msg = (i) => (i % 3 === 0 ? `c${i}` : i % 3 === 1 ? Buffer.from([i & 255, i >> 8]) : `\0c${i}`);
export const sentInOrder = (log) => [...log.sent].sort((a, b) => a[0] - b[0]).map(([, m]) => m);

export async function until(what, check, ms = 10_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}


/** A free TCP port on 127.0.0.1 (closed again; the caller binds it at once). */
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Starts a real redis-server ($REDIS_SERVER, else `redis-server` on PATH; scripts/setup.sh
 * installs it) on a free 127.0.0.1 port, without persistence, in a temporary directory;
 * `extra` are more arguments (e.g. ['--requirepass', 'pw']). Resolves once it accepts TCP
 * connections; `stop()` kills it and removes the directory.
 */
export async function startRedis(extra = []) {
  const bin = process.env.REDIS_SERVER || 'redis-server';
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resocket-redis-'));
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let spawnError = null;
  child.once('error', (e) => { spawnError = e; });
  const stop = async () => {
    if (!spawnError && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 10_000;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`${bin} did not start (${spawnError?.code ?? 'it exited'}; scripts/setup.sh installs redis-server)`);
    }
    const up = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > end) {
      await stop();
      throw new Error(`${bin} did not listen on ${port} within 10 s`);
    }
    await sleep(25);
  }
  return { port, url: `redis://127.0.0.1:${port}/`, child, stop };
}
