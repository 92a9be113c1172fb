// What a slide's outputs depend on, resolved once per batch: the segmentation, patch, overview and
// scoring settings and the model's identity. They are plain JSON (a queue can carry them to a
// worker), and the keys in done.json are hashes of them, so the same settings give the same key
// however they were given (defaults filled in, undefined options dropped).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelSource } from '../embed/types.ts';
import { DEFAULT_TOP_K, type Pooling } from '../eval/slide-pooling.ts';
import type { Colormap } from '../wsi/heatmap.ts';
import { OVERVIEW_SIDE } from '../wsi/overview.ts';
import { PATCH_DEFAULTS, type PatchGridOptions } from '../wsi/patch-grid.ts';
import { resolveSegmentOptions, type ResolvedSegmentOptions, type SegmentOptions } from '../wsi/segment.ts';
import type { SlideInput } from './slide-inputs.ts';

/** Version of the key scheme and of done.json. */
export const STATE_VERSION = 1;

/** The settings every slide of a batch is processed with. */
export interface SlideSettings {
  /** What features.h5, tissue.geojson and overview.png depend on (hashed into the embed key). */
  embed: {
    segment: ResolvedSegmentOptions;
    patch: Required<Omit<PatchGridOptions, 'mpp'>> & Pick<PatchGridOptions, 'mpp'>;
    overviewSize: number;
    model: Record<string, unknown>;
  };
  /** What scores.json and the heatmaps depend on besides the features; null without prompts. */
  scoring: {
    prompts: string;
    ks: number[];
    pooling: Pooling;
    heatmapSize: number;
    colormap: Colormap;
  } | null;
  /** Prompt sets file (read when scoring). */
  promptsFile: string | null;
  batchSize: number;
  retryFailed: boolean;
}

export interface SlideSettingsOptions {
  model: ModelSource;
  /** Prompt sets: with them, each slide is scored and heatmaps drawn. */
  prompts?: string;
  segment?: SegmentOptions;
  patch?: PatchGridOptions;
  ks?: readonly number[];
  pooling?: Pooling;
  batchSize?: number;
  /** Longer side of overview.png (default: overview.ts's, 1024). */
  overviewSize?: number;
  /** Longer side of the heatmaps (default 1024). */
  heatmapSize?: number;
  colormap?: Colormap;
  retryFailed?: boolean;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function fileStamp(path: string): { size: number; mtimeMs: number } | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: Math.round(s.mtimeMs) };
  } catch {
    return null;
  }
}

/** What the model is, for the output keys: the registry name or folder, and its weights file. */
export function modelIdentity(source: ModelSource): Record<string, unknown> {
  return {
    name: source.name ?? null,
    dir: source.dir ? resolve(source.dir) : null,
    dirStamp: source.dir ? fileStamp(join(source.dir, 'kep-model.json')) : null,
    weights: source.weights ? resolve(source.weights) : null,
    weightsStamp: source.weights ? fileStamp(source.weights) : null,
    keyMap: source.keyMap ?? null,
    vocab: source.vocab ? resolve(source.vocab) : null,
    // Only when chosen, so that the keys of runs without it stay what they were.
    ...(source.imageNorm ? { imageNorm: source.imageNorm } : {}),
    // An int8 run's features are not an fp32 run's: its own key, so neither reuses the other's.
    ...(source.precision && source.precision !== 'fp32' ? { precision: source.precision } : {}),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Throws on bad segmentation options, before any slide is touched. */
export function resolveSlideSettings(o: SlideSettingsOptions): SlideSettings {
  return {
    embed: {
      segment: resolveSegmentOptions(definedOnly(o.segment ?? {})),
      patch: { ...PATCH_DEFAULTS, ...definedOnly(o.patch ?? {}) },
      overviewSize: o.overviewSize ?? OVERVIEW_SIDE,
      model: modelIdentity(o.model),
    },
    scoring: o.prompts
      ? {
          prompts: sha256(readFileSync(o.prompts, 'utf8')),
          ks: [...(o.ks ?? DEFAULT_TOP_K)],
          pooling: o.pooling ?? 'mean',
          heatmapSize: o.heatmapSize ?? 1024,
          colormap: o.colormap ?? 'viridis',
        }
      : null,
    promptsFile: o.prompts ?? null,
    batchSize: o.batchSize ?? 32,
    retryFailed: o.retryFailed ?? false,
  };
}

export interface SlideKeys {
  /** Hash of the slide file's path, size and mtime and the embed settings. */
  embedKey: string;
  /** Hash of the embed key and the scoring settings; null without prompts. */
  scoreKey: string | null;
}

export function slideKeys(input: SlideInput, settings: SlideSettings): SlideKeys {
  const embedKey = sha256(
    JSON.stringify({
      v: STATE_VERSION,
      source: fileStamp(input.path),
      path: resolve(input.path),
      ...settings.embed,
    }),
  );
  const scoreKey = settings.scoring ? sha256(JSON.stringify({ embedKey, ...settings.scoring })) : null;
  return { embedKey, scoreKey };
}
