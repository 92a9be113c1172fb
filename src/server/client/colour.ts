// Heatmap colours as the run's PNG heatmaps draw them (src/wsi/heatmap.ts): viridis over each patch's
// percentile rank within the slide, so that an untrained model's nearly equal cosines still show.
import { interpolateViridis } from 'd3-scale-chromatic';

const LUT: string[] = Array.from({ length: 256 }, (_, i) => interpolateViridis(i / 255));

export function colourAt(t: number): string {
  return LUT[Math.max(0, Math.min(255, Math.round(t * 255)))]!;
}

/** Rank of each value in [0, 1] (ties share their mean rank). */
export function percentileRanks(values: readonly number[]): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const r = n > 1 ? (i + j) / 2 / (n - 1) : 1;
    for (let k = i; k <= j; k++) out[order[k]!] = r;
    i = j + 1;
  }
  return out;
}

/** The colour bar: a gradient canvas with the scores at its ends. */
export function colourBar(min: number, max: number, label: string): HTMLElement {
  const c = document.createElement('canvas');
  c.width = 256;
  c.height = 12;
  const g = c.getContext('2d')!;
  for (let i = 0; i < 256; i++) {
    g.fillStyle = LUT[i]!;
    g.fillRect(i, 0, 1, 12);
  }
  const box = document.createElement('div');
  box.className = 'colourbar';
  const ends = document.createElement('div');
  ends.className = 'ends';
  for (const t of [min.toFixed(4), label, max.toFixed(4)]) {
    const span = document.createElement('span');
    span.textContent = t;
    ends.append(span);
  }
  box.append(c, ends);
  return box;
}
