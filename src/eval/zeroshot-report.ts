// What `kep eval zeroshot` prints and writes: one JSON summary (the command's contract), and with
// --out a report folder — zeroshot.json (every set), zeroshot.md (tables), and the median set's
// confusion matrix as confusion.svg and confusion.png. A model without trained weights is flagged
// in every one of them, since its figures are chance and must not be mistaken for results.
import { join } from 'node:path';
import type { UnreadableImage } from '../data/image-loader.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { type ClassScores, type Quartiles, classScores } from './classification-metrics.ts';
import { confusionSvg, svgToPng } from './confusion-image.ts';
import type { ZeroShotResult, ZeroShotSetResult } from './zeroshot.ts';
import type { Precision } from '../engine/quantize.ts';

export interface ZeroShotMeta {
  /** Name of the run (rows of `kep eval table`). */
  name: string;
  model: { name: string; source: string; untrained: boolean; precision?: Precision };
  /** The labels file (or class folder) and image root. */
  images: string;
  root: string;
  prompts: string;
  /** All sets pooled into one template ensemble (--ensemble). */
  ensemble: boolean;
  unreadable: readonly UnreadableImage[];
  texts: { embedded: number; reused: number };
  /** Wall time of the image embedding and of the prompt sets (text embedding + scoring). */
  seconds?: { images: number; prompts: number };
}

export const UNTRAINED_WARNING = 'UNTRAINED MODEL: random weights, these figures are chance and mean nothing';

const round = (x: number): number => Math.round(x * 1e6) / 1e6;
const roundQ = (q: Quartiles): Quartiles => ({ median: round(q.median), q1: round(q.q1), q3: round(q.q3) });

export interface ZeroShotSummary {
  wF1: Quartiles;
  bacc: Quartiles;
  n_sets: number;
  accuracy: Quartiles;
  n_images: number;
  n_unreadable: number;
  median_set: string;
  classes: string[];
  distractors: string[];
  model: string;
  untrained: boolean;
  precision: Precision;
  warning?: string;
  seconds?: { images: number; prompts: number };
}

/** The one JSON object `--json` prints. */
export function zeroShotSummary(r: ZeroShotResult, meta: ZeroShotMeta): ZeroShotSummary {
  return {
    wF1: roundQ(r.wF1),
    bacc: roundQ(r.bacc),
    n_sets: r.n_sets,
    accuracy: roundQ(r.accuracy),
    n_images: r.n_images,
    n_unreadable: meta.unreadable.length,
    median_set: r.median_set,
    classes: r.classes,
    distractors: r.distractors,
    model: meta.model.name,
    untrained: meta.model.untrained,
    precision: meta.model.precision ?? 'fp32',
    ...(meta.model.untrained ? { warning: UNTRAINED_WARNING } : {}),
    ...(meta.seconds
      ? {
          seconds: {
            images: Math.round(meta.seconds.images * 10) / 10,
            prompts: Math.round(meta.seconds.prompts * 10) / 10,
          },
        }
      : {}),
  };
}

function medianSet(r: ZeroShotResult): ZeroShotSetResult {
  return r.sets.find((s) => s.id === r.median_set)!;
}

const f3 = (x: number): string => x.toFixed(3);
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function perClassTable(set: ZeroShotSetResult, scores: ClassScores[], distractors: Set<string>): string {
  const rows = set.labels.map((l, i) => {
    const s = scores[i]!;
    return `| ${cell(l)}${distractors.has(l) ? ' (distractor)' : ''} | ${cell(set.captions[i]!.join(' / '))} | ${s.support} | ${s.predicted} | ${f3(s.precision)} | ${f3(s.recall)} | ${f3(s.f1)} |`;
  });
  return [
    '| class | caption(s) | images | predicted | precision | recall | F1 |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function confusionTable(set: ZeroShotSetResult): string {
  return [
    `| true \\ predicted | ${set.labels.map(cell).join(' | ')} |`,
    `|---|${set.labels.map(() => '---:').join('|')}|`,
    ...set.confusion.map((row, t) => `| ${cell(set.labels[t]!)} | ${row.join(' | ')} |`),
  ].join('\n');
}

function setsTable(sets: readonly ZeroShotSetResult[]): string {
  return [
    '| set | weighted F1 | balanced accuracy | accuracy |',
    '|---|---:|---:|---:|',
    ...sets.map((s) => `| ${cell(s.id)} | ${f3(s.wF1)} | ${f3(s.bacc)} | ${f3(s.accuracy)} |`),
  ].join('\n');
}

export function zeroShotMarkdown(r: ZeroShotResult, meta: ZeroShotMeta): string {
  const med = medianSet(r);
  const distractors = new Set(r.distractors);
  const q = (x: Quartiles): string => `${f3(x.median)} | ${f3(x.q1)} | ${f3(x.q3)}`;
  const lines = [
    '# Zero-shot classification',
    '',
    ...(meta.model.untrained ? [`> **⚠ ${UNTRAINED_WARNING}.**`, ''] : []),
    `- run: ${meta.name}; model: \`${meta.model.name}\` — ${meta.model.source}; precision ${meta.model.precision ?? 'fp32'}`,
    `- images: \`${meta.images}\` (root \`${meta.root}\`): ${r.n_images} classified, ${meta.unreadable.length} unreadable`,
    `- classes: ${r.classes.join(', ')}${r.distractors.length ? `; distractors offered by the prompts: ${r.distractors.join(', ')}` : ''}`,
    `- prompts: \`${meta.prompts}\`, ${r.n_sets} set${r.n_sets === 1 ? '' : 's'}${meta.ensemble ? ' (all sets pooled into one template ensemble)' : ''}; ${meta.texts.embedded} distinct captions embedded`,
    '',
    '| metric | median | q1 | q3 |',
    '|---|---:|---:|---:|',
    `| weighted F1 | ${q(r.wF1)} |`,
    `| balanced accuracy | ${q(r.bacc)} |`,
    `| accuracy | ${q(r.accuracy)} |`,
    '',
    `## Median set ("${med.id}": weighted F1 ${f3(med.wF1)}, balanced accuracy ${f3(med.bacc)})`,
    '',
    perClassTable(med, classScores(med.confusion), distractors),
    '',
    confusionTable(med),
    '',
    '![confusion matrix of the median set](confusion.png)',
    '',
  ];
  if (r.sets.length > 1) {
    const sorted = [...r.sets].sort((a, b) => a.wF1 - b.wF1);
    if (sorted.length <= 100) lines.push('## Every set, by weighted F1', '', setsTable(sorted), '');
    else
      lines.push(
        `## The 10 lowest and 10 highest of ${sorted.length} sets by weighted F1 (all in zeroshot.json)`,
        '',
        setsTable([...sorted.slice(0, 10), ...sorted.slice(-10)]),
        '',
      );
  }
  if (meta.unreadable.length > 0)
    lines.push(
      `## Unreadable images (${meta.unreadable.length}, left out)`,
      '',
      ...meta.unreadable.slice(0, 50).map((u) => `- \`${u.path}\`: ${u.reason}`),
      ...(meta.unreadable.length > 50 ? [`- … ${meta.unreadable.length - 50} more in zeroshot.json`] : []),
      '',
    );
  return lines.join('\n');
}

export interface ZeroShotReportFiles {
  json: string;
  markdown: string;
  svg: string;
  png: string;
}

export async function writeZeroShotReport(
  dir: string,
  r: ZeroShotResult,
  meta: ZeroShotMeta,
): Promise<ZeroShotReportFiles> {
  const files = {
    json: join(dir, 'zeroshot.json'),
    markdown: join(dir, 'zeroshot.md'),
    svg: join(dir, 'confusion.svg'),
    png: join(dir, 'confusion.png'),
  };
  const med = medianSet(r);
  const report = {
    name: meta.name,
    ...zeroShotSummary(r, meta),
    model: meta.model,
    images: meta.images,
    root: meta.root,
    prompts: meta.prompts,
    ensemble: meta.ensemble,
    texts: meta.texts,
    median: {
      ...med,
      per_class: classScores(med.confusion).map((s, i) => ({ label: med.labels[i], ...s })),
    },
    sets: r.sets.map((s) => ({
      id: s.id,
      wF1: round(s.wF1),
      bacc: round(s.bacc),
      accuracy: round(s.accuracy),
    })),
    unreadable: meta.unreadable,
  };
  const svg = confusionSvg(med.labels, med.confusion, {
    title: `Set "${med.id}" (median): weighted F1 ${f3(med.wF1)}, balanced accuracy ${f3(med.bacc)}`,
    distractors: r.distractors,
    ...(meta.model.untrained ? { warning: UNTRAINED_WARNING } : {}),
  });
  writeFileAtomic(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(files.markdown, zeroShotMarkdown(r, meta));
  writeFileAtomic(files.svg, svg);
  writeFileAtomic(files.png, await svgToPng(svg));
  return files;
}
