// The live market board: the server's ticker through one `ReSocket` from the resocket npm
// package, a connection panel fed by its events and stats, subscriptions sent over the socket
// (queued in its outbox while the link is down) and a chaos panel calling the server's fault API
// for this page's client id only. Sequence numbers show what each outage cost; the resume switch
// runs the same feed with `{ resume: true }` against /ws/resume, where an outage costs nothing.
import { ReSocket } from 'resocket/resume';
import { PriceChart } from './chart.js';

const params = new URLSearchParams(location.search);
const CONFIG = Object.freeze({
  client: cleanId(params.get('client')) || `dash-${Math.random().toString(36).slice(2, 8)}`,
  resume: params.get('resume') === '1', // the switch's state when the page opens
  rate: 20, // ticks per second, over all symbols
  initialSymbols: ['BTC', 'ETH', 'SOL', 'ADA', 'DOT'], // the ticker's default list
  extraSymbols: ['XRP', 'DOGE', 'LINK'],
  socket: {
    json: true,
    minDelay: 300,
    maxDelay: 3000,
    // Equal jitter: a retry waits at least half its ceiling (150 ms at first), so every outage
    // is long enough to show its countdown and to cost ticks; full jitter could retry at once.
    jitter: 'equal',
    heartbeat: { interval: 2000, timeout: 1500 },
  },
  pingEvery: 1000, // the page's own round-trip probe, while open
  chartSeconds: 120, // the chart's window, once the page is that old
  sparkPoints: 60,
  logLimit: 200,
});

const WS_BASE = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const $ = (id) => document.getElementById(id);

const BADGE = {
  connecting: 'Connecting',
  open: 'Open',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
  closed: 'Closed',
  failed: 'Failed',
};
const CLOSE_NAMES = {
  1000: 'normal closure',
  1001: 'going away',
  1005: 'no status',
  1006: 'dropped, no close frame',
  1008: 'policy violation',
  1011: 'internal error',
  4001: 'app-defined',
};

const app = {
  startedAt: Date.now(),
  socket: null,
  generation: 0,
  state: null, // the socket's state, as last reported
  wasOpen: false,
  retryAt: null, // performance.now() of the next attempt while reconnecting
  // Subscriptions: what the server confirmed, and requests not confirmed yet.
  confirmed: [...CONFIG.initialSymbols],
  pending: new Map(), // symbol -> { op: 'subscribe' | 'unsubscribe', queued: boolean }
  // Market data.
  data: new Map(), // symbol -> { first, last, prev, spark[], xs[], ys[], dirty }
  selected: 'BTC',
  // The feed: plain (/ws/ticker, a server-wide tick clock) or resume (/ws/resume, a session).
  resume: false,
  // Sequence accounting.
  lastSeq: null,
  sessionCount: 0, // resume: app messages of this session delivered so far (a tick's seq is its number)
  gaps: 0, // sequence breaks: runs of missing ticks, repeated ticks, gap and reset events
  lastTickAt: null, // Date.now() of the last tick
  ticksReceived: 0,
  ticksMissed: 0,
  lastOutage: null, // { ms, missed, from, to }
  bands: [], // [startSec, endSec | null]: the chart's outage bands
  outageOpen: false,
  // Rates and round trips.
  messageTimes: [],
  pingSeq: 0,
  pings: new Map(), // id -> performance.now() when sent
  rtt: null,
  heartbeatTimeouts: 0,
  lastAttempt: 0,
  closeCode: null, // a close sent from the chaos panel, until the socket's policy answers
  // Chaos.
  chaosNote: '',
  refuseUntil: 0,
  silenceUntil: 0,
};

// ---------------------------------------------------------------- the socket

function tickerUrl() {
  // Called before every attempt: a new connection starts with the symbols the server last
  // confirmed; requests made while down reach it from the outbox, after the open.
  const symbols = (app.confirmed.length ? app.confirmed : CONFIG.initialSymbols).join(',');
  const client = encodeURIComponent(CONFIG.client);
  return app.resume
    ? `${WS_BASE}/ws/resume?client=${client}&tick=${Math.round(1000 / CONFIG.rate)}&symbols=${symbols}`
    : `${WS_BASE}/ws/ticker?client=${client}&rate=${CONFIG.rate}&symbols=${symbols}`;
}

function connect() {
  const generation = ++app.generation;
  // A new socket in resume mode is a new session: its messages are numbered from 1.
  if (app.resume) { app.sessionCount = 0; app.lastSeq = null; }
  const socket = new ReSocket(tickerUrl, app.resume ? { ...CONFIG.socket, resume: true } : CONFIG.socket);
  app.socket = socket;
  // Listeners of a replaced socket go quiet (`event.target` is internal: use `socket`).
  const on = (type, f) => socket.addEventListener(type, (event) => {
    if (generation === app.generation) f(event);
  });
  on('statechange', (e) => onState(e.detail));
  on('reconnecting', (e) => {
    const { attempt, delay } = e.detail;
    app.retryAt = performance.now() + delay;
    log('state', `reconnecting: next attempt in ${(delay / 1000).toFixed(2)} s (${attempt} failed so far)`);
    closePolicyOutcome('retried');
    render();
  });
  on('open', () => onOpen());
  on('message', (e) => onMessage(e.data));
  on('close', (e) => {
    const name = CLOSE_NAMES[e.code] ? ` (${CLOSE_NAMES[e.code]})` : '';
    const reason = e.reason ? ` "${e.reason}"` : '';
    log('close', `socket closed: code ${e.code}${name}${reason}${e.wasClean ? '' : ', not clean'}`);
  });
  on('error', (e) => {
    if (socket.state !== 'failed') log('error', e.message || 'error'); // failed: logged by statechange
  });
  on('heartbeattimeout', (e) => {
    app.heartbeatTimeouts += 1;
    log('heartbeat', `heartbeat timeout: no answer ${(e.detail.silentMs / 1000).toFixed(2)} s after the ping; reconnecting`);
  });
  on('offline', () => log('state', 'browser offline: attempts paused until it is back'));
  on('outboxoverflow', (e) => log('error', `outbox full: ${e.detail.dropped} message(s) dropped`));
  on('resumed', (e) => {
    const { resumed, resent, replayed } = e.detail;
    log('resume', resumed
      ? `session resumed: ${replayed} server message${replayed === 1 ? '' : 's'} replayed, ${resent} re-sent`
      : 'new resume session');
  });
  on('gap', (e) => {
    // Server messages from..to will never arrive: counted here, so the next tick is in step.
    const { from, to } = e.detail;
    app.gaps += 1;
    app.ticksMissed += to - from + 1;
    app.sessionCount += to - from + 1;
    log('gap', `resume gap: server messages #${from}-#${to} are gone`);
  });
  on('reset', (e) => {
    app.gaps += 1;
    app.sessionCount = 0;
    app.lastSeq = null;
    log('gap', `resume reset: the server lost the session; messages from #${e.detail.missedFrom} on may be missing`);
  });
  onState({ state: socket.state });
  return socket;
}

function onState(detail) {
  const { state } = detail;
  const previous = app.state;
  const attempt = detail.attempt ?? 0;
  const repeated = previous === state && app.lastAttempt === attempt;
  app.state = state;
  app.lastAttempt = attempt;
  if (state !== 'reconnecting') app.retryAt = null;
  if (state !== 'open' && app.wasOpen && !app.outageOpen) beginOutage();
  if (repeated) return;
  if (state === 'connecting') {
    log('state', attempt ? `connecting (after ${attempt} failed attempt${attempt > 1 ? 's' : ''})` : 'connecting');
  } else if (state === 'failed') {
    log('failed', `failed: ${detail.reason || 'gave up'}; press "Connect again" for a new socket`);
    closePolicyOutcome('not retried: Failed');
  } else if (state === 'closed') {
    log('state', `closed by the page (code ${detail.code ?? 1000})${detail.unsent ? `, ${detail.unsent} unsent` : ''}`);
  }
  if (previous !== state) render();
}

function onOpen() {
  app.wasOpen = true;
  const stats = app.socket.stats;
  log('state', `open (connect #${stats.connects}${stats.reconnects ? `, reconnect #${stats.reconnects}` : ''})`);
  for (const [symbol, p] of app.pending) {
    if (p.queued) {
      p.queued = false;
      log('sub', `queued ${p.op} ${symbol} leaves the outbox`);
    }
  }
  app.pings.clear();
  render();
}

function onMessage(msg) {
  const now = performance.now();
  app.messageTimes.push(now);
  app.sessionCount += 1;
  if (!msg || typeof msg !== 'object') return;
  switch (msg.type) {
    case 'tick': onTick(msg); break;
    case 'subscribed': onSubscribed(msg.symbols); break;
    case 'pong': {
      const sent = app.pings.get(msg.id);
      if (sent !== undefined) {
        app.rtt = now - sent;
        app.pings.delete(msg.id);
      }
      break;
    }
    case 'error': log('error', `server: ${msg.message}`); break;
    case 'gap': log('gap', `server: saw the gap #${msg.from}-#${msg.to}`); break;
    default: break;
  }
}

function onTick(tick) {
  const nowMs = Date.now();
  const x = nowMs / 1000;
  app.ticksReceived += 1;
  // The seq this tick should carry: plain, the next on the server's tick clock; resume, its
  // number in the session (every message counts, the replies to the page's requests too).
  const expected = app.resume ? app.sessionCount : app.lastSeq === null ? null : app.lastSeq + 1;
  let missed = 0;
  if (expected !== null && tick.seq > expected) {
    missed = tick.seq - expected;
    app.ticksMissed += missed;
    app.gaps += 1;
  } else if (expected !== null && tick.seq < expected) {
    app.gaps += 1; // a repeat
    log('gap', `repeated tick #${tick.seq} (expected #${expected})`);
  }
  if (app.resume) app.sessionCount = tick.seq;
  if (app.outageOpen) {
    endOutage(x, nowMs, missed, tick.seq);
  } else if (missed) {
    log('gap', `gap: ${missed} tick${missed > 1 ? 's' : ''} missed (#${tick.seq - missed}-#${tick.seq - 1})`);
  }
  if (app.lastSeq === null || tick.seq > app.lastSeq) app.lastSeq = tick.seq;
  app.lastTickAt = nowMs;

  const d = symbolData(tick.symbol);
  if (d.first === null) d.first = tick.price;
  d.prev = d.last;
  d.last = tick.price;
  d.spark.push(tick.price);
  if (d.spark.length > CONFIG.sparkPoints) d.spark.shift();
  const band = app.bands[app.bands.length - 1];
  const lastX = d.xs[d.xs.length - 1];
  if (band && lastX !== undefined && lastX <= band[0] && band[0] < x) {
    d.xs.push(band[0] + 0.001); // break the line across the outage
    d.ys.push(null);
  }
  d.xs.push(x);
  d.ys.push(tick.price);
  const cutoff = x - CONFIG.chartSeconds - 5;
  let drop = 0;
  while (drop < d.xs.length && d.xs[drop] < cutoff) drop += 1;
  if (drop) { d.xs.splice(0, drop); d.ys.splice(0, drop); }
  d.dirty = true;
}

function beginOutage() {
  app.outageOpen = true;
  const start = (app.lastTickAt ?? Date.now()) / 1000;
  app.bands.push([start, null]);
  const cutoff = Date.now() / 1000 - CONFIG.chartSeconds - 5;
  app.bands = app.bands.filter(([, end]) => end === null || end > cutoff);
}

function endOutage(x, nowMs, missed, seq) {
  app.outageOpen = false;
  const band = app.bands[app.bands.length - 1];
  if (band) band[1] = x;
  const ms = band ? nowMs - band[0] * 1000 : 0;
  app.lastOutage = { ms, missed, from: seq - missed, to: seq - 1, at: nowMs };
  const range = missed ? ` (#${seq - missed}-#${seq - 1})` : '';
  log('gap', `ticks again after ${(ms / 1000).toFixed(2)} s without data: ${missed} tick${missed === 1 ? '' : 's'} missed${range}`);
}

function symbolData(symbol) {
  let d = app.data.get(symbol);
  if (!d) {
    d = { first: null, last: null, prev: null, spark: [], xs: [], ys: [], dirty: true };
    app.data.set(symbol, d);
  }
  return d;
}

function sendPing() {
  const socket = app.socket;
  if (!socket || socket.state !== 'open') return;
  const id = ++app.pingSeq;
  app.pings.set(id, performance.now());
  for (const old of app.pings.keys()) if (old < id - 30) app.pings.delete(old);
  socket.send({ type: 'ping', id });
}

// ---------------------------------------------------------------- subscriptions

function wants(symbol) {
  const p = app.pending.get(symbol);
  return p ? p.op === 'subscribe' : app.confirmed.includes(symbol);
}

function wantedSymbols() {
  return [...CONFIG.initialSymbols, ...CONFIG.extraSymbols].filter(wants);
}

function toggle(symbol) {
  const want = !wants(symbol);
  if (!want && wantedSymbols().length <= 1) return; // an empty list would get no ticks at all
  const op = want ? 'subscribe' : 'unsubscribe';
  const queued = app.socket.state !== 'open';
  try {
    app.socket.send({ type: op, symbols: [symbol] });
  } catch (e) {
    log('error', `${op} ${symbol} not sent: ${e.message}`);
    return;
  }
  app.pending.set(symbol, { op, queued });
  log('sub', queued
    ? `${op} ${symbol}: link down, queued in the outbox (${app.socket.stats.outboxLength} waiting)`
    : `${op} ${symbol} sent`);
  renderSymbols();
  renderMarket();
  render();
}

function onSubscribed(symbols) {
  app.confirmed = symbols;
  for (const [symbol, p] of app.pending) {
    if ((p.op === 'subscribe') === symbols.includes(symbol)) app.pending.delete(symbol);
  }
  if (!symbols.includes(app.selected) && symbols.length) select(symbols[0]);
  log('sub', `server: subscribed ${symbols.join(', ')}`);
  renderSymbols();
}

// ---------------------------------------------------------------- chaos

/** After a server close from the chaos panel: what the socket's close policy made of it. */
function closePolicyOutcome(outcome) {
  if (app.closeCode === null) return;
  const text = `close ${app.closeCode}: ${outcome}`;
  app.closeCode = null;
  app.chaosNote = text;
  $('chaos-result').dataset.outcome = text;
  log('policy', `close policy: code ${text.slice(6)}`);
}

async function control(verb, query) {
  const q = new URLSearchParams({ ...query, client: CONFIG.client });
  const r = await fetch(`/control/${verb}?${q}`, { method: 'POST' });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || !body.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

async function chaos(button, label, steps) {
  button.disabled = true;
  try {
    const results = [];
    for (const [verb, query] of steps) results.push(await control(verb, query));
    const summary = results
      .map((r) => Object.entries(r).filter(([k]) => k !== 'ok').map(([k, v]) => `${k} ${v}`).join(', '))
      .join('; ');
    log('chaos', `${label}: ${summary}`);
    if (!label.startsWith('server close')) app.chaosNote = `${label}: ${summary}`;
    return results;
  } catch (e) {
    log('error', `${label} failed: ${e.message}`);
    return [];
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- rendering

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function formatPrice(p) {
  if (p === null || p === undefined) return '-';
  return p >= 1000 ? p.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : p.toFixed(2);
}

function badgeText() {
  if (app.state === 'reconnecting' && app.retryAt !== null) {
    const s = Math.max(0, app.retryAt - performance.now()) / 1000;
    return `Reconnecting in ${s.toFixed(1)} s`;
  }
  return BADGE[app.state] ?? app.state;
}

function render() {
  const socket = app.socket;
  const now = performance.now();
  const badge = $('state-badge');
  if (badge.dataset.state !== app.state) badge.dataset.state = app.state;
  setText(badge, badgeText());
  setText($('conn-state'), app.state);
  setText($('next-retry'), app.state === 'reconnecting' && app.retryAt !== null
    ? `${(Math.max(0, app.retryAt - now) / 1000).toFixed(1)} s` : '-');
  const stats = socket.stats;
  setText($('reconnects'), String(stats.reconnects));
  while (app.messageTimes.length && app.messageTimes[0] < now - 1000) app.messageTimes.shift();
  setText($('rate'), String(app.messageTimes.length));
  const waiting = [...app.pings.values()].find((t) => now - t > 1000);
  setText($('rtt'), waiting !== undefined && app.state === 'open'
    ? `no pong for ${((now - waiting) / 1000).toFixed(1)} s`
    : app.rtt === null ? '-' : `${app.rtt.toFixed(1)} ms`);
  const hb = $('heartbeat');
  hb.dataset.timeouts = String(app.heartbeatTimeouts);
  const hbRtt = stats.lastHeartbeatRttMs === null ? '' : `, last ping ${Math.round(stats.lastHeartbeatRttMs)} ms`;
  setText(hb, `${app.heartbeatTimeouts} timeout${app.heartbeatTimeouts === 1 ? '' : 's'}${hbRtt}`);
  setText($('outbox'), String(stats.outboxLength));
  setText($('ticks-received'), String(app.ticksReceived));
  const missedEl = $('ticks-missed');
  setText(missedEl, String(app.ticksMissed));
  missedEl.classList.toggle('has-missed', app.ticksMissed > 0);
  const gapsEl = $('gaps');
  setText(gapsEl, String(app.gaps));
  gapsEl.classList.toggle('has-missed', app.gaps > 0);
  setText($('feed'), app.resume ? 'resume' : 'plain');
  $('resume-switch').checked = app.resume;
  const lo = app.lastOutage;
  setText($('last-outage'), app.outageOpen
    ? `down for ${((Date.now() - app.bands[app.bands.length - 1][0] * 1000) / 1000).toFixed(1)} s`
    : lo ? `${(lo.ms / 1000).toFixed(2)} s without data, ${lo.missed} tick${lo.missed === 1 ? '' : 's'} missed` : 'none yet');

  const ended = app.state === 'failed' || app.state === 'closed';
  $('connect-again').hidden = !ended;
  $('close-socket').disabled = ended;
  $('reconnect-now').disabled = ended;
  const chaosNote = $('chaos-result');
  if (app.refuseUntil > Date.now()) setText(chaosNote, `server refuses this page for ${((app.refuseUntil - Date.now()) / 1000).toFixed(1)} s more`);
  else if (app.silenceUntil > Date.now()) setText(chaosNote, `server silent for ${((app.silenceUntil - Date.now()) / 1000).toFixed(1)} s more`);
  else setText(chaosNote, app.chaosNote);
}

function renderMarket() {
  const tbody = $('market-rows');
  const shown = [...CONFIG.initialSymbols, ...CONFIG.extraSymbols]
    .filter((s) => app.confirmed.includes(s) || (app.pending.get(s)?.op === 'subscribe'));
  const existing = new Map([...tbody.rows].map((r) => [r.dataset.symbol, r]));
  for (const [symbol, row] of existing) if (!shown.includes(symbol)) row.remove();
  shown.forEach((symbol, i) => {
    let row = existing.get(symbol);
    if (!row) {
      row = document.createElement('tr');
      row.dataset.symbol = symbol;
      row.dataset.testid = `row-${symbol}`;
      row.tabIndex = 0;
      row.innerHTML = '<td class="sym"></td><td class="num last"></td><td class="num change"></td>'
        + '<td><svg class="spark" viewBox="0 0 100 24" preserveAspectRatio="none" aria-hidden="true"><polyline points=""/></svg></td>';
      row.cells[0].textContent = symbol;
      row.addEventListener('click', () => select(symbol));
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(symbol); } });
      if (symbol === app.selected) row.classList.add('selected');
    }
    if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] ?? null);
    const d = app.data.get(symbol);
    row.classList.toggle('queued', !app.confirmed.includes(symbol));
    if (!d || !d.dirty) {
      if (!d) setText(row.cells[1], app.confirmed.includes(symbol) ? '-' : 'queued');
      return;
    }
    d.dirty = false;
    const last = row.cells[1];
    setText(last, formatPrice(d.last));
    if (d.prev !== null && d.prev !== d.last) {
      last.classList.toggle('tick-up', d.last > d.prev);
      last.classList.toggle('tick-down', d.last < d.prev);
    }
    const change = d.last - d.first;
    const pct = d.first ? (change / d.first) * 100 : 0;
    const cell = row.cells[2];
    setText(cell, `${change >= 0 ? '+' : ''}${pct.toFixed(2)}%`);
    cell.className = `num change ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`;
    const svg = row.cells[3].firstChild;
    svg.setAttribute('class', `spark ${d.spark[d.spark.length - 1] >= d.spark[0] ? 'up' : 'down'}`);
    svg.firstChild.setAttribute('points', sparkPoints(d.spark));
  });
  $('market-empty').hidden = app.ticksReceived > 0;
}

function sparkPoints(values) {
  if (values.length < 2) return '';
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = 100 / (values.length - 1);
  return values.map((v, i) => `${(i * step).toFixed(1)},${(22 - ((v - min) / span) * 20).toFixed(1)}`).join(' ');
}

function renderSymbols() {
  const box = $('symbols');
  const wanted = wantedSymbols();
  for (const symbol of [...CONFIG.initialSymbols, ...CONFIG.extraSymbols]) {
    let b = box.querySelector(`[data-symbol="${symbol}"]`);
    if (!b) {
      b = document.createElement('button');
      b.type = 'button';
      b.dataset.symbol = symbol;
      b.dataset.testid = `sub-${symbol}`;
      b.id = `sub-${symbol}`;
      b.addEventListener('click', () => toggle(symbol));
      box.append(b);
    }
    const p = app.pending.get(symbol);
    const on = wants(symbol);
    const status = p ? (p.queued ? 'queued' : 'sending') : on ? 'on' : 'off';
    b.dataset.sub = status;
    b.setAttribute('aria-pressed', String(on));
    b.disabled = on && wanted.length <= 1;
    b.title = `${on ? 'unsubscribe from' : 'subscribe to'} ${symbol}`;
    const label = { on: 'subscribed', off: 'off', queued: `${p?.op === 'subscribe' ? '+' : '-'} queued`, sending: `${p?.op === 'subscribe' ? '+' : '-'} sent` }[status];
    const html = `${symbol}<small>${label}</small>`;
    if (b.innerHTML !== html) b.innerHTML = html;
  }
}

let chart = null;
function renderChart() {
  const d = app.data.get(app.selected);
  chart.update(d ? d.xs : [], d ? d.ys : [], Date.now() / 1000, app.startedAt / 1000);
}

function select(symbol) {
  app.selected = symbol;
  setText($('chart-symbol'), symbol);
  for (const row of $('market-rows').rows) row.classList.toggle('selected', row.dataset.symbol === symbol);
  renderChart();
}

// ---------------------------------------------------------------- the event log

function log(kind, text) {
  const li = document.createElement('li');
  li.dataset.kind = kind;
  const t = new Date();
  const time = document.createElement('time');
  time.dateTime = t.toISOString();
  time.textContent = `${t.toTimeString().slice(0, 8)}.${String(t.getMilliseconds()).padStart(3, '0')}`;
  const k = document.createElement('span');
  k.className = 'kind';
  k.textContent = kind;
  const m = document.createElement('span');
  m.className = 'msg';
  m.textContent = text;
  li.append(time, k, m);
  const list = $('log');
  list.prepend(li);
  while (list.children.length > CONFIG.logLimit) list.lastChild.remove();
  setText($('log-count'), `${list.children.length} newest first`);
}

// ---------------------------------------------------------------- wiring

function wire() {
  setText($('client-id'), CONFIG.client);
  $('chaos-drop').addEventListener('click', (e) => chaos(e.currentTarget, 'drop connection', [['drop', {}]]));
  $('chaos-refuse').addEventListener('click', (e) => {
    app.refuseUntil = Date.now() + 5000;
    chaos(e.currentTarget, 'refuse for 5 s (and drop)', [['refuse', { ms: 5000 }], ['drop', {}]]);
  });
  $('chaos-silence').addEventListener('click', (e) => {
    app.silenceUntil = Date.now() + 5000;
    chaos(e.currentTarget, 'go silent for 5 s', [['silence', { ms: 5000 }]]);
  });
  $('chaos-close').addEventListener('click', (e) => {
    const code = $('close-code').value;
    app.closeCode = Number(code);
    chaos(e.currentTarget, `server close with ${code}`, [['close', { code, reason: 'chaos panel' }]])
      .then(([r]) => { if (!r?.closed) app.closeCode = null; }); // no socket was open to close
  });
  $('reconnect-now').addEventListener('click', () => {
    log('state', 'reconnect() called by the page');
    app.socket.reconnect();
  });
  $('close-socket').addEventListener('click', () => app.socket.close(1000, 'closed from the dashboard'));
  $('resume-switch').addEventListener('change', (e) => switchFeed(e.currentTarget.checked));
  $('connect-again').addEventListener('click', () => {
    const old = app.socket;
    log('state', 'a new ReSocket');
    connect();
    try { old.free(); } catch { /* already freed */ }
    render();
  });
}

/** The resume switch: a new socket on the other feed, its sequence accounting from zero. */
function switchFeed(resume) {
  if (resume === app.resume) return;
  const old = app.socket;
  app.resume = resume;
  Object.assign(app, { lastSeq: null, sessionCount: 0, gaps: 0, ticksMissed: 0, lastOutage: null });
  // The switch is not an outage of the feed: no band, no "ticks again after" entry.
  if (app.outageOpen) app.bands[app.bands.length - 1][1] = Date.now() / 1000;
  app.outageOpen = false;
  app.wasOpen = false;
  const url = new URL(location.href);
  if (resume) url.searchParams.set('resume', '1'); else url.searchParams.delete('resume');
  history.replaceState(null, '', url);
  log('state', resume
    ? 'resume on: a new ReSocket with { resume: true } on /ws/resume; gaps and missed ticks from 0'
    : 'resume off: a new ReSocket on the plain /ws/ticker; gaps and missed ticks from 0');
  connect(); // before the old one closes: its close is not this feed's outage
  try { old.close(1000, 'switching feed'); old.free(); } catch { /* already freed */ }
  render();
}

wire();
app.resume = CONFIG.resume;
chart = new PriceChart($('chart'), () => app.bands, CONFIG.chartSeconds);
connect();
renderSymbols();
render();
setInterval(render, 100);
setInterval(() => { renderMarket(); renderSymbols(); renderChart(); }, 250);
setInterval(sendPing, CONFIG.pingEvery);

// For the end-to-end tests and curious users (the console): the socket and the page's state.
window.dashboard = { get socket() { return app.socket; }, app, config: CONFIG };

function cleanId(value) {
  return value && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : null;
}
