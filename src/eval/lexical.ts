// Lexical baselines over the same texts as the learned encoder: Okapi BM25 (as Lucene scores it) and
// TF-IDF cosine. Each indexes one gallery and scores a query text against every document, giving the
// same `ScoreRows` that the encoder's cosine gives, so both go through the same metric code.
import type { ScoreRows } from './reid.ts';

/**
 * A short English function-word list. Disease names carry few of these, but gallery texts (definitions,
 * prompt templates) carry many, and in BM25 a query "carcinoma of the lung" would otherwise reward a
 * document for "of" and "the".
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be by for from has have in is it its of on or that the this to was were which ' +
    'with'
  ).split(' '),
);

export interface TokeniseOptions {
  /** Words dropped after lower-casing; `STOP_WORDS` by default, an empty set to keep every word. */
  stopWords?: ReadonlySet<string>;
}

/** Lower-cased runs of Unicode letters, marks and digits; everything else separates words. */
export function tokenise(text: string, options: TokeniseOptions = {}): string[] {
  const stop = options.stopWords ?? STOP_WORDS;
  const words = text.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
  return stop.size === 0 ? words : words.filter((w) => !stop.has(w));
}

interface Posting {
  doc: number;
  tf: number;
}

class InvertedIndex {
  readonly postings = new Map<string, Posting[]>();
  readonly lengths: Uint32Array;

  constructor(docs: readonly string[][]) {
    this.lengths = new Uint32Array(docs.length);
    docs.forEach((tokens, doc) => {
      this.lengths[doc] = tokens.length;
      const tf = new Map<string, number>();
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [term, count] of tf) {
        const list = this.postings.get(term);
        if (list) list.push({ doc, tf: count });
        else this.postings.set(term, [{ doc, tf: count }]);
      }
    });
  }

  get size(): number {
    return this.lengths.length;
  }

  df(term: string): number {
    return this.postings.get(term)?.length ?? 0;
  }
}

export interface Bm25Options extends TokeniseOptions {
  k1?: number;
  b?: number;
}

/**
 * Okapi BM25 over a fixed set of documents, with Lucene's smoothed IDF ln(1 + (N − df + 0.5)/(df + 0.5)),
 * which stays positive for terms in more than half of the documents. Document lengths are exact token
 * counts (Lucene stores them lossily), and a query word that occurs twice counts twice, as one query
 * clause per word does in Lucene.
 */
export class Bm25 {
  readonly k1: number;
  readonly b: number;
  private readonly index: InvertedIndex;
  private readonly avgdl: number;
  private readonly tokenOptions: TokeniseOptions;

  constructor(documents: readonly string[], options: Bm25Options = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    this.tokenOptions = options.stopWords ? { stopWords: options.stopWords } : {};
    this.index = new InvertedIndex(documents.map((d) => tokenise(d, this.tokenOptions)));
    let total = 0;
    for (const l of this.index.lengths) total += l;
    this.avgdl = this.index.size === 0 ? 0 : total / this.index.size;
  }

  idf(term: string): number {
    const n = this.index.size;
    const df = this.index.df(term);
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /** Score of `query` against every document, written into `out`. */
  scoreInto(query: string, out: Float64Array): void {
    out.fill(0, 0, this.index.size);
    // An empty gallery text has length 0; avgdl is 0 only when every document is empty, and then no
    // term has postings, so the division below is never reached.
    for (const term of tokenise(query, this.tokenOptions)) {
      const list = this.index.postings.get(term);
      if (!list) continue;
      const idf = this.idf(term);
      for (const { doc, tf } of list) {
        const norm = this.k1 * (1 - this.b + (this.b * this.index.lengths[doc]!) / this.avgdl);
        out[doc]! += (idf * tf * (this.k1 + 1)) / (tf + norm);
      }
    }
  }

  scores(query: string): Float64Array {
    const out = new Float64Array(this.index.size);
    this.scoreInto(query, out);
    return out;
  }
}

/**
 * TF-IDF cosine: raw term counts × smoothed IDF ln((1 + N)/(1 + df)) + 1 (scikit-learn's default),
 * L2-normalised documents and query; query words absent from every document are ignored.
 */
export class TfIdf {
  private readonly index: InvertedIndex;
  private readonly docNorms: Float64Array;
  private readonly tokenOptions: TokeniseOptions;

  constructor(documents: readonly string[], options: TokeniseOptions = {}) {
    this.tokenOptions = options.stopWords ? { stopWords: options.stopWords } : {};
    this.index = new InvertedIndex(documents.map((d) => tokenise(d, this.tokenOptions)));
    const sq = new Float64Array(this.index.size);
    for (const [term, list] of this.index.postings) {
      const idf = this.idf(term);
      for (const { doc, tf } of list) sq[doc]! += (tf * idf) ** 2;
    }
    this.docNorms = sq.map(Math.sqrt);
  }

  idf(term: string): number {
    return Math.log((1 + this.index.size) / (1 + this.index.df(term))) + 1;
  }

  scoreInto(query: string, out: Float64Array): void {
    out.fill(0, 0, this.index.size);
    const qtf = new Map<string, number>();
    for (const t of tokenise(query, this.tokenOptions)) {
      if (this.index.postings.has(t)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    }
    let qnorm = 0;
    for (const [term, tf] of qtf) qnorm += (tf * this.idf(term)) ** 2;
    if (qnorm === 0) return;
    qnorm = Math.sqrt(qnorm);
    for (const [term, qf] of qtf) {
      const idf = this.idf(term);
      const qw = (qf * idf) / qnorm;
      for (const { doc, tf } of this.index.postings.get(term)!) {
        out[doc]! += (qw * tf * idf) / this.docNorms[doc]!;
      }
    }
  }

  scores(query: string): Float64Array {
    const out = new Float64Array(this.index.size);
    this.scoreInto(query, out);
    return out;
  }
}

export type LexicalMethod = 'bm25' | 'tfidf';

/** Score rows of query texts against a gallery of documents under one lexical method. */
export function lexicalScores(
  queries: readonly string[],
  documents: readonly string[],
  method: LexicalMethod = 'bm25',
  options: Bm25Options = {},
): ScoreRows {
  const model = method === 'bm25' ? new Bm25(documents, options) : new TfIdf(documents, options);
  return (q, out) => model.scoreInto(queries[q]!, out);
}
