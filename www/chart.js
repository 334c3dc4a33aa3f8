// The live price chart (uPlot): one symbol's last `seconds` of ticks, with red bands where the
// connection was down (no ticks arrived) and a break in the line across each outage.
import uPlot from 'uplot';

const AXIS = {
  stroke: '#8b949e',
  grid: { stroke: '#21262d', width: 1 },
  ticks: { stroke: '#30363d', width: 1 },
  font: '11px system-ui, sans-serif',
};


export class PriceChart {
  /**
   * @param {HTMLElement} el container
   * @param {() => Array<[number, number]>} bands outage intervals in epoch seconds
   * @param {number} seconds visible window
   */
  constructor(el, bands, seconds) {
    this.el = el;
    this.bands = bands;
    this.seconds = seconds;
    this.now = Date.now() / 1000;
    this.since = this.now;
    this.plot = new uPlot({
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: {
        x: { time: true, range: () => [Math.max(this.now - this.seconds, Math.min(this.since, this.now - 15)), this.now] },
        y: {
          range: (u, min, max) => {
            if (min == null || max == null) return [0, 1];
            const pad = Math.max((max - min) * 0.1, Math.abs(max) * 0.0005, 0.01);
            return [min - pad, max + pad];
          },
        },
      },
      axes: [
        { ...AXIS },
        { ...AXIS, size: 64, values: (u, vals) => vals.map((v) => formatAxis(v)) },
      ],
      series: [
        {},
        { label: 'price', stroke: '#58a6ff', width: 1.5, fill: 'rgba(88,166,255,0.10)', spanGaps: false, points: { show: false } },
      ],
      hooks: { drawClear: [(u) => this.drawBands(u)] },
    }, [[], []], el);
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(el);
  }

  /** The container's size: the plot is absolutely positioned, so it fills what the layout gives. */
  size() {
    return {
      width: Math.max(200, Math.floor(this.el.clientWidth)),
      height: Math.max(160, Math.floor(this.el.clientHeight)),
    };
  }

  resize() {
    const { width, height } = this.size();
    if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({ width, height });
  }

  /**
   * Shows `xs` (epoch seconds) and `ys` (prices, `null` breaks the line) up to `now`; the window
   * grows from `since` (at least 15 s) to `seconds`.
   */
  update(xs, ys, now, since) {
    this.now = now;
    this.since = since;
    this.plot.setData([xs, ys]);
  }

  drawBands(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.fillStyle = 'rgba(248, 81, 73, 0.18)';
    ctx.strokeStyle = 'rgba(248, 81, 73, 0.6)';
    ctx.lineWidth = 1;
    for (const [start, end] of this.bands()) {
      const x0 = Math.max(left, u.valToPos(start, 'x', true));
      const x1 = Math.min(left + width, u.valToPos(end ?? this.now, 'x', true));
      if (x1 <= left || x0 >= left + width) continue;
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      ctx.beginPath();
      ctx.moveTo(x0, top);
      ctx.lineTo(x0, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }
}

function formatAxis(v) {
  if (Math.abs(v) >= 10000) return v.toFixed(0);
  if (Math.abs(v) >= 100) return v.toFixed(1);
  return v.toFixed(2);
}
