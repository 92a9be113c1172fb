// The results table of a zero-shot study, from the zeroshot.json reports that `kep eval zeroshot
// --out` writes: one row per run (--name), one column per data set (named after its prompt file:
// Kather_prompts_100.json → Kather), each cell "median [q1, q3]" of the chosen metric — the form
// KEP's paper tables take. Runs on an untrained model are marked, never silently mixed in; so are
// int8 runs, whose figures are close to but not those of the fp32 model.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';

const quartiles = z.object({ median: z.number(), q1: z.number(), q3: z.number() });

const reportSchema = z.object({
  name: z.string(),
  wF1: quartiles,
  bacc: quartiles,
  n_sets: z.number(),
  n_images: z.number(),
  untrained: z.boolean(),
  /** Absent in reports written before --precision: fp32. */
  precision: z.enum(['fp32', 'int8']).optional(),
  prompts: z.string(),
});

export type ReportEntry = z.infer<typeof reportSchema> & { dataset: string; file: string };

export type TableMetric = 'wF1' | 'bacc';

/** "…/Kather_prompts_100.json" → "Kather"; "tcga_rcc_prompts.json" → "tcga_rcc". */
export function datasetName(promptFile: string): string {
  return basename(promptFile)
    .replace(/\.json$/i, '')
    .replace(/_prompts(_\d+)?$/i, '');
}

export function readReport(file: string): ReportEntry {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
  const r = reportSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${file}: not a zeroshot.json report (${i.path.join('.')}: ${i.message})`);
  }
  return { ...r.data, dataset: datasetName(r.data.prompts), file };
}

export function resultsTable(entries: readonly ReportEntry[], metric: TableMetric): string {
  const runs = [...new Set(entries.map((e) => e.name))];
  const datasets = [...new Set(entries.map((e) => e.dataset))];
  const cell = new Map<string, ReportEntry>();
  for (const e of entries) {
    const key = `${e.name}\u0000${e.dataset}`;
    if (cell.has(key))
      throw new Error(
        `two reports for run "${e.name}" on ${e.dataset}: ${cell.get(key)!.file} and ${e.file}`,
      );
    cell.set(key, e);
  }
  const untrained = entries.some((e) => e.untrained);
  const int8 = entries.some((e) => e.precision === 'int8');
  const f = (x: number): string => x.toFixed(3);
  const title = metric === 'wF1' ? 'weighted F1' : 'balanced accuracy';
  const rows = runs.map((run) => {
    const cells = datasets.map((d) => {
      const e = cell.get(`${run}\u0000${d}`);
      if (!e) return '–';
      const q = e[metric];
      return `${f(q.median)} [${f(q.q1)}, ${f(q.q3)}]${e.untrained ? ' †' : ''}${e.precision === 'int8' ? ' ‡' : ''}`;
    });
    return `| ${run} | ${cells.join(' | ')} |`;
  });
  return [
    `Zero-shot ${title}, median [q1, q3] over prompt sets`,
    '',
    `| run | ${datasets.join(' | ')} |`,
    `|---|${datasets.map(() => '---:').join('|')}|`,
    ...rows,
    ...(untrained ? ['', '† untrained model (random weights): chance-level, not a result.'] : []),
    ...(int8 ? ['', '‡ int8 run (`--precision int8`): the model with int8 linear layers.'] : []),
    '',
  ].join('\n');
}
