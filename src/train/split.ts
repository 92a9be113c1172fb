// A train/evaluation split by attribute (issue 5): a seeded fraction of each attribute kind is held
// out as evaluation galleries, while every disease's name stays in training. Names are never held
// out because they are the queries of the re-identification protocol; what the evaluation measures
// is whether the encoder puts an unseen synonym, definition, … of a disease next to that disease's
// name.
//
// Training and evaluation must not share a gallery text, or Rank-1 would reward memorisation. Two
// rows are "the same text" when the tokenizer cannot tell them apart (same words after BERT's
// normalisation: case, accents, whitespace, punctuation spacing), so a held-out text's twins under
// other diseases or kinds are removed from training too.
import { Rng } from '../engine/init.ts';
import { ATTRIBUTE_KINDS, type AttributeKind } from '../knowledge/schema.ts';
import { normalize, preTokenize } from '../text/normalize.ts';
import type { TrainingSample } from './samples.ts';

export interface SplitOptions {
  /** Fraction of each kind's attributes to hold out: one number for all kinds, or per kind (kinds
   * not listed: 0). Default 0.2. */
  fraction?: number | Partial<Record<Exclude<AttributeKind, 'name'>, number>>;
  seed: number;
}

export interface SplitResult<S extends TrainingSample> {
  /** Every name, and the attributes not held out (minus twins of held-out texts). */
  train: S[];
  /** Held-out attributes, plus the name row of each disease that has one (the queries). */
  heldOut: S[];
  /** Training rows removed because the same text (per the tokenizer) was held out elsewhere. */
  removedTwins: number;
  /** Attributes that could not be held out: their disease has no name row, or the text is a name. */
  ineligible: number;
}

const BERT = { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true };

/** The text as the uncased tokenizer sees it (before WordPiece). */
export function textKey(text: string): string {
  return preTokenize(normalize(text, BERT)).join(' ');
}

export function splitForEvaluation<S extends TrainingSample>(
  samples: readonly S[],
  options: SplitOptions,
): SplitResult<S> {
  const fraction = options.fraction ?? 0.2;
  const fractionOf = (k: AttributeKind): number =>
    typeof fraction === 'number' ? fraction : ((fraction as Partial<Record<AttributeKind, number>>)[k] ?? 0);
  for (const k of ATTRIBUTE_KINDS) {
    const f = k === 'name' ? 0 : fractionOf(k);
    if (!(f >= 0 && f <= 1)) throw new RangeError(`hold-out fraction for ${k} must be in [0, 1], got ${f}`);
  }

  const nameRow = new Map<string, S>();
  const nameKeys = new Set<string>();
  for (const s of samples)
    if (s.kind === 'name') {
      if (!nameRow.has(s.label)) nameRow.set(s.label, s);
      nameKeys.add(textKey(s.text));
    }

  const held = new Set<S>();
  let ineligible = 0;
  for (const kind of ATTRIBUTE_KINDS) {
    if (kind === 'name') continue;
    const pool: S[] = [];
    for (const s of samples) {
      if (s.kind !== kind) continue;
      if (nameRow.has(s.label) && !nameKeys.has(textKey(s.text))) pool.push(s);
      else ineligible++;
    }
    // Sorted first so that the split depends on the rows, not on their order in the file.
    pool.sort((a, b) => cmp(a.label, b.label) || cmp(a.text, b.text));
    new Rng(options.seed, `split:${kind}`).shuffle(pool);
    for (const s of pool.slice(0, Math.round(fractionOf(kind) * pool.length))) held.add(s);
  }

  const heldKeys = new Set([...held].map((s) => textKey(s.text)));
  const train: S[] = [];
  const heldOut: S[] = [];
  const queried = new Set([...held].map((s) => s.label));
  let removedTwins = 0;
  for (const s of samples) {
    if (held.has(s)) heldOut.push(s);
    else if (s.kind === 'name') {
      train.push(s);
      if (queried.has(s.label) && nameRow.get(s.label) === s) heldOut.push(s);
    } else if (heldKeys.has(textKey(s.text))) removedTwins++;
    else train.push(s);
  }
  return { train, heldOut, removedTwins, ineligible };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
