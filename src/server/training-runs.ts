// Metric curves of S1/S2 training runs (metrics.jsonl, one JSON object a line, as src/train/loop.ts
// appends them): every numeric field becomes a series over `step`; `eval` fields become eval.NAME.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A metrics file larger than this is read only up to here (a year of steps is far less). */
export const MAX_METRICS_BYTES = 32 * 2 ** 20;

export interface MetricSeries {
  name: string;
  /** [step, value] pairs in file order. */
  points: [number, number][];
}

export interface RunMetrics {
  lines: number;
  /** Lines that were not JSON objects with a numeric step (a run cut off mid-line leaves one). */
  skipped: number;
  truncated: boolean;
  series: MetricSeries[];
  /** The last line's numbers, for the summary table. */
  last: Record<string, number>;
  /** The run's summary.json (what the training loop wrote at its end), when there is one. */
  summary: unknown;
}

function readHead(path: string, max: number): { text: string; truncated: boolean } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, max);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, 0);
    return { text: buf.toString('utf8'), truncated: size > max };
  } finally {
    closeSync(fd);
  }
}

function numericFields(line: Record<string, unknown>): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(line)) {
    if (k === 'step') continue;
    if (typeof v === 'number' && Number.isFinite(v)) out.push([k, v]);
    else if (k === 'eval' && v && typeof v === 'object')
      for (const [ek, ev] of Object.entries(v))
        if (typeof ev === 'number' && Number.isFinite(ev)) out.push([`eval.${ek}`, ev]);
  }
  return out;
}

export function readRunMetrics(dir: string): RunMetrics {
  const { text, truncated } = readHead(join(dir, 'metrics.jsonl'), MAX_METRICS_BYTES);
  const series = new Map<string, [number, number][]>();
  let lines = 0;
  let skipped = 0;
  let last: Record<string, number> = {};
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    lines++;
    let line: unknown;
    try {
      line = JSON.parse(raw);
    } catch {
      skipped++;
      continue;
    }
    if (!line || typeof line !== 'object' || typeof (line as { step?: unknown }).step !== 'number') {
      skipped++;
      continue;
    }
    const step = (line as { step: number }).step;
    const fields = numericFields(line as Record<string, unknown>);
    for (const [k, v] of fields) {
      let s = series.get(k);
      if (!s) series.set(k, (s = []));
      s.push([step, v]);
    }
    last = { step, ...Object.fromEntries(fields) };
  }
  return {
    summary: readSummary(dir),
    lines,
    skipped,
    truncated,
    series: [...series].map(([name, points]) => ({ name, points })),
    last,
  };
}

function readSummary(dir: string): unknown {
  const file = join(dir, 'summary.json');
  if (!existsSync(file) || statSync(file).size > 2 ** 20) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}
