// BERT WordPiece tokenizer, matching Hugging Face's BertTokenizerFast (the Rust `tokenizers` core)
// token for token; verified against it in wordpiece.test.ts.
//
// Written here rather than taken from npm: the official Node binding of `tokenizers` is 28 MB of
// native binaries for every platform (it serves as the test oracle instead, see
// scripts/fixtures/tokenizer_fixtures.ts); transformers.js pulls onnxruntime-web and sharp; and the
// pure-JS ports classify characters with Node's newer Unicode tables and so differ from HF on
// recently added marks, punctuation and format characters. The algorithm itself is short.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isWhitespace, normalize, preTokenize, type NormalizerOptions } from './normalize.ts';

export class TokenizerFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'TokenizerFileError';
  }
}

export interface AddedToken {
  content: string;
  id: number;
  special: boolean;
  /** Matched on normalised text instead of the raw input. */
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

export interface BertTokenizerOptions {
  /** Default true. */
  doLowerCase?: boolean;
  /** Default null: follow doLowerCase, as BERT does. */
  stripAccents?: boolean | null;
  /** Default true. */
  tokenizeChineseChars?: boolean;
  /** Default true. */
  cleanText?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  continuingSubwordPrefix?: string;
  /** Words longer than this (in code points, after normalisation) become [UNK]. Default 100. */
  maxInputCharsPerWord?: number;
  /** Default maxLength for encode/encodeBatch. Default 512 (BERT's position embeddings). */
  modelMaxLength?: number;
  /** Tokens matched before normalisation; default: the five special tokens. */
  addedTokens?: AddedToken[];
  /** Ids put around a sequence; default [CLS] … [SEP]. */
  prefixIds?: number[];
  suffixIds?: number[];
  /** Clean " ." → "." etc. when decoding, as HF's WordPiece decoder. Default true. */
  decodeCleanup?: boolean;
}

export interface EncodeOptions {
  /** Default: the tokenizer's modelMaxLength. */
  maxLength?: number;
  /** 'longest' pads a batch to its longest row; on a single text it does nothing. Default false for
   * encode, 'longest' for encodeBatch. */
  padding?: 'max_length' | 'longest' | false;
  /** Cut to maxLength, special tokens included. Default true. */
  truncation?: boolean;
  /** Default true. */
  addSpecialTokens?: boolean;
}

export interface Encoding {
  ids: number[];
  mask: number[];
}

export interface BatchEncoding {
  /** int64 [batch, seq] row-major, as the text tower's input_ids. */
  ids: BigInt64Array;
  mask: BigInt64Array;
  shape: [number, number];
}

export class BertTokenizer {
  readonly vocab: ReadonlyMap<string, number>;
  readonly modelMaxLength: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  private readonly tokens: string[];
  private readonly normalizer: NormalizerOptions;
  private readonly prefix: string;
  private readonly maxChars: number;
  private readonly added: AddedToken[];
  private readonly specialIds: Set<number>;
  private readonly prefixIds: number[];
  private readonly suffixIds: number[];
  private readonly cleanup: boolean;

  /** `vocab`: tokens in id order (vocab.txt lines) or a token → id map (tokenizer.json). */
  constructor(
    vocab: readonly string[] | ReadonlyMap<string, number>,
    options: BertTokenizerOptions = {},
    source = 'vocab',
  ) {
    const map = new Map<string, number>();
    if (Array.isArray(vocab)) (vocab as readonly string[]).forEach((t, i) => map.set(t, i));
    else for (const [t, i] of vocab as ReadonlyMap<string, number>) map.set(t, i);
    for (const t of options.addedTokens ?? []) map.set(t.content, t.id);
    this.vocab = map;
    this.tokens = [];
    for (const [t, i] of map) this.tokens[i] = t;

    const need = (role: string, token: string) => {
      const id = map.get(token);
      if (id === undefined)
        throw new TokenizerFileError(source, `the vocabulary has no ${role} token ${JSON.stringify(token)}`);
      return id;
    };
    const unk = options.unkToken ?? '[UNK]';
    const cls = options.clsToken ?? '[CLS]';
    const sep = options.sepToken ?? '[SEP]';
    const pad = options.padToken ?? '[PAD]';
    this.unkId = need('unknown', unk);
    this.clsId = need('class', cls);
    this.sepId = need('separator', sep);
    this.padId = need('padding', pad);

    const lower = options.doLowerCase ?? true;
    this.normalizer = {
      cleanText: options.cleanText ?? true,
      handleChineseChars: options.tokenizeChineseChars ?? true,
      stripAccents: options.stripAccents ?? lower,
      lowercase: lower,
    };
    this.prefix = options.continuingSubwordPrefix ?? '##';
    this.maxChars = options.maxInputCharsPerWord ?? 100;
    this.modelMaxLength = options.modelMaxLength ?? 512;
    const mask = options.maskToken ?? '[MASK]';
    this.added =
      options.addedTokens ??
      [unk, cls, sep, pad, mask]
        .filter((t) => map.has(t))
        .map((t) => ({
          content: t,
          id: map.get(t)!,
          special: true,
          normalized: false,
          lstrip: false,
          rstrip: false,
          singleWord: false,
        }));
    this.specialIds = new Set(this.added.filter((t) => t.special).map((t) => t.id));
    this.prefixIds = options.prefixIds ?? [this.clsId];
    this.suffixIds = options.suffixIds ?? [this.sepId];
    this.cleanup = options.decodeCleanup ?? true;
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  static fromVocabFile(file: string, options: BertTokenizerOptions = {}): BertTokenizer {
    return new BertTokenizer(readVocab(file), options, file);
  }

  static fromTokenizerJson(file: string, overrides: BertTokenizerOptions = {}): BertTokenizer {
    const { vocab, options } = parseTokenizerJson(file);
    return new BertTokenizer(vocab, { ...options, ...overrides }, file);
  }

  /** A Hugging Face model folder: tokenizer.json if present, else vocab.txt; tokenizer_config.json's
   * do_lower_case / strip_accents / tokenize_chinese_chars / model_max_length / special tokens
   * apply to either, as transformers applies them. */
  static fromFolder(dir: string): BertTokenizer {
    const config = readTokenizerConfig(path.join(dir, 'tokenizer_config.json'));
    const json = path.join(dir, 'tokenizer.json');
    if (existsSync(json)) return BertTokenizer.fromTokenizerJson(json, config);
    const vocab = path.join(dir, 'vocab.txt');
    if (existsSync(vocab)) return BertTokenizer.fromVocabFile(vocab, config);
    throw new TokenizerFileError(dir, 'no tokenizer.json or vocab.txt in this folder');
  }

  /** What a `--vocab` flag names: a tokenizer folder (fromFolder) or a vocab.txt file. */
  static fromPath(p: string): BertTokenizer {
    return statSync(p).isDirectory() ? BertTokenizer.fromFolder(p) : BertTokenizer.fromVocabFile(p);
  }

  /** WordPiece tokens of `text`, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    return this.encodeIds(text).map((id) => this.tokens[id]!);
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const special = options.addSpecialTokens ?? true;
    let ids = this.encodeIds(text);
    if (options.truncation ?? true) {
      const room = maxLength - (special ? this.prefixIds.length + this.suffixIds.length : 0);
      if (room < 0) throw new RangeError(`maxLength ${maxLength} leaves no room for the special tokens`);
      if (ids.length > room) ids = ids.slice(0, room);
    }
    if (special) ids = [...this.prefixIds, ...ids, ...this.suffixIds];
    const mask = ids.map(() => 1);
    if (options.padding === 'max_length') this.pad(ids, mask, maxLength);
    return { ids, mask };
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): BatchEncoding {
    const padding = options.padding === undefined ? 'longest' : options.padding;
    const rows = texts.map((t) => this.encode(t, { ...options, padding: false }));
    const width =
      padding === 'max_length'
        ? (options.maxLength ?? this.modelMaxLength)
        : Math.max(0, ...rows.map((r) => r.ids.length));
    const ids = new BigInt64Array(rows.length * width);
    const mask = new BigInt64Array(rows.length * width);
    rows.forEach((r, b) => {
      if (padding === false && r.ids.length !== width)
        throw new RangeError(
          `encodeBatch without padding: row ${b} has ${r.ids.length} tokens, row lengths differ`,
        );
      this.pad(r.ids, r.mask, width);
      for (let j = 0; j < width; j++) {
        ids[b * width + j] = BigInt(r.ids[j]!);
        mask[b * width + j] = BigInt(r.mask[j]!);
      }
    });
    return { ids, mask, shape: [rows.length, width] };
  }

  /** Text of `ids` as HF's WordPiece decoder writes it; special tokens are skipped by default. */
  decode(ids: readonly number[] | BigInt64Array, options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const parts: string[] = [];
    for (const raw of ids) {
      const id = Number(raw);
      const token = this.tokens[id];
      if (token === undefined) throw new RangeError(`token id ${id} is not in the vocabulary`);
      if (skip && this.specialIds.has(id)) continue;
      let part =
        parts.length === 0
          ? token
          : token.startsWith(this.prefix)
            ? token.slice(this.prefix.length)
            : ' ' + token;
      // Per token, as HF does: " do not" and the like can never match a single token.
      if (this.cleanup) part = cleanupPiece(part);
      parts.push(part);
    }
    return parts.join('');
  }

  private pad(ids: number[], mask: number[], width: number): void {
    while (ids.length < width) {
      ids.push(this.padId);
      mask.push(0);
    }
  }

  private encodeIds(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.splitAdded(text)) {
      if (typeof piece === 'number') ids.push(piece);
      else for (const word of preTokenize(normalize(piece, this.normalizer))) this.wordPiece(word, ids);
    }
    return ids;
  }

  /** Greedy longest-match-first; a word with any unmatched rest is a single [UNK]. */
  private wordPiece(word: string, out: number[]): void {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) {
      out.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const sub = chars.slice(start, end).join('');
        found = this.vocab.get(start > 0 ? this.prefix + sub : sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    out.push(...pieces);
  }

  /** Splits raw text around added tokens (leftmost, then longest match), as HF's AddedVocabulary:
   * tokens matched on raw text first, then `normalized` ones on each remaining piece. */
  private splitAdded(text: string): (string | number)[] {
    const raw = this.added.filter((t) => !t.normalized);
    const norm = this.added.filter((t) => t.normalized);
    const out: (string | number)[] = [];
    for (const piece of splitOn(text, raw)) {
      if (typeof piece === 'number' || norm.length === 0) out.push(piece);
      else {
        // Normalised added tokens: match them in the normalised piece, which is then normalised
        // again downstream; normalisation is idempotent for BERT's normaliser.
        out.push(...splitOn(normalize(piece, this.normalizer), norm));
      }
    }
    return out;
  }
}

function splitOn(text: string, tokens: readonly AddedToken[]): (string | number)[] {
  if (tokens.length === 0 || text === '') return text === '' ? [] : [text];
  const out: (string | number)[] = [];
  let from = 0;
  let i = 0;
  while (i < text.length) {
    let best: AddedToken | undefined;
    for (const t of tokens)
      if (t.content && text.startsWith(t.content, i) && (!best || t.content.length > best.content.length))
        if (!t.singleWord || isWordBoundary(text, i, i + t.content.length)) best = t;
    if (!best) {
      i++;
      continue;
    }
    let left = i;
    let right = i + best.content.length;
    if (best.lstrip) while (left > from && isWhitespace(text[left - 1]!)) left--;
    if (best.rstrip) while (right < text.length && isWhitespace(text[right]!)) right++;
    if (left > from) out.push(text.slice(from, left));
    out.push(best.id);
    from = right;
    i = right;
  }
  if (from < text.length) out.push(text.slice(from));
  return out;
}

function isWordBoundary(text: string, start: number, end: number): boolean {
  const word = /[\p{L}\p{N}_]/u;
  return !(start > 0 && word.test(text[start - 1]!)) && !(end < text.length && word.test(text[end]!));
}

function cleanupPiece(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

// ------------------------------------------------------------------------------------ file loading

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TokenizerFileError(
      file,
      code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(e)})`,
    );
  }
}

/** One token per line, id = line number; trailing whitespace trimmed and a later duplicate wins,
 * as in HF's WordPiece.read_file. */
export function readVocab(file: string): string[] {
  const lines = readText(file).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new TokenizerFileError(file, 'empty vocabulary');
  return lines.map((l) => l.trimEnd());
}

const specialTokenValue = z.union([z.string(), z.object({ content: z.string() }).loose()]);

const tokenizerConfigSchema = z
  .object({
    do_lower_case: z.boolean().optional(),
    strip_accents: z.boolean().nullable().optional(),
    tokenize_chinese_chars: z.boolean().optional(),
    model_max_length: z.number().optional(),
    unk_token: specialTokenValue.optional(),
    cls_token: specialTokenValue.optional(),
    sep_token: specialTokenValue.optional(),
    pad_token: specialTokenValue.optional(),
    mask_token: specialTokenValue.optional(),
  })
  .loose();

/** Options from a tokenizer_config.json; {} when the file is absent. */
export function readTokenizerConfig(file: string): BertTokenizerOptions {
  if (!existsSync(file)) return {};
  const c = parseJson(file, tokenizerConfigSchema);
  const tok = (v: z.infer<typeof specialTokenValue> | undefined) => (typeof v === 'string' ? v : v?.content);
  const o: BertTokenizerOptions = {};
  if (c.do_lower_case !== undefined) o.doLowerCase = c.do_lower_case;
  if (c.strip_accents !== undefined) o.stripAccents = c.strip_accents;
  if (c.tokenize_chinese_chars !== undefined) o.tokenizeChineseChars = c.tokenize_chinese_chars;
  // transformers writes 1e30 for "no limit"; BERT's position embeddings still stop at 512.
  if (c.model_max_length !== undefined && c.model_max_length <= 1e6) o.modelMaxLength = c.model_max_length;
  for (const [key, name] of [
    ['unkToken', 'unk_token'],
    ['clsToken', 'cls_token'],
    ['sepToken', 'sep_token'],
    ['padToken', 'pad_token'],
    ['maskToken', 'mask_token'],
  ] as const) {
    const v = tok(c[name]);
    if (v !== undefined) o[key] = v;
  }
  return o;
}

function parseJson<T>(file: string, schema: z.ZodType<T>): T {
  let doc: unknown;
  try {
    doc = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof TokenizerFileError) throw e;
    throw new TokenizerFileError(file, `not valid JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(doc);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TokenizerFileError(file, issues.join('; '));
  }
  return r.data;
}

const specialTemplatePiece = z.object({ SpecialToken: z.object({ id: z.string() }).loose() });
const sequenceTemplatePiece = z.object({ Sequence: z.object({ id: z.string() }).loose() });

const tokenizerJsonSchema = z
  .object({
    added_tokens: z
      .array(
        z
          .object({
            id: z.number().int().nonnegative(),
            content: z.string(),
            single_word: z.boolean().default(false),
            lstrip: z.boolean().default(false),
            rstrip: z.boolean().default(false),
            normalized: z.boolean().default(false),
            special: z.boolean().default(false),
          })
          .loose(),
      )
      .default([]),
    truncation: z.object({ max_length: z.number().int().positive() }).loose().nullable().optional(),
    padding: z.object({ pad_token: z.string().optional() }).loose().nullable().optional(),
    normalizer: z
      .object({
        type: z.literal('BertNormalizer'),
        clean_text: z.boolean().default(true),
        handle_chinese_chars: z.boolean().default(true),
        strip_accents: z.boolean().nullable().default(null),
        lowercase: z.boolean().default(true),
      })
      .loose()
      .nullable(),
    pre_tokenizer: z.object({ type: z.literal('BertPreTokenizer') }).loose(),
    post_processor: z
      .discriminatedUnion('type', [
        z
          .object({
            type: z.literal('TemplateProcessing'),
            single: z.array(z.union([specialTemplatePiece, sequenceTemplatePiece])),
            special_tokens: z.record(z.string(), z.object({ ids: z.array(z.number().int()) }).loose()),
          })
          .loose(),
        z
          .object({
            type: z.literal('BertProcessing'),
            cls: z.tuple([z.string(), z.number().int()]),
            sep: z.tuple([z.string(), z.number().int()]),
          })
          .loose(),
      ])
      .nullable(),
    decoder: z
      .object({
        type: z.literal('WordPiece'),
        prefix: z.string().default('##'),
        cleanup: z.boolean().default(true),
      })
      .loose()
      .nullable()
      .optional(),
    model: z
      .object({
        type: z.literal('WordPiece'),
        unk_token: z.string(),
        continuing_subword_prefix: z.string().default('##'),
        max_input_chars_per_word: z.number().int().positive().default(100),
        vocab: z.record(z.string(), z.number().int().nonnegative()),
      })
      .loose(),
  })
  .loose();

/** Reads a BERT-style Hugging Face tokenizer.json (WordPiece model, BertNormalizer,
 * BertPreTokenizer); anything else is refused with the offending field named. */
export function parseTokenizerJson(file: string): {
  vocab: Map<string, number>;
  options: BertTokenizerOptions;
} {
  const j = parseJson(file, tokenizerJsonSchema);
  const vocab = new Map(Object.entries(j.model.vocab));
  const options: BertTokenizerOptions = {
    unkToken: j.model.unk_token,
    continuingSubwordPrefix: j.model.continuing_subword_prefix,
    maxInputCharsPerWord: j.model.max_input_chars_per_word,
    addedTokens: j.added_tokens.map((t) => ({
      content: t.content,
      id: t.id,
      special: t.special,
      normalized: t.normalized,
      lstrip: t.lstrip,
      rstrip: t.rstrip,
      singleWord: t.single_word,
    })),
  };
  const n = j.normalizer;
  if (n) {
    options.doLowerCase = n.lowercase;
    options.stripAccents = n.strip_accents;
    options.tokenizeChineseChars = n.handle_chinese_chars;
    options.cleanText = n.clean_text;
  } else {
    Object.assign(options, {
      doLowerCase: false,
      stripAccents: false,
      tokenizeChineseChars: false,
      cleanText: false,
    });
  }
  if (j.decoder) options.decodeCleanup = j.decoder.cleanup;
  if (j.truncation) options.modelMaxLength = j.truncation.max_length;
  if (j.padding?.pad_token) options.padToken = j.padding.pad_token;

  const byId = new Map<number, string>();
  for (const [t, i] of vocab) byId.set(i, t);
  for (const t of j.added_tokens) byId.set(t.id, t.content);
  const pp = j.post_processor;
  if (pp === null) {
    options.prefixIds = [];
    options.suffixIds = [];
  } else if (pp.type === 'BertProcessing') {
    options.clsToken = pp.cls[0];
    options.sepToken = pp.sep[0];
    options.prefixIds = [pp.cls[1]];
    options.suffixIds = [pp.sep[1]];
  } else {
    const at = pp.single.findIndex((p) => 'Sequence' in p);
    if (at < 0 || pp.single.filter((p) => 'Sequence' in p).length !== 1)
      throw new TokenizerFileError(file, 'post_processor.single: expected exactly one Sequence');
    const ids = (pieces: typeof pp.single) =>
      pieces.flatMap((p) => {
        if (!('SpecialToken' in p)) return [];
        const s = pp.special_tokens[p.SpecialToken.id];
        if (!s)
          throw new TokenizerFileError(
            file,
            `post_processor: special token ${p.SpecialToken.id} is not defined`,
          );
        return s.ids;
      });
    options.prefixIds = ids(pp.single.slice(0, at));
    options.suffixIds = ids(pp.single.slice(at + 1));
    const first = options.prefixIds[0];
    const last = options.suffixIds[options.suffixIds.length - 1];
    if (first !== undefined && byId.has(first)) options.clsToken = byId.get(first)!;
    if (last !== undefined && byId.has(last)) options.sepToken = byId.get(last)!;
  }
  return { vocab, options };
}
