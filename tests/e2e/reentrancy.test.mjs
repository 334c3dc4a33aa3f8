// Regression tests for issue 17's defects that show in the npm package, in headless Chromium
// against the real server: close() called from inside each lifecycle listener (defect 1) and
// user code that reads the socket while the engine runs it (defect 5).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, getJson, launchBrowser, newPage, startServer } from './harness.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'e2e', 'fixtures');

let server;
let browser;
let page;
let clientSeq = 0;
const client = (name) => `reentry-${name}-${process.pid}-${++clientSeq}`;

async function esmPage() {
  const p = await newPage(browser);
  await p.goto(`${server.http}/fixtures/esm.html`);
  await p.waitForFunction(() => window.ready === true);
  return p;
}

// A wasm trap (a Rust panic in the npm build) as the page reports it.
const TRAP = /unreachable|RuntimeError|borrow/i;

before(async () => {
  server = await startServer({ statics: [`/fixtures=${FIXTURES}`] });
  browser = await launchBrowser();
  page = await esmPage();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// Runs in the page: opens an echo socket, calls `close(4001)` from inside a listener of type
// `kind` (the trigger for each kind is below), and reports every event of the socket in order,
// where in that list close() was called, what it left behind, and whether a `for await` loop
// that was waiting ended. Waits for the final close event at most `ms`, then a little longer
// for stray events; never throws for a missing event (the test asserts on what it saw).
async function closeFromListener({ kind, id, ms }) {
  const CODE = 4001;
  const options = { minDelay: 50, maxDelay: 100 };
  if (kind === 'onerror') options.maxMessageBytes = 4;
  if (kind === 'outboxoverflow') Object.assign(options, { overflow: 'drop-oldest', outboxMessages: 1 });
  const ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`, options);
  const log = [];
  // Recorders first: they see each event before the closing listener acts on it.
  for (const type of ['open', 'close', 'error', 'statechange', 'reconnecting', 'offline', 'outboxoverflow']) {
    ws.addEventListener(type, (e) => log.push(
      type === 'close' ? `close ${e.code}` : type === 'statechange' ? `statechange ${e.detail.state}` : type,
    ));
  }
  let closedAt = -1;
  let unsent = null;
  const closeNow = () => {
    if (closedAt >= 0) return;
    closedAt = log.length;
    try {
      unsent = ws.close(CODE, kind);
    } catch (e) {
      unsent = `close() threw ${e.message}`;
    }
  };
  const loop = (async () => {
    try {
      for await (const _ of ws) { /* the echo of onerror's message is too large: none */ }
      return 'ended';
    } catch (e) {
      return `threw ${e.kind ?? e.message}`;
    }
  })();
  switch (kind) {
    case 'onopen':
      ws.onopen = closeNow;
      break;
    case 'onerror':
      // The echo exceeds maxMessageBytes: an error event, the socket stays up.
      ws.onerror = closeNow;
      ws.onopen = () => ws.send('longer than four bytes');
      break;
    case 'onclose': {
      // The server's 4000 is retried by default: the close event of that socket closes.
      ws.onclose = (e) => { if (e.code === 4000) closeNow(); };
      await nextEvent(ws, 'open');
      await control('close', `client=${id}&code=4000&reason=server`);
      break;
    }
    case 'reconnecting':
      ws.addEventListener('reconnecting', closeNow);
      await nextEvent(ws, 'open');
      await control('drop', `client=${id}`);
      break;
    case 'statechange':
      ws.addEventListener('statechange', (e) => { if (e.detail.state === 'connecting') closeNow(); });
      break;
    case 'outboxoverflow':
      // Both sends happen while connecting: the second drops the first.
      ws.addEventListener('outboxoverflow', closeNow);
      ws.send('first');
      ws.send('second');
      break;
    default:
      throw new Error(`unknown kind ${kind}`);
  }
  const finalClose = () => closedAt >= 0 && log.slice(closedAt).some((e) => e.startsWith('close '));
  await until(finalClose, ms, 'the final close event').catch(() => {});
  await sleep(300); // stray events (a reconnecting after the close, say) would show by now
  const timeout = new Promise((resolve) => { setTimeout(() => resolve('still waiting'), 1000); });
  return {
    log,
    closedAt,
    after: closedAt >= 0 ? log.slice(closedAt) : null,
    unsent,
    readyState: ws.readyState,
    state: ws.state,
    loop: await Promise.race([loop, timeout]),
  };
}

// Defect 1: a listener's close() went through a nested dispatch that found no listeners (they
// are taken out while they run): no final close event, `for await` never ended, the socket
// stayed alive; from onclose, the retry scheduled before still fired `reconnecting`.
describe('close() from inside a lifecycle listener', () => {
  const kinds = ['onopen', 'onerror', 'onclose', 'reconnecting', 'statechange', 'outboxoverflow'];
  for (const kind of kinds) {
    test(`close() from ${kind} ends the socket with one final close event and ends for await`, async () => {
      const r = await page.evaluate(
        `(${closeFromListener})(${JSON.stringify({ kind, id: client(kind), ms: 5000 })})`,
      );
      const seen = `events: ${JSON.stringify(r.log)}, close() called at ${r.closedAt}`;
      assert.ok(r.closedAt >= 0, `the ${kind} listener ran; ${seen}`);
      assert.deepEqual(r.after.filter((e) => e.startsWith('close ')), ['close 4001'],
        `exactly one close event after close(), with the user's code; ${seen}`);
      assert.deepEqual(r.after.filter((e) => e === 'reconnecting' || e === 'open'), [],
        `no reconnecting or open event after close(); ${seen}`);
      assert.equal(r.readyState, 3);
      assert.equal(r.state, 'closed');
      assert.equal(r.loop, 'ended', 'a waiting for-await loop ends');
      assert.ok(Array.isArray(r.unsent), `close() returned the unsent list: ${r.unsent}`);
    });
  }

  test('ReSocket.connect() rejects when a connecting-phase listener closes the socket', async () => {
    const r = await page.evaluate(async (id) => {
      // `connect()` never hands out the socket before it opens, so no listener can be added
      // to it: an override of the class's dispatchEvent stands in for a statechange listener
      // (it runs inside the dispatch, as listeners do; the class dispatches through
      // `this.dispatchEvent`).
      let closed = false;
      ReSocket.prototype.dispatchEvent = function dispatchEvent(event) {
        const result = EventTarget.prototype.dispatchEvent.call(this, event);
        if (!closed && event.type === 'statechange' && event.detail.state === 'connecting') {
          closed = true;
          this.close(4002, 'connecting');
        }
        return result;
      };
      try {
        const settled = ReSocket.connect(`${wsBase}/ws/echo?client=${id}`).then(
          (ws) => { ws.close(); return 'resolved'; },
          (e) => `rejected ${e.kind}`,
        );
        const timeout = new Promise((resolve) => { setTimeout(() => resolve('still pending'), 5000); });
        const outcome = await Promise.race([settled, timeout]);
        return { closed, outcome };
      } finally {
        delete ReSocket.prototype.dispatchEvent;
      }
    }, client('connect'));
    assert.ok(r.closed, 'the statechange (connecting) dispatch ran and called close()');
    assert.equal(r.outcome, 'rejected Closed');
  });

  test('a socket closed from its own onopen handler is collected once the page drops it', async () => {
    const cdp = await page.context().newCDPSession(page);
    const gc = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
    };
    const state = await page.evaluate(async (id) => {
      window.reentrantCollected = false;
      // (The registry must stay reachable, or its callback never runs.)
      window.reentrantRegistry = new FinalizationRegistry(() => { window.reentrantCollected = true; });
      const weak = await new Promise((resolve) => {
        const ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`);
        ws.onopen = () => { ws.close(4000); resolve(new WeakRef(ws)); };
        window.reentrantRegistry.register(ws, 0);
      });
      await sleep(100);
      return weak.deref()?.state;
    }, client('gc'));
    let collected = false;
    for (let i = 0; i < 20 && !collected; i += 1) {
      await gc();
      collected = await page.evaluate(() => new Promise((r) => setTimeout(() => r(window.reentrantCollected), 50)));
    }
    await cdp.detach();
    assert.equal(state, 'closed');
    assert.ok(collected, 'a socket closed re-entrantly is not kept alive by itself');
  });
});

// Defect 5: user code the engine calls (shouldRetry, the URL function) ran while the Rust core
// was mutably borrowed: reading the socket there trapped the wasm instance ("unreachable"),
// shouldRetry's verdict was replaced by the default policy, and free() failed afterwards. Each
// test has a page of its own, as a trap leaves that instance broken.
describe('user code called by the engine may read the socket', () => {
  test('shouldRetry reading state, readyState and stats: no trap, its false is honoured, free() works', async () => {
    const p = await esmPage();
    const id = client('should-retry');
    const r = await p.evaluate(async (id) => {
      const seen = [];
      // The predicate reaches the socket through a variable assigned after construction.
      let ws = null;
      ws = new ReSocket(`${wsBase}/ws/echo?client=${id}`, {
        minDelay: 50,
        maxDelay: 100,
        shouldRetry: (e) => {
          seen.push({ code: e.code, state: ws.state, readyState: ws.readyState, connects: ws.stats.connects });
          return false;
        },
      });
      await nextEvent(ws, 'open');
      await control('close', `client=${id}&code=4000&reason=server`);
      const stateOf = () => { try { return ws.state; } catch (e) { return `threw ${e.message}`; } };
      await until(() => stateOf() === 'failed', 3000).catch(() => {});
      await sleep(800); // a retry the predicate did not allow would have been made by now
      const state = stateOf();
      let free = 'ok';
      try { ws.free(); } catch (e) { free = `threw ${e.message}`; }
      return { seen, state, free };
    }, id);
    const traps = p.errors.filter((e) => TRAP.test(e));
    await p.close();
    const s = await getJson(`${server.http}/stats?client=${id}`);
    assert.deepEqual(traps, [], `no wasm trap; the page saw ${JSON.stringify(r)}, server ${JSON.stringify(s)}`);
    assert.equal(r.seen.length, 1, `shouldRetry ran to its end once: ${JSON.stringify(r.seen)}`);
    assert.equal(r.seen[0].code, 4000);
    assert.equal(r.state, 'failed', 'its false is honoured');
    assert.equal(s.attempts, 1, `no attempt after the predicate said no: ${JSON.stringify(s)}`);
    assert.equal(r.free, 'ok');
  });

  test('a URL function reading state, readyState and stats: no trap, it connects and reconnects, free() works', async () => {
    const p = await esmPage();
    const id = client('url-fn');
    const r = await p.evaluate(async (id) => {
      const seen = [];
      const errors = [];
      let ws = null;
      ws = new ReSocket(() => {
        // Called before every attempt; the first one comes after the constructor returned.
        if (ws) seen.push({ state: ws.state, readyState: ws.readyState, connects: ws.stats.connects });
        return `${wsBase}/ws/echo?client=${id}`;
      }, { minDelay: 50, maxDelay: 100 });
      ws.onerror = (e) => errors.push(e.message);
      const opened = () => nextEvent(ws, 'open', () => true, 5000).then(() => true, () => false);
      const first = await opened();
      let second = false;
      if (first) {
        const reopened = opened();
        await control('drop', `client=${id}`);
        second = await reopened;
      }
      let free = 'ok';
      try { ws.free(); } catch (e) { free = `threw ${e.message}`; }
      return { seen, errors, first, second, free };
    }, id);
    const traps = p.errors.filter((e) => TRAP.test(e));
    await p.close();
    const { errors, ...rest } = r;
    assert.deepEqual(errors.slice(0, 3), [],
      `no error event (a trap in the URL function shows as one); ${errors.length} in all, and ${JSON.stringify(rest)}`);
    assert.deepEqual(traps, [], 'no wasm trap');
    assert.ok(r.first, 'the first attempt connects');
    assert.ok(r.second, 'the retry after a drop connects');
    assert.equal(r.seen.length, 2, `the URL function ran to its end before each attempt: ${JSON.stringify(r.seen)}`);
    assert.equal(r.free, 'ok');
  });
});
