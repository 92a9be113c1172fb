// BERT text normalisation and pre-tokenisation with Hugging Face tokenizers' (Rust) semantics:
// its BertNormalizer and BertPreTokenizer. Where Google's original Python BasicTokenizer and the Rust
// port differ, the Rust port wins (it is what AutoTokenizer loads): accents are stripped before
// lower-casing, lower-casing is per code point (no final-sigma rule), and whitespace is Unicode
// White_Space. Character classes come from ./unicode-tables.ts, taken from the Rust code itself,
// because its Unicode tables are older than Node's and \p{...} would disagree on newer code points.
import { CONTROL, NFD_KEEP, NONSPACING_MARK, PUNCTUATION } from './unicode-tables.ts';

export interface NormalizerOptions {
  /** Drop control/format characters, NUL and U+FFFD; map every whitespace character to ' '. */
  cleanText: boolean;
  /** Put spaces around CJK ideographs so that each becomes a word. */
  handleChineseChars: boolean;
  /** NFD, then drop non-spacing marks. */
  stripAccents: boolean;
  lowercase: boolean;
}

function inRanges(table: readonly number[], cp: number): boolean {
  let lo = 0;
  let hi = (table.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < table[2 * mid]!) hi = mid - 1;
    else if (cp > table[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

const WHITESPACE = /^\p{White_Space}$/u;

export function isWhitespace(ch: string): boolean {
  return WHITESPACE.test(ch);
}

export function isControl(cp: number): boolean {
  return inRanges(CONTROL, cp);
}

export function isPunctuation(cp: number): boolean {
  return inRanges(PUNCTUATION, cp);
}

export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export function normalize(text: string, o: NormalizerOptions): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (o.cleanText) {
      if (cp === 0 || cp === 0xfffd || isControl(cp)) continue;
      if (isWhitespace(ch)) {
        out += ' ';
        continue;
      }
    }
    out += o.handleChineseChars && isChineseChar(cp) ? ` ${ch} ` : ch;
  }
  if (o.stripAccents) {
    let stripped = '';
    for (const ch of nfd(out)) if (!inRanges(NONSPACING_MARK, ch.codePointAt(0)!)) stripped += ch;
    out = stripped;
  }
  if (o.lowercase) {
    let lower = '';
    for (const ch of out) lower += ch.toLowerCase();
    out = lower;
  }
  return out;
}

/** NFD as HF's (older) tables have it: code points it does not decompose stay whole. They are all
 * starters, so normalising the text between them separately gives the same result. */
function nfd(text: string): string {
  let out = '';
  let from = 0;
  let i = 0;
  for (const ch of text) {
    if (inRanges(NFD_KEEP, ch.codePointAt(0)!)) {
      out += text.slice(from, i).normalize('NFD') + ch;
      from = i + ch.length;
    }
    i += ch.length;
  }
  return out + text.slice(from).normalize('NFD');
}

/** Splits on whitespace (dropped) and isolates every punctuation character as its own word. */
export function preTokenize(text: string): string[] {
  const words: string[] = [];
  let word = '';
  for (const ch of text) {
    if (isWhitespace(ch)) {
      if (word) words.push(word);
      word = '';
    } else if (isPunctuation(ch.codePointAt(0)!)) {
      if (word) words.push(word);
      words.push(ch);
      word = '';
    } else word += ch;
  }
  if (word) words.push(word);
  return words;
}
