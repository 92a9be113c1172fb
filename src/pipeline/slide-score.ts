// Score: the slide's features against the prompt sets' class embeddings: top-K pooled scores and
// predictions per set and for their ensemble (scores.json), and one heatmap per ensemble class
// (each patch's cosine with the class, drawn over the slide's thumbnail).
import { join } from 'node:path';
import { z } from 'zod';
import { poolPromptSets, type PromptSet } from '../data/prompt-sets.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import {
  TextEmbeddingCache,
  classEmbeddings,
  cosineScores,
  normaliseRows,
} from '../eval/class-embeddings.ts';
import type { Pooling } from '../eval/slide-pooling.ts';
import { type ClassSet, scoreSlide } from '../eval/slide-subtyping.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { Progress } from '../util/progress.ts';
import { thumbnail } from '../wsi/downsample.ts';
import type { PatchFeatures } from '../wsi/features-h5.ts';
import { type Colormap, renderHeatmap, writePng } from '../wsi/heatmap.ts';
import { openSlide } from '../wsi/open-slide.ts';
import { readJson } from './done-marker.ts';

const scoresSchema = z.object({
  slide: z.string(),
  ks: z.array(z.number()),
  pooling: z.enum(['sum', 'mean']),
  ensemble: z.object({
    labels: z.array(z.string()),
    pooled: z.array(z.array(z.number())),
    predicted: z.array(z.string()),
  }),
  sets: z.array(z.object({ id: z.string(), predicted: z.array(z.string()) })),
});
export type SlideScoresFile = z.infer<typeof scoresSchema>;

export function readScoresFile(path: string): SlideScoresFile | undefined {
  return readJson(path, scoresSchema);
}

/** File-name-safe form of a class label for heatmap-<label>.png. */
export function labelFileName(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'class';
}

/** The class embeddings of every prompt set and of their ensemble (computed once per run). */
export interface ScoringClasses {
  sets: ClassSet[];
  ensemble: ClassSet;
}

export async function embedClassSets(
  promptSets: readonly PromptSet[],
  model: VisionLanguageModel,
  progress?: Progress,
): Promise<ScoringClasses> {
  const texts = new TextEmbeddingCache(model);
  const sets: ClassSet[] = [];
  for (const set of promptSets) {
    sets.push({ id: set.id, ...(await classEmbeddings(set, texts)) });
    progress?.increment();
  }
  const ensemble = {
    id: 'ensemble',
    ...(await classEmbeddings(poolPromptSets(promptSets, 'ensemble'), texts)),
  };
  progress?.increment();
  return { sets, ensemble };
}

export interface ScoreSettings {
  ks: number[];
  pooling: Pooling;
  heatmapSize: number;
  colormap: Colormap;
}

/** Writes the heatmaps, then scores.json, for a slide's features (read from its features.h5). */
export async function scoreSlideFeatures(
  feats: PatchFeatures,
  slide: { id: string; path: string; dir: string },
  classes: ScoringClasses,
  s: ScoreSettings,
): Promise<void> {
  const { sets, ensemble } = classes;
  const perSet = scoreSlide(feats.features, feats.count, feats.dim, sets, s.ks, s.pooling);
  const [ens] = scoreSlide(feats.features, feats.count, feats.dim, [ensemble], s.ks, s.pooling);
  const file: SlideScoresFile = {
    slide: slide.id,
    ks: s.ks,
    pooling: s.pooling,
    ensemble: {
      labels: [...ensemble.labels],
      pooled: ens!.pooled.map((p) => Array.from(p)),
      predicted: ens!.predicted,
    },
    sets: perSet.map((r, i) => ({ id: sets[i]!.id, predicted: r.predicted })),
  };
  await writeHeatmaps(slide.path, slide.dir, feats, ensemble, s);
  writeFileAtomic(join(slide.dir, 'scores.json'), JSON.stringify(file) + '\n');
}

/** Heatmaps: each patch's cosine with each ensemble class, over the thumbnail. */
async function writeHeatmaps(
  slidePath: string,
  dir: string,
  feats: PatchFeatures,
  ensemble: ClassSet,
  s: ScoreSettings,
): Promise<void> {
  const slide = await openSlide(slidePath);
  let view: Awaited<ReturnType<typeof thumbnail>>;
  try {
    view = await thumbnail(slide, s.heatmapSize);
  } finally {
    slide.close();
  }
  const patchScores = cosineScores(normaliseRows(feats.features.slice(), feats.dim), ensemble);
  const c = ensemble.labels.length;
  const names = new Set<string>();
  for (let k = 0; k < c; k++) {
    // Labels that differ only in characters a file name cannot hold get a numbered suffix.
    let name = labelFileName(ensemble.labels[k]!);
    if (names.has(name)) name = `${name}-${k + 1}`;
    names.add(name);
    const values = new Float32Array(feats.count);
    for (let p = 0; p < feats.count; p++) values[p] = patchScores[p * c + k]!;
    const image = renderHeatmap({
      thumbnail: view.image,
      slideWidth: slide.width,
      slideHeight: slide.height,
      coords: feats.coords,
      patchSizeLevel0: feats.meta.patchSizeLevel0,
      values,
      colormap: s.colormap,
    });
    await writePng(join(dir, `heatmap-${name}.png`), image, { palette: true });
  }
}
