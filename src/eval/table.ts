// The re-identification report as a plain-text table: one row per gallery, the encoder's figures,
// the baseline's and (when given) their hybrid's side by side, so a reader sees at a glance what the learned encoder adds.
import type { ReidReport } from './galleries.ts';
import type { ReidMetrics } from './reid.ts';

const COLUMNS = ['R1', 'R2', 'R3', 'R4', 'R5', 'mAP'] as const;

function figures(m: ReidMetrics | undefined): string[] {
  // n = 0: nothing was evaluated, and a 0.0 would read as a measured failure.
  if (!m || m.n === 0) return COLUMNS.map(() => '–');
  return [m.rank1, m.rank2, m.rank3, m.rank4, m.rank5, m.mAP].map((x) => (100 * x).toFixed(1));
}

/**
 * Percentages with one decimal. `baselineName` heads the baseline's columns (the lexical method);
 * a gallery missing on one side shows dashes there.
 */
export function formatReidTable(
  report: Partial<ReidReport> & { hybrid?: Record<string, ReidMetrics> },
  baselineName = 'BM25',
): string {
  const enc = report.galleries ?? {};
  const base = report.baseline ?? {};
  const kinds = [...Object.keys(enc), ...Object.keys(base).filter((k) => !(k in enc))];
  const sides: [string, Record<string, ReidMetrics>][] = [];
  if (report.galleries) sides.push(['encoder', enc]);
  if (report.baseline) sides.push([baselineName, base]);
  if (report.hybrid) sides.push([`hybrid (encoder + ${baselineName})`, report.hybrid]);

  const header = ['gallery', 'n'];
  for (const _ of sides) header.push(...COLUMNS);
  const rows = kinds.map((kind) => {
    const n = enc[kind]?.n ?? base[kind]?.n ?? 0;
    const cells = [kind, String(n)];
    for (const [, side] of sides) cells.push(...figures(side[kind]));
    return cells;
  });
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => r[c]!.length)));
  // Each side's first column gets an extra gap so the two sides read as two blocks.
  const startsSide = (c: number): boolean => c >= 2 && (c - 2) % COLUMNS.length === 0;
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => {
        const padded = c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!);
        return startsSide(c) ? `  ${padded}` : padded;
      })
      .join('  ')
      .trimEnd();
  let groups = ''.padEnd(widths[0]! + 2 + widths[1]!);
  sides.forEach(([name], i) => {
    const first = 2 + i * COLUMNS.length;
    const span = widths.slice(first, first + COLUMNS.length).reduce((a, w) => a + w + 2, -2);
    groups += `    ${name.padEnd(span)}`;
  });
  return [groups.trimEnd(), line(header), ...rows.map(line)].join('\n') + '\n';
}
