// The knowledge encoder's evaluation sets: disease names as queries, one gallery per other attribute
// kind, plus the synonyms wrapped in zero-shot-style prompts (the form in which class names reach the
// text tower at inference). `evaluate` scores a learned encoder, `evaluateLexical` the baseline.
import { Rng } from '../engine/init.ts';
import { lexicalScores, type Bm25Options, type LexicalMethod } from './lexical.ts';
import { cosineScores, reid, type ReidMetrics } from './reid.ts';

/** One parsed sample, as `kep knowledge export --format jsonl` writes it. */
export interface EvalSample {
  text: string;
  label: string;
  kind: string;
  tissue?: string;
}

export interface TextSet {
  texts: string[];
  labels: string[];
}

export interface Gallery extends TextSet {
  kind: string;
}

export interface EvalSets {
  queries: TextSet;
  galleries: Gallery[];
}

/** Per gallery kind, in gallery order. */
export type GalleryMetrics = Record<string, ReidMetrics>;

/** The JSON contract of `kep eval knowledge --json`. */
export interface ReidReport {
  galleries: GalleryMetrics;
  baseline: GalleryMetrics;
}

export const QUERY_KIND = 'name';
export const PROMPT_KIND = 'synonym_prompt';
const KNOWN_GALLERY_KINDS = ['synonym', 'definition', 'histology', 'cytology'];

/** Written for this project in the manner of zero-shot pathology prompts; `{}` is the synonym. */
export const PROMPT_TEMPLATES: readonly string[] = [
  'an H&E image of {}.',
  'a histopathology slide showing {}.',
  'presence of {} tissue.',
  'a microscopy image of {}.',
  'a haematoxylin and eosin stained section of {}.',
  'a tissue sample diagnosed as {}.',
  'this biopsy shows features of {}.',
  'a pathology image with {}.',
  'a whole-slide image region of {}.',
  'a photomicrograph of {} at high magnification.',
];

export interface BuildOptions {
  /** Seeds the choice of prompt template for each synonym. */
  seed: number;
  templates?: readonly string[];
}

/**
 * Queries are the `name` samples; galleries are the other kinds present (known kinds first, in the
 * paper's order, then any others in code-unit order), plus `synonym_prompt` when synonyms exist. The
 * samples' order is kept within each set.
 */
export function buildGalleries(samples: readonly EvalSample[], options: BuildOptions): EvalSets {
  const templates = options.templates ?? PROMPT_TEMPLATES;
  if (templates.length === 0 || templates.some((t) => !t.includes('{}'))) {
    throw new Error('buildGalleries: every prompt template needs a {} for the synonym');
  }
  const byKind = new Map<string, TextSet>();
  for (const s of samples) {
    let set = byKind.get(s.kind);
    if (!set) byKind.set(s.kind, (set = { texts: [], labels: [] }));
    set.texts.push(s.text);
    set.labels.push(s.label);
  }
  const queries = byKind.get(QUERY_KIND) ?? { texts: [], labels: [] };
  const others = [...byKind.keys()]
    .filter((k) => k !== QUERY_KIND && !KNOWN_GALLERY_KINDS.includes(k))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const galleries: Gallery[] = [];
  for (const kind of [...KNOWN_GALLERY_KINDS, ...others]) {
    const set = byKind.get(kind);
    if (set) galleries.push({ kind, ...set });
  }
  const synonyms = byKind.get('synonym');
  if (synonyms && !byKind.has(PROMPT_KIND)) {
    // Keyed stream: the choice depends on the seed alone, not on what else drew from an Rng first.
    const rng = new Rng(options.seed, PROMPT_KIND);
    galleries.push({
      kind: PROMPT_KIND,
      texts: synonyms.texts.map((t) => templates[rng.int(templates.length)]!.replace('{}', t)),
      labels: [...synonyms.labels],
    });
  }
  return { queries, galleries };
}

/** Embeds `texts` as an n × d row-major matrix; any scale (rows are normalised for the cosine). */
export type Encode = (texts: string[]) => Promise<Float32Array>;

export async function embedTexts(
  encode: Encode,
  texts: string[],
  what: string,
): Promise<{ rows: Float32Array; d: number }> {
  const rows = await encode(texts);
  const n = texts.length;
  if (n === 0 || rows.length === 0 || rows.length % n !== 0) {
    throw new Error(`evaluate: the encoder returned ${rows.length} values for ${n} ${what} texts`);
  }
  return { rows, d: rows.length / n };
}

/** Re-identification metrics of a learned encoder, per gallery (cosine similarity). */
export async function evaluate(encode: Encode, sets: EvalSets): Promise<GalleryMetrics> {
  const result: GalleryMetrics = {};
  if (sets.queries.texts.length === 0) {
    for (const g of sets.galleries) result[g.kind] = reid(() => {}, [], g.labels);
    return result;
  }
  const q = await embedTexts(encode, sets.queries.texts, 'query');
  for (const g of sets.galleries) {
    if (g.texts.length === 0) {
      result[g.kind] = reid(() => {}, sets.queries.labels, g.labels);
      continue;
    }
    const e = await embedTexts(encode, g.texts, g.kind);
    if (e.d !== q.d) throw new Error(`evaluate: ${g.kind} embeddings are ${e.d}-wide, queries ${q.d}-wide`);
    result[g.kind] = reid(cosineScores(q.rows, e.rows, q.d), sets.queries.labels, g.labels);
  }
  return result;
}

export interface LexicalOptions extends Bm25Options {
  method?: LexicalMethod;
}

/** The lexical baseline (BM25 by default), each gallery indexed on its own. */
export function evaluateLexical(sets: EvalSets, options: LexicalOptions = {}): GalleryMetrics {
  const { method = 'bm25', ...rest } = options;
  const result: GalleryMetrics = {};
  for (const g of sets.galleries) {
    result[g.kind] = reid(
      lexicalScores(sets.queries.texts, g.texts, method, rest),
      sets.queries.labels,
      g.labels,
    );
  }
  return result;
}

/** The encoder and the baseline on the same sets: the report `kep eval knowledge` prints. */
export async function evaluateWithBaseline(
  encode: Encode,
  sets: EvalSets,
  options: LexicalOptions = {},
): Promise<ReidReport> {
  return { galleries: await evaluate(encode, sets), baseline: evaluateLexical(sets, options) };
}
