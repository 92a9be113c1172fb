// The server's state over one run folder: open slides and their Deep Zoom tiles (an LRU of encoded
// JPEGs, bounded in bytes), the slides' unit-length patch features (an LRU of a few slides), the
// model (loaded once, on the first text query: tiles and overlays need none) and the run's classes.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { parsePromptFile, poolPromptSets, type PromptSet } from '../data/prompt-sets.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import type { Precision } from '../engine/quantize.ts';
import {
  type ClassEmbeddings,
  classEmbeddings,
  normaliseRows,
  TextEmbeddingCache,
} from '../eval/class-embeddings.ts';
import { DEFAULT_TEMPLATES } from '../eval/class-prompts.ts';
import { readFeaturesH5, type PatchFeaturesMeta } from '../wsi/features-h5.ts';
import { openSlide } from '../wsi/open-slide.ts';
import type { Slide } from '../wsi/slide.ts';
import { type DeepZoomLayout, deepZoomLayout, renderTile, tileRegion } from './deep-zoom.ts';
import type { UnitFeatures } from './patch-scores.ts';
import type { RunFolder, SlideEntry } from './run-folder.ts';

export type ModelLoader = (source: ModelSource | string) => Promise<VisionLanguageModel>;

export interface SlideFeatures extends UnitFeatures {
  meta: PatchFeaturesMeta;
}

export interface Tile {
  jpeg: Buffer;
  etag: string;
}

export interface RunClasses {
  set: PromptSet;
  /** Where the classes came from, for the app to say. */
  origin: string;
}

const TILE_CACHE_BYTES = 128 * 2 ** 20;
const OPEN_SLIDES = 8;
const FEATURE_SLIDES = 6;

const scoresFileSchema = z.looseObject({ ensemble: z.looseObject({ labels: z.array(z.string()).min(1) }) });

export class SlideStore {
  private readonly slides = new LRUCache<string, { slide: Slide; layout: DeepZoomLayout }>({
    max: OPEN_SLIDES,
    dispose: (v) => v.slide.close(),
  });
  private readonly opening = new Map<string, Promise<{ slide: Slide; layout: DeepZoomLayout }>>();
  private readonly tiles = new LRUCache<string, Tile>({
    maxSize: TILE_CACHE_BYTES,
    sizeCalculation: (t) => t.jpeg.length + 64,
  });
  private readonly features = new LRUCache<string, Promise<SlideFeatures>>({ max: FEATURE_SLIDES });
  private model: Promise<VisionLanguageModel> | undefined;
  private texts: TextEmbeddingCache | undefined;
  private readonly classCache = new Map<string, Promise<ClassEmbeddings>>();
  /** Tiles rendered (cache misses), for tests and logs. */
  tilesRendered = 0;

  constructor(
    readonly run: RunFolder,
    private readonly modelSource: ModelSource | string | undefined,
    private readonly loadModel: ModelLoader,
  ) {}

  entry(id: string): SlideEntry | undefined {
    return this.run.slides.find((s) => s.id === id);
  }

  async open(e: SlideEntry): Promise<{ slide: Slide; layout: DeepZoomLayout }> {
    const held = this.slides.get(e.id);
    if (held) return held;
    if (!e.slidePath) throw new Error(`${e.id}: the slide file is not available`);
    let p = this.opening.get(e.id);
    if (!p) {
      p = openSlide(e.slidePath).then((slide) => {
        const v = { slide, layout: deepZoomLayout(slide.width, slide.height) };
        this.slides.set(e.id, v);
        return v;
      });
      this.opening.set(e.id, p);
      void p.finally(() => this.opening.delete(e.id)).catch(() => {});
    }
    return p;
  }

  /** A tile, or undefined when (level, col, row) is outside the pyramid. */
  async tile(e: SlideEntry, level: number, col: number, row: number): Promise<Tile | undefined> {
    const key = `${e.id}/${level}/${col}_${row}`;
    const hit = this.tiles.get(key);
    if (hit) return hit;
    const { slide, layout } = await this.open(e);
    const region = tileRegion(slide, layout, level, col, row);
    if (!region) return undefined;
    const jpeg = await renderTile(slide, region);
    this.tilesRendered++;
    const tile = { jpeg, etag: `"${createHash('sha1').update(jpeg).digest('base64url')}"` };
    this.tiles.set(key, tile);
    return tile;
  }

  async slideFeatures(e: SlideEntry): Promise<SlideFeatures> {
    let p = this.features.get(e.id);
    if (!p) {
      p = readFeaturesH5(join(e.dir, 'features.h5')).then((f) => ({
        count: f.count,
        dim: f.dim,
        unit: normaliseRows(f.features, f.dim),
        coords: f.coords,
        meta: f.meta,
      }));
      this.features.set(e.id, p);
      p.catch(() => this.features.delete(e.id));
    }
    return p;
  }

  private textCache(): Promise<TextEmbeddingCache> {
    if (!this.modelSource)
      return Promise.reject(new Error('no model: the run folder names none; give one with --model NAME|DIR'));
    this.model ??= this.loadModel(this.modelSource);
    this.model.catch(() => (this.model = undefined));
    return this.model.then((m) => (this.texts ??= new TextEmbeddingCache(m)));
  }

  /** Unit-length text embeddings [texts.length, dim]. */
  async embedTexts(texts: readonly string[]): Promise<Float32Array> {
    return (await this.textCache()).embed(texts);
  }

  async classEmbeddings(set: PromptSet): Promise<ClassEmbeddings> {
    const key = JSON.stringify(set);
    let p = this.classCache.get(key);
    if (!p) {
      p = this.textCache().then((t) => classEmbeddings(set, t));
      if (this.classCache.size > 64) this.classCache.clear();
      this.classCache.set(key, p);
      p.catch(() => this.classCache.delete(key));
    }
    return p;
  }

  /**
   * The run's classes: its prompt file when the run kept one (prompts.json), else the labels of its
   * scores.json in the standard templates (the run's own templates are then unknown, and said so).
   */
  runClasses(): RunClasses | undefined {
    const dir = this.run.wsiDir;
    if (!dir) return undefined;
    const kept = join(dir, 'prompts.json');
    if (existsSync(kept)) {
      const sets = parsePromptFile(JSON.parse(readFileSync(kept, 'utf8')), kept);
      return { set: poolPromptSets(sets, 'run'), origin: `the run's prompts (${kept})` };
    }
    for (const s of this.run.slides) {
      const f = join(s.dir, 'scores.json');
      if (!existsSync(f)) continue;
      const parsed = scoresFileSchema.safeParse(JSON.parse(readFileSync(f, 'utf8')));
      if (!parsed.success) continue;
      const classes = parsed.data.ensemble.labels.map((label) => ({ label, names: [label] }));
      return {
        set: { id: 'run', classes, templates: [...DEFAULT_TEMPLATES] },
        origin: `the labels of ${f} in the standard templates (the run kept no prompts.json)`,
      };
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.slides.clear();
    if (this.model) await (await this.model.catch(() => undefined))?.release();
  }
}

/** The model to load: the one given on the command line, else the one the run names. */
export function modelSourceOf(
  given: string | undefined,
  run: RunFolder,
  precision?: Precision,
): ModelSource | string | undefined {
  const m = run.summary?.settings?.model;
  // Text queries are compared with the run's stored image features: by default at the precision
  // those were embedded at.
  const p = precision ?? m?.precision ?? 'fp32';
  const withPrecision = (s: ModelSource): ModelSource => (p === 'fp32' ? s : { ...s, precision: p });
  if (given) {
    if (p === 'fp32') return given;
    const isDir = existsSync(given) && statSync(given).isDirectory();
    return withPrecision(isDir ? { dir: resolve(given) } : { name: given });
  }
  if (m?.dir) return withPrecision({ dir: resolve(m.dir) });
  if (m?.name)
    return withPrecision({
      name: m.name,
      ...(m.weights ? { weights: m.weights } : {}),
      ...(m.keyMap ? { keyMap: m.keyMap } : {}),
      ...(m.vocab ? { vocab: m.vocab } : {}),
    });
  const named = run.summary?.model && run.summary.model !== 'unknown' ? run.summary.model : undefined;
  return named && p !== 'fp32' ? withPrecision({ name: named }) : named;
}
