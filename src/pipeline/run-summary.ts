// The record of a batch run: `summary.json` (one entry per slide: status, patches, seconds, error)
// and `summary.md` for people, failures listed with their reasons. An untrained model is said
// loudly in both: its features and predictions are random.
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';

/**
 * done: processed by this run; skipped: complete from an earlier run (nothing redone); failed: this
 * run or an earlier one could not process it (see error); locked: another live process holds it.
 */
export type SlideStatus = 'done' | 'skipped' | 'failed' | 'locked';

export interface SlideSummary {
  slide: string;
  path: string;
  status: SlideStatus;
  n_patches: number | null;
  /** Time this run spent on the slide (0 when skipped or locked). */
  seconds: number;
  error: string | null;
  /** not-found, unsupported, corrupt, no-tissue, … (SlideError kinds), or 'error'. */
  error_kind?: string;
  label?: string;
  /** The ensemble prediction at the largest K, when prompts were given. */
  prediction?: string;
  /** Why an earlier run's outputs were not trusted ("redone: features.h5 corrupt (…)"). */
  note?: string;
}

export interface RunSummary {
  started: string;
  finished: string;
  seconds: number;
  model: string;
  /** True when the model had no trained weights: every feature and prediction is meaningless. */
  untrained: boolean;
  model_source: string;
  /** Precision of the image tower (int8 features are not fp32 features). */
  precision: 'fp32' | 'int8';
  settings: Record<string, unknown>;
  counts: Record<SlideStatus, number>;
  slides: SlideSummary[];
}

export function countStatuses(slides: readonly SlideSummary[]): Record<SlideStatus, number> {
  const counts: Record<SlideStatus, number> = { done: 0, skipped: 0, failed: 0, locked: 0 };
  for (const s of slides) counts[s.status]++;
  return counts;
}

const cell = (v: string): string => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function summaryMarkdown(summary: RunSummary, subtypingMd?: string): string {
  const c = summary.counts;
  const lines = [
    '# Whole-slide run',
    '',
    ...(summary.untrained
      ? [
          `> **UNTRAINED MODEL.** ${summary.model} ran with random weights (no --weights/--model-dir): the`,
          '> features, scores, heatmaps and predictions below are meaningless except as a pipeline check.',
          '',
        ]
      : []),
    `Model: ${summary.model} (${summary.model_source}), ${summary.precision}. Started ${summary.started}, ${summary.seconds.toFixed(1)} s.`,
    '',
    `${summary.slides.length} slide${summary.slides.length === 1 ? '' : 's'}: ${c.done} done, ${c.skipped} skipped (complete from an earlier run), ${c.failed} failed, ${c.locked} locked by another process.`,
    '',
    '| slide | status | patches | seconds | label | prediction |',
    '| --- | --- | --- | --- | --- | --- |',
    ...summary.slides.map(
      (s) =>
        `| ${cell(s.slide)} | ${s.status} | ${s.n_patches ?? ''} | ${s.seconds.toFixed(1)} | ${cell(s.label ?? '')} | ${cell(s.prediction ?? '')} |`,
    ),
  ];
  const failed = summary.slides.filter((s) => s.status === 'failed' || s.status === 'locked');
  if (failed.length > 0) {
    lines.push('', '## Not processed', '');
    for (const s of failed)
      lines.push(`- **${s.slide}** (${s.error_kind ?? s.status}): ${cell(s.error ?? '')}`);
  }
  const noted = summary.slides.filter((s) => s.note);
  if (noted.length > 0) {
    lines.push('', '## Notes', '');
    for (const s of noted) lines.push(`- **${s.slide}**: ${cell(s.note!)}`);
  }
  if (subtypingMd) lines.push('', '## Zero-shot subtyping', '', subtypingMd.trimEnd());
  return lines.join('\n') + '\n';
}

export function writeRunSummary(out: string, summary: RunSummary, subtypingMd?: string): void {
  writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileAtomic(join(out, 'summary.md'), summaryMarkdown(summary, subtypingMd));
}
