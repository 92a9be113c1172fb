// Builds a WordPiece vocabulary (vocab.txt, one token per line, id = line number) from training
// texts, for a knowledge encoder trained from scratch where no pretrained vocabulary can be fetched.
//
// Procedure: Hugging Face's WordPiece trainer (`tokenizers`' WordPieceTrainer, which runs its BPE
// trainer with the "##" continuation prefix). Every word starts as its characters, non-initial ones
// prefixed "##"; the most frequent pair of adjacent symbols (counted over word occurrences) is
// merged into one symbol, which joins the vocabulary, and this repeats until the vocabulary reaches
// the target size or no pair occurs `minFrequency` times. Ties go to the pair of earlier-created
// symbols, so the build is deterministic.
//
// Why this over the alternatives: "frequent whole words plus frequent suffixes" (what
// scripts/fixtures/tokenizer_fixtures.ts does for its test vocabulary) needs cut-offs per list and
// gives pieces that need not compose; the merge procedure yields only pieces that words are actually
// built from. Google's WordPiece score count(ab) / (count(a)·count(b)) is available as
// `score: 'likelihood'`, but measured on the open tree's 16,281 samples at 8,000 tokens it is much
// worse for this corpus: it spends the budget on rare words' letters ("osteoc", "osteocl", …) and
// leaves common words in letters ("c ##e ##l ##l" for "cell"), 3.0 tokens per word and 57% of word
// occurrences as one token, against 1.05 and 97% with frequency.
//
// Words are found exactly as BertTokenizer finds them (./normalize.ts, uncased by default), so the
// pieces match what the tokenizer will look up. Every character seen is in the vocabulary in both
// forms (word-initial and "##"), so a training text never tokenises to [UNK] unless a word is longer
// than the tokenizer's 100-character limit (such words are not counted).
import { writeFileAtomic } from '../util/atomic.ts';
import { normalize, preTokenize } from './normalize.ts';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export interface VocabOptions {
  /** Target vocabulary size, special tokens and alphabet included (default 8,000). The alphabet is
   * always kept whole, so a corpus with more characters than this gives a larger vocabulary; a small
   * corpus may run out of pairs first and give a smaller one. */
  size?: number;
  /** A pair must occur at least this many times (in word counts) to be merged (default 2). */
  minFrequency?: number;
  /** Lower-case and strip accents, as an uncased BertTokenizer does (default true). */
  lowercase?: boolean;
  /** Words longer than this (code points) are skipped; BertTokenizer makes them [UNK] (default 100). */
  maxWordChars?: number;
  /** How the next pair is chosen (default 'frequency'; see the comment at the top). */
  score?: 'frequency' | 'likelihood';
}

export interface VocabResult {
  /** Tokens in id order: special tokens, characters, "##" characters, then merges in merge order. */
  tokens: string[];
  /** Distinct words counted, and words skipped as longer than maxWordChars. */
  words: number;
  longWords: number;
  merges: number;
}

/** Word frequencies of `texts` after BERT normalisation and pre-tokenisation. */
export function countWords(
  texts: Iterable<string>,
  options: Pick<VocabOptions, 'lowercase' | 'maxWordChars'> = {},
): { counts: Map<string, number>; longWords: number } {
  const lower = options.lowercase ?? true;
  const maxChars = options.maxWordChars ?? 100;
  const norm = { cleanText: true, handleChineseChars: true, stripAccents: lower, lowercase: lower };
  const counts = new Map<string, number>();
  let longWords = 0;
  for (const text of texts)
    for (const w of preTokenize(normalize(text, norm))) {
      if ([...w].length > maxChars) longWords++;
      else counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  return { counts, longWords };
}

// A binary max-heap of (score, pair key). Entries go stale when a count changes; they are checked
// against the current score when popped (lazy deletion), and every pair whose score changed is pushed
// again, so the top valid entry is always the best pair.
class PairHeap {
  private scores: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const a = this.scores[i]!;
    const b = this.scores[j]!;
    return a > b || (a === b && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.scores[i], this.scores[j]] = [this.scores[j]!, this.scores[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(score: number, key: number): void {
    this.scores.push(score);
    this.keys.push(key);
    for (let i = this.keys.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { score: number; key: number } | undefined {
    if (this.keys.length === 0) return undefined;
    const top = { score: this.scores[0]!, key: this.keys[0]! };
    const lastScore = this.scores.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.keys.length > 0) {
      this.scores[0] = lastScore;
      this.keys[0] = lastKey;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.keys.length && this.above(l, best)) best = l;
        if (r < this.keys.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

// Symbol ids stay below 2^21, so a pair packs into one exact double.
const SHIFT = 2 ** 21;

export function buildVocabulary(texts: Iterable<string>, options: VocabOptions = {}): VocabResult {
  const size = options.size ?? 8000;
  const minFrequency = options.minFrequency ?? 2;
  const likelihood = options.score === 'likelihood';
  const { counts, longWords } = countWords(texts, options);
  // Sorted so that ids, and hence heap tie-breaks, do not depend on the texts' order.
  const wordList = [...counts.keys()].sort();

  const chars = new Set<string>();
  for (const w of wordList) for (const c of w) chars.add(c);
  const alphabet = [...chars].sort();
  const tokens: string[] = [...SPECIAL_TOKENS, ...alphabet, ...alphabet.map((c) => '##' + c)];
  const inVocab = new Set(tokens);

  const symbols: string[] = [];
  const symbolId = new Map<string, number>();
  const idOf = (s: string): number => {
    let id = symbolId.get(s);
    if (id === undefined) {
      id = symbols.length;
      if (id >= SHIFT) throw new RangeError('too many symbols');
      symbols.push(s);
      symbolId.set(s, id);
    }
    return id;
  };
  const words = wordList.map((w) => ({
    syms: [...w].map((c, i) => idOf(i === 0 ? c : '##' + c)),
    count: counts.get(w)!,
  }));

  const symFreq: number[] = [];
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const symPairs = new Map<number, Set<number>>();
  const addWord = (wi: number, sign: 1 | -1, touched: Set<number>) => {
    const { syms, count } = words[wi]!;
    for (const s of syms) symFreq[s] = (symFreq[s] ?? 0) + sign * count;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! * SHIFT + syms[i + 1]!;
      const n = (pairCount.get(key) ?? 0) + sign * count;
      touched.add(key);
      if (n > 0) {
        pairCount.set(key, n);
        if (sign > 0) {
          let ws = pairWords.get(key);
          if (!ws) pairWords.set(key, (ws = new Set()));
          ws.add(wi);
          for (const s of [syms[i]!, syms[i + 1]!]) {
            let ps = symPairs.get(s);
            if (!ps) symPairs.set(s, (ps = new Set()));
            ps.add(key);
          }
        }
      } else {
        pairCount.delete(key);
        pairWords.delete(key);
      }
    }
  };
  const score = (key: number): number => {
    const n = pairCount.get(key);
    if (n === undefined || n < minFrequency) return -1;
    return likelihood ? n / (symFreq[Math.floor(key / SHIFT)]! * symFreq[key % SHIFT]!) : n;
  };

  const heap = new PairHeap();
  const initial = new Set<number>();
  words.forEach((_, wi) => addWord(wi, 1, initial));
  for (const key of initial) {
    const s = score(key);
    if (s >= 0) heap.push(s, key);
  }

  let merges = 0;
  while (tokens.length < size) {
    const top = heap.pop();
    if (!top) break;
    if (score(top.key) !== top.score) continue;
    const a = Math.floor(top.key / SHIFT);
    const b = top.key % SHIFT;
    const merged = symbols[a]! + symbols[b]!.slice(2);
    const c = idOf(merged);
    merges++;
    if (!inVocab.has(merged)) {
      inVocab.add(merged);
      tokens.push(merged);
    }
    // A word may hold the pair in several places; merge left to right, as the pair count assumed.
    const touched = new Set<number>();
    for (const wi of [...(pairWords.get(top.key) ?? [])]) {
      addWord(wi, -1, touched);
      const old = words[wi]!.syms;
      const next: number[] = [];
      for (let i = 0; i < old.length; i++) {
        if (i + 1 < old.length && old[i] === a && old[i + 1] === b) {
          next.push(c);
          i++;
        } else next.push(old[i]!);
      }
      words[wi]!.syms = next;
      addWord(wi, 1, touched);
    }
    // The counts of a, b and c changed, so every pair with one of them scores differently.
    for (const s of [a, b, c]) for (const key of symPairs.get(s) ?? []) touched.add(key);
    for (const key of touched) {
      const s = score(key);
      if (s >= 0) heap.push(s, key);
    }
  }
  return { tokens, words: counts.size, longWords, merges };
}

/** vocab.txt contents: one token per line, the line number being the id. */
export function vocabText(tokens: readonly string[]): string {
  return tokens.join('\n') + '\n';
}

export function writeVocab(file: string, tokens: readonly string[]): void {
  writeFileAtomic(file, vocabText(tokens));
}

/**
 * A vocabulary of the special tokens and the printable ASCII characters (word-initial and "##"
 * forms): every text tokenises, one character per piece. It is what an untrained text tower is
 * given when no vocabulary file exists — token ids of a random model carry no meaning anyway, and
 * this keeps such a model runnable end to end (demos, tests, pipelines before weights arrive).
 */
export function characterVocabulary(): string[] {
  const chars: string[] = [];
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCharCode(c);
    if (ch >= 'A' && ch <= 'Z') continue; // uncased tokenizers lower-case first
    chars.push(ch);
  }
  return [...SPECIAL_TOKENS, ...chars, ...chars.filter((c) => /[a-z0-9]/.test(c)).map((c) => `##${c}`)];
}
