// The live dashboard: ticker messages from the local server through the resocket package.
import { ReSocket } from 'resocket';

const stateEl = document.getElementById('state');
const ticksEl = document.getElementById('ticks');
const countEl = document.getElementById('count');
let count = 0;

function setState(text, cls) {
  stateEl.textContent = text;
  stateEl.className = `badge ${cls}`;
}

const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const socket = new ReSocket(`${wsBase}/ws/ticker?client=dashboard&rate=5`);
setState('Connecting', 'connecting');
socket.onopen = () => setState('Open', 'open');
socket.onclose = () => setState('Closed', 'closed');
socket.onmessage = (event) => {
  const tick = JSON.parse(event.data);
  if (tick.type !== 'tick') return;
  count += 1;
  countEl.textContent = `${count} received`;
  const li = document.createElement('li');
  li.className = 'tick';
  li.textContent = `#${tick.seq} ${tick.symbol} ${tick.price.toFixed(2)}`;
  ticksEl.prepend(li);
  while (ticksEl.children.length > 50) ticksEl.lastChild.remove();
};
window.resocketDemo = { socket };
