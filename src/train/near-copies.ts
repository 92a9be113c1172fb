// Near-copies of held-out texts (issue 11): a training text that differs from a gallery text only by
// word order, function words, punctuation or plural endings, or that shares nearly all of its content
// words with one (a definition copied from one source into another with a word changed), teaches the
// encoder the gallery text. The held-out splits remove such texts from training.
//
// Written by hand: the candidate search is the textbook prefix filter for a Jaccard threshold
// (Chaudhuri et al. 2006), a few lines over Maps; no npm library does set-similarity joins.
import { STOP_WORDS } from '../eval/lexical.ts';
import { textKey } from './split.ts';

/** Jaccard similarity of content-word sets at or above which two texts are near-copies. */
export const NEAR_COPY_JACCARD = 0.8;
/** Below this many content words only the same word set counts as a near-copy (in short texts one
 * changed word is a different disease: "lung adenocarcinoma" vs "lung squamous carcinoma"). */
export const NEAR_COPY_MIN_WORDS = 4;

/** The distinct content words of a text: tokenizer-normalised, without punctuation, function words
 * and a plural "s". */
export function contentWords(text: string): string[] {
  const words = new Set<string>();
  for (const w of textKey(text).split(' ')) {
    if (!/[\p{L}\p{N}]/u.test(w) || STOP_WORDS.has(w)) continue;
    words.add(w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w);
  }
  return [...words];
}

function jaccard(a: ReadonlySet<string>, b: readonly string[]): number {
  let shared = 0;
  for (const w of b) if (a.has(w)) shared++;
  return shared / (a.size + b.length - shared);
}

/** A test for "is a near-copy of one of `held`", built once over the held-out texts. */
export function nearCopyTest(held: readonly string[]): (text: string) => boolean {
  const heldWords = held.map(contentWords).filter((w) => w.length > 0);
  const sameSet = new Set(heldWords.map((w) => [...w].sort().join(' ')));
  // Rarest words first: prefixes then hold the words that discriminate, and candidate lists stay short.
  const df = new Map<string, number>();
  for (const ws of heldWords) for (const w of ws) df.set(w, (df.get(w) ?? 0) + 1);
  const order = (ws: string[]): string[] =>
    [...ws].sort((x, y) => (df.get(x) ?? 0) - (df.get(y) ?? 0) || (x < y ? -1 : x > y ? 1 : 0));
  const prefix = (n: number): number => n - Math.ceil(NEAR_COPY_JACCARD * n) + 1;
  const byPrefixWord = new Map<string, Set<string>[]>();
  for (const ws of heldWords) {
    if (ws.length < NEAR_COPY_MIN_WORDS) continue;
    const set = new Set(ws);
    for (const w of order(ws).slice(0, prefix(ws.length))) {
      const list = byPrefixWord.get(w);
      if (list) list.push(set);
      else byPrefixWord.set(w, [set]);
    }
  }
  return (text) => {
    const ws = contentWords(text);
    if (ws.length === 0) return false;
    if (sameSet.has([...ws].sort().join(' '))) return true;
    if (ws.length < NEAR_COPY_MIN_WORDS) return false;
    for (const w of order(ws).slice(0, prefix(ws.length)))
      for (const cand of byPrefixWord.get(w) ?? []) if (jaccard(cand, ws) >= NEAR_COPY_JACCARD) return true;
    return false;
  };
}
