// Report: once every slide has been through processSlide, each slide's prediction (from its
// scores.json, this run's or an earlier one's), the subtyping report over the labelled slides, and
// summary.json/md for the run.
import { join } from 'node:path';
import { z } from 'zod';
import { promptFileJson, type PromptSet } from '../data/prompt-sets.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import {
  type LabelledSlideScores,
  subtypingMarkdown,
  summariseSubtyping,
  type SubtypingSummary,
} from '../eval/slide-subtyping.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { readJson } from './done-marker.ts';
import { countStatuses, type RunSummary, type SlideSummary, writeRunSummary } from './run-summary.ts';
import { readScoresFile } from './slide-score.ts';
import type { SlideSettings } from './slide-settings.ts';

export interface BatchReportInput {
  out: string;
  started: Date;
  slides: SlideSummary[];
  settings: SlideSettings;
  promptSets?: readonly PromptSet[];
  /** The model this run loaded; undefined when it had nothing to compute. */
  model: Pick<VisionLanguageModel, 'name' | 'untrained' | 'source'> | undefined;
  source: ModelSource;
}

export function reportBatch(r: BatchReportInput): { summary: RunSummary; subtyping?: SubtypingSummary } {
  // The prompts beside the scores, so that a viewer (kep serve) re-scores with the run's own classes.
  if (r.promptSets)
    writeFileAtomic(
      join(r.out, 'prompts.json'),
      `${JSON.stringify(promptFileJson(r.promptSets), null, 2)}\n`,
    );
  const subtyping = r.promptSets && r.settings.scoring ? reportSubtyping(r, r.settings.scoring) : undefined;
  const finished = new Date();
  const previous = readJson(
    join(r.out, 'summary.json'),
    z.object({ model: z.string(), untrained: z.boolean(), model_source: z.string() }).passthrough(),
  );
  const { scoring, embed, batchSize } = r.settings;
  const summary: RunSummary = {
    started: r.started.toISOString(),
    finished: finished.toISOString(),
    seconds: (finished.getTime() - r.started.getTime()) / 1000,
    // A run that had nothing to do loaded no model: the earlier run's record says what made the outputs.
    model: r.model?.name ?? previous?.model ?? r.source.name ?? r.source.dir ?? 'unknown',
    untrained: r.model?.untrained ?? previous?.untrained ?? !(r.source.weights || r.source.dir),
    model_source: r.model?.source ?? previous?.model_source ?? '(not loaded: nothing to compute)',
    precision: r.source.precision ?? 'fp32',
    settings: { ...embed, ...(scoring ? { scoring } : {}), batchSize },
    counts: countStatuses(r.slides),
    slides: r.slides,
  };
  writeRunSummary(r.out, summary, subtyping ? subtypingMarkdown(subtyping) : undefined);
  return { summary, ...(subtyping ? { subtyping } : {}) };
}

/** Sets each scored slide's prediction; writes subtyping.json/md when some slides are labelled. */
function reportSubtyping(
  r: BatchReportInput,
  scoring: NonNullable<SlideSettings['scoring']>,
): SubtypingSummary | undefined {
  const scored: LabelledSlideScores[] = [];
  for (const s of r.slides) {
    if (s.status !== 'done' && s.status !== 'skipped') continue;
    const file = readScoresFile(join(r.out, s.slide, 'scores.json'));
    if (!file) continue;
    s.prediction = file.ensemble.predicted[file.ensemble.predicted.length - 1]!;
    if (s.label !== undefined) scored.push({ slide: s.slide, label: s.label, sets: file.sets });
  }
  if (scored.length === 0) return undefined;
  const subtyping = summariseSubtyping(
    scored,
    r.promptSets!.map((p) => ({ id: p.id, labels: p.classes.map((c) => c.label) })),
    scoring.ks,
    scoring.pooling,
  );
  writeFileAtomic(join(r.out, 'subtyping.json'), JSON.stringify(subtyping, null, 2) + '\n');
  writeFileAtomic(join(r.out, 'subtyping.md'), subtypingMarkdown(subtyping));
  return subtyping;
}
