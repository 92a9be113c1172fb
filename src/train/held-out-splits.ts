// The three evaluation splits of the knowledge encoder (issue 11; docs/evaluation.md#splits):
//
// - in-distribution (src/train/split.ts): a seeded 20 % of each attribute kind held out. Its galleries
//   share sources, style and often wording with training, so it measures memorisation as much as
//   knowledge;
// - cross-source: the galleries are the texts that only one source family contributes (every source
//   of the text is of that family, e.g. texts only NCIt gives), the queries are every disease's name,
//   and training sees no text of that family but the names;
// - disease-disjoint: a seeded fraction of the diseases held out whole; their names are the queries,
//   their other texts the galleries, and nothing of theirs is trained on.
//
// In the two held-out splits every training text that is, after the tokenizer's normalisation, the
// same as a held-out text (a twin) or a near-copy of a gallery text (src/train/near-copies.ts) is
// removed, so nothing in a gallery was seen or near-copied in training.
import { Rng } from '../engine/init.ts';
import { nearCopyTest } from './near-copies.ts';
import type { TrainingSample } from './samples.ts';
import { type SplitResult, splitForEvaluation, textKey } from './split.ts';

export const SPLITS = ['in-distribution', 'cross-source', 'disease-disjoint'] as const;
export type SplitName = (typeof SPLITS)[number];
export const DEFAULT_HOLDOUT_SOURCE = 'ncit';

export interface SplitChoice {
  split: SplitName;
  /** The held-out source family of the cross-source split. */
  holdoutSource: string;
  /** In-distribution: the fraction of each kind; disease-disjoint: the fraction of diseases. */
  fraction: number;
  seed: number;
  /** The samples file, for messages. */
  file: string;
}

export interface NamedSplit<S extends TrainingSample> extends SplitResult<S> {
  /** Training rows removed as near-copies of a gallery text (held-out splits only). */
  removedNearCopies: number;
  /** One line for a log: what was held out. */
  description: string;
}

/** The family of a source id: the part before the first "-" ("do-ncit-subset" → "do"); "user:…" ids
 * (a user's imports) are all of family "user". */
export function sourceFamily(id: string): string {
  return id.startsWith('user:') ? 'user' : id.split('-')[0]!;
}

/** The distinct families of a sample's `source` ("do-ncit-subset+ncit-disease" → do, ncit). */
export function familiesOf(source: string): string[] {
  return [...new Set(source.split('+').map((id) => sourceFamily(id.trim())))];
}

export function splitSamples<S extends TrainingSample>(samples: readonly S[], c: SplitChoice): NamedSplit<S> {
  if (c.split === 'cross-source') return splitCrossSource(samples, c);
  if (c.split === 'disease-disjoint') return splitDiseaseDisjoint(samples, c);
  const r = splitForEvaluation(samples, { fraction: c.fraction, seed: c.seed });
  return {
    ...r,
    removedNearCopies: 0,
    description: `in-distribution: ${Math.round(100 * c.fraction)} % of each attribute kind held out (seed ${c.seed})`,
  };
}

function firstNameRows<S extends TrainingSample>(samples: readonly S[]): Map<string, S> {
  const out = new Map<string, S>();
  for (const s of samples) if (s.kind === 'name' && !out.has(s.label)) out.set(s.label, s);
  return out;
}

/** Training rows: every candidate but the twins of `heldKeys` and the near-copies of `galleryTexts`. */
function trainWithout<S extends TrainingSample>(
  candidates: readonly S[],
  heldKeys: ReadonlySet<string>,
  galleryTexts: readonly string[],
): { train: S[]; removedTwins: number; removedNearCopies: number } {
  const isNearCopy = nearCopyTest(galleryTexts);
  const train: S[] = [];
  let removedTwins = 0;
  let removedNearCopies = 0;
  for (const s of candidates) {
    if (heldKeys.has(textKey(s.text))) removedTwins++;
    // A name is a query; it may resemble its own disease's gallery texts (that is the task).
    else if (s.kind !== 'name' && isNearCopy(s.text)) removedNearCopies++;
    else train.push(s);
  }
  return { train, removedTwins, removedNearCopies };
}

function requireSources(samples: readonly TrainingSample[], c: SplitChoice): void {
  const missing = samples.filter((s) => s.source === undefined);
  if (missing.length === 0) return;
  const first = missing[0]!;
  throw new Error(
    `${c.file}: ${missing.length} of ${samples.length} samples have no "source" field (first: ${first.label} "${first.text.slice(0, 60)}"); --split cross-source needs each text's provenance: export the samples from a tree with \`kep knowledge export --format jsonl\``,
  );
}

export function splitCrossSource<S extends TrainingSample>(
  samples: readonly S[],
  c: SplitChoice,
): NamedSplit<S> {
  requireSources(samples, c);
  const family = c.holdoutSource;
  const nameRow = firstNameRows(samples);
  const nameKeys = new Set(samples.filter((s) => s.kind === 'name').map((s) => textKey(s.text)));
  const present = new Set<string>();
  const gallery = new Set<S>();
  let ineligible = 0;
  const candidates: S[] = [];
  for (const s of samples) {
    const families = familiesOf(s.source!);
    for (const f of families) present.add(f);
    if (s.kind === 'name') candidates.push(s);
    else if (families.every((f) => f === family)) {
      // Only that family's: a gallery text, or (a text that is also a name, or of a disease without a
      // name to query it) neither trained on nor evaluated.
      if (nameRow.has(s.label) && !nameKeys.has(textKey(s.text))) gallery.add(s);
      else ineligible++;
    } else candidates.push(s);
  }
  if (gallery.size === 0)
    throw new Error(
      `${c.file}: --holdout-source ${family}: no text of a named disease comes only from source family "${family}" (families present: ${[...present].sort().join(', ')})`,
    );
  const heldKeys = new Set([...gallery].map((s) => textKey(s.text)));
  const t = trainWithout(
    candidates,
    heldKeys,
    [...gallery].map((s) => s.text),
  );
  const heldOut = [...nameRow.values(), ...samples.filter((s) => gallery.has(s))];
  return {
    train: t.train,
    heldOut,
    removedTwins: t.removedTwins,
    removedNearCopies: t.removedNearCopies,
    ineligible,
    description: `cross-source: ${gallery.size} texts only "${family}" contributes held out (queries: ${nameRow.size} names); ${t.removedTwins} twins and ${t.removedNearCopies} near-copies removed from training`,
  };
}

export function splitDiseaseDisjoint<S extends TrainingSample>(
  samples: readonly S[],
  c: SplitChoice,
): NamedSplit<S> {
  if (!(c.fraction > 0 && c.fraction < 1))
    throw new RangeError(`disease-disjoint: the held-out fraction must be in (0, 1), got ${c.fraction}`);
  const nameRow = firstNameRows(samples);
  const withTexts = new Set(samples.filter((s) => s.kind !== 'name').map((s) => s.label));
  // Sorted first so that the split depends on the diseases, not on the file's order.
  const eligible = [...nameRow.keys()].filter((l) => withTexts.has(l)).sort();
  new Rng(c.seed, 'split:disease').shuffle(eligible);
  const held = new Set(eligible.slice(0, Math.round(c.fraction * eligible.length)));
  if (held.size === 0 || held.size === eligible.length)
    throw new Error(
      `${c.file}: --split disease-disjoint: ${eligible.length} diseases with a name and another text; holding out ${Math.round(100 * c.fraction)} % leaves ${held.size === 0 ? 'nothing to evaluate' : 'nothing to train on'}`,
    );
  const heldOut: S[] = [];
  const candidates: S[] = [];
  let ineligible = 0;
  for (const s of samples) {
    if (!held.has(s.label)) candidates.push(s);
    else if (s.kind !== 'name' || nameRow.get(s.label) === s) heldOut.push(s);
    else ineligible++; // a second name row of a held-out disease: neither a query nor trained on
  }
  const t = trainWithout(
    candidates,
    new Set(heldOut.map((s) => textKey(s.text))),
    heldOut.filter((s) => s.kind !== 'name').map((s) => s.text),
  );
  return {
    train: t.train,
    heldOut,
    removedTwins: t.removedTwins,
    removedNearCopies: t.removedNearCopies,
    ineligible,
    description: `disease-disjoint: ${held.size} of ${eligible.length} diseases held out whole (seed ${c.seed}); ${t.removedTwins} twins and ${t.removedNearCopies} near-copies removed from training`,
  };
}
