// Training runs under the served folder (S1/S2): each metric of metrics.jsonl as a line chart.
import { getJson, type RunMetrics } from './api.ts';
import { clear, h } from './dom.ts';

const SVG = 'http://www.w3.org/2000/svg';

function chart(name: string, points: [number, number][]): SVGSVGElement {
  const w = 300;
  const ht = 120;
  const pad = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${ht}`);
  svg.setAttribute('class', 'chart');
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number): number => pad + ((x - x0) / (x1 - x0 || 1)) * (w - pad - 6);
  const sy = (y: number): number => ht - pad + 10 - ((y - y0) / (y1 - y0 || 1)) * (ht - pad - 6);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1f77b4');
  const text = (x: number, y: number, s: string): SVGTextElement => {
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(y));
    t.textContent = s;
    return t;
  };
  svg.append(
    line,
    text(pad, 10, `${name}: ${y0.toPrecision(3)} – ${y1.toPrecision(3)}`),
    text(pad, ht - 2, `step ${x0} – ${x1}`),
  );
  return svg;
}

export class RunsPanel {
  readonly el = h('div', { id: 'runs' });
  private readonly detail = h('div');
  private listed = false;

  constructor(private readonly fail: (e: unknown) => void) {}

  async load(ids: string[]): Promise<void> {
    if (this.listed) return;
    this.listed = true;
    const pick = (id: string) => () => void this.show(id).catch(this.fail);
    clear(
      this.el,
      h(
        'ul',
        {},
        ...ids.map((id) =>
          h('li', {}, h('a', { href: '#', onclick: (e: Event) => (e.preventDefault(), pick(id)()) }, id)),
        ),
      ),
      this.detail,
    );
  }

  private async show(id: string): Promise<void> {
    const m = await getJson<RunMetrics>(`/api/runs/metrics?id=${encodeURIComponent(id)}`);
    clear(
      this.detail,
      h('h3', {}, id),
      h(
        'p',
        { class: 'muted' },
        `${m.lines} lines; last: ${Object.entries(m.last)
          .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`)
          .join(', ')}`,
      ),
      ...m.series.filter((s) => s.points.length > 1).map((s) => chart(s.name, s.points)),
      m.summary
        ? h('details', {}, h('summary', {}, 'summary.json'), h('pre', {}, JSON.stringify(m.summary, null, 2)))
        : null,
    );
  }
}
