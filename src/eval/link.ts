// Linking free text to diseases (`kep knowledge link`): every candidate text (a disease's names and
// synonyms) is scored against the query by the encoder's cosine, by BM25, or by their hybrid
// (src/eval/hybrid.ts), and each disease takes the score of its best candidate.
import type { Encode } from './galleries.ts';
import { DEFAULT_HYBRID_WEIGHT, fusedScores } from './hybrid.ts';
import { Bm25 } from './lexical.ts';
import { cosineScores, type ScoreRows } from './reid.ts';

export const LINK_RANKERS = ['dense', 'lexical', 'hybrid'] as const;
export type LinkRanker = (typeof LINK_RANKERS)[number];

export interface LinkCandidate {
  text: string;
  label: string;
}

export interface LinkHit {
  label: string;
  score: number;
  /** The candidate text that scored best. */
  via: string;
}

export interface LinkOptions {
  ranker: LinkRanker;
  /** Needed by dense and hybrid. */
  encode?: Encode;
  /** The hybrid's weight of the encoder. */
  alpha?: number;
  top: number;
}

async function denseRow(
  encode: Encode,
  text: string,
  candidates: readonly LinkCandidate[],
): Promise<ScoreRows> {
  const gallery = await encode(candidates.map((c) => c.text));
  const query = await encode([text]);
  return cosineScores(query, gallery, query.length);
}

/** The `top` diseases nearest `text`, best first (ties by label). */
export async function linkText(
  text: string,
  candidates: readonly LinkCandidate[],
  o: LinkOptions,
): Promise<LinkHit[]> {
  if (candidates.length === 0) return [];
  const bm25 = new Bm25(candidates.map((c) => c.text));
  const lexical: ScoreRows = (_q, out) => bm25.scoreInto(text, out);
  let scores: ScoreRows = lexical;
  if (o.ranker !== 'lexical') {
    if (!o.encode) throw new Error(`the ${o.ranker} ranker needs an encoder (--encoder DIR)`);
    const dense = await denseRow(o.encode, text, candidates);
    scores =
      o.ranker === 'dense'
        ? dense
        : fusedScores(dense, lexical, candidates.length, o.alpha ?? DEFAULT_HYBRID_WEIGHT);
  }
  const row = new Float64Array(candidates.length);
  scores(0, row);
  const best = new Map<string, { score: number; via: string }>();
  candidates.forEach((c, i) => {
    const prev = best.get(c.label);
    if (!prev || row[i]! > prev.score) best.set(c.label, { score: row[i]!, via: c.text });
  });
  return [...best]
    .sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, o.top)
    .map(([label, r]) => ({ label, score: r.score, via: r.via }));
}
