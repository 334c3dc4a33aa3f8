// Compiled by `tsc --strict` in npm test (tests/e2e/types.test.mjs): the package's types accept
// what the docs show and reject what the runtime rejects (each @ts-expect-error must be an error).
import { ReSocket, type ReSocketOptions, type ReSocketStats, type ReSocketState } from 'resocket';
import init, { ReSocket as WebReSocket } from 'resocket/web';

interface Tick { type: 'tick'; seq: number; symbol: string; price: number }

const options: ReSocketOptions = {
  json: true,
  minDelay: 250,
  maxDelay: 10_000,
  factor: 1.5,
  jitter: 'equal',
  maxRetries: null,
  heartbeat: { interval: 5_000, timeout: 3_000, message: '{"type":"ping"}' },
  overflow: 'drop-oldest',
  shouldRetry: ({ code }) => code !== 4001,
  binaryType: 'arraybuffer',
};

export async function demo(): Promise<void> {
  const ws = new ReSocket('wss://example.com/feed', ['resocket.v1'], options);
  const ws2 = new ReSocket(new URL('wss://example.com/'), { protocols: 'chat' });
  const ws3 = new ReSocket(async () => `wss://example.com/?token=${Math.random()}`);
  ws.onopen = () => ws.send({ type: 'subscribe', symbols: ['BTC'] });
  // Inside a handler, `this` is the socket (as with WebSocket).
  ws.onclose = function onclose(event: CloseEvent) {
    const state: ReSocketState = this.state;
    console.log(state, event.code);
  };
  ws.onmessage = (event: MessageEvent) => {
    const tick = event.data as Tick;
    console.log(tick.price.toFixed(2));
  };
  ws.onclose = (event: CloseEvent) => console.log(event.code, event.reason, event.wasClean);
  ws.onerror = (event: ErrorEvent) => console.log(event.message);
  ws.addEventListener('statechange', (event) => {
    const state: ReSocketState = event.detail.state;
    console.log(state, event.detail.delay ?? 0);
  });
  ws.addEventListener('reconnecting', (event) => console.log(event.detail.attempt));
  ws.addEventListener('outboxoverflow', (event) => console.log(event.detail.dropped));
  // Resume mode (issue 20): options, events and per-message policies.
  const resumable = new ReSocket('wss://example.com/feed', {
    resume: { fallback: 'plain', maxBuffered: 256, maxBufferedBytes: 1 << 16, overflow: 'wait', onReset: 'drop' },
  });
  resumable.addEventListener('resumed', (event) => console.log(event.detail.resumed, event.detail.resent, event.detail.replayed));
  resumable.addEventListener('gap', (event) => console.log(event.detail.from, event.detail.to));
  resumable.addEventListener('reset', (event) => console.log(event.detail.missedFrom, event.detail.unconfirmed[1]));
  resumable.addEventListener('discarded', (event) => console.log(event.detail.dropped + event.detail.expired));
  resumable.send('unsubscribe', { onReconnect: 'drop' });
  resumable.send('cursor', { ttl: 2_000 });
  const unacked: number = resumable.stats.unacked;
  console.log(unacked, new ReSocket('wss://example.com/feed', { resume: true }));
  // @ts-expect-error: not a fallback
  new ReSocket('wss://example.com/feed', { resume: { fallback: 'retry' } });
  // @ts-expect-error: one policy at a time
  resumable.send('x', { onReconnect: 'drop', ttl: 5 });
  ws.addEventListener('message', { handleEvent: (event: Event) => console.log(event.type) });
  const stats: ReSocketStats = ws.stats;
  const rtt: number | null = stats.lastHeartbeatRttMs;
  const ready: 0 | 1 | 2 | 3 = ws.readyState;
  if (ready === ws.OPEN) ws.send(new Uint8Array([1, 2, 3]));
  ws2.send(new Blob(['x']));
  ws2.binaryType = 'blob';
  for await (const data of ws3) {
    console.log(data, rtt);
    break;
  }
  const unsent: Array<string | ArrayBuffer | Blob> = ws.close(1000, 'bye');
  console.log(unsent.length, ws.bufferedAmount, ws.url, ws.protocol, ws.extensions);
  const opened: ReSocket = await ReSocket.connect('wss://example.com/', { maxRetries: 3 });
  opened.reconnect();

  await init();
  const web = new WebReSocket('ws://127.0.0.1:8080/ws/echo');
  web.close();

  // @ts-expect-error unknown option
  new ReSocket('wss://x', { maxRetry: 3 });
  // @ts-expect-error a delay is a number of milliseconds
  new ReSocket('wss://x', { minDelay: '1s' });
  // @ts-expect-error binaryType is "blob" | "arraybuffer"
  ws.binaryType = 'text';
  // @ts-expect-error readyState is read-only
  ws.readyState = 1;
  // @ts-expect-error overflow policies are named
  new ReSocket('wss://x', { overflow: 'drop' });
  // @ts-expect-error the close code is a number
  ws.close('1000');
  // @ts-expect-error the url is a string, a URL or a function
  new ReSocket(42);
}
