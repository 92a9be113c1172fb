import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from '../knowledge/build.ts';
import { samples } from '../knowledge/export.ts';
import { buildVocabulary, countWords, SPECIAL_TOKENS, vocabText, writeVocab } from './vocab-builder.ts';
import { BertTokenizer } from './wordpiece.ts';

const SHARED = fileURLToPath(new URL('../../../shared/data/knowledge/', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'kep-vocab-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TEXTS = [
  'Clear cell renal cell carcinoma',
  'Papillary renal cell carcinoma, type 2',
  'Ménétrier disease: hyperplasia of the gastric foveolae',
  'Adenocarcinoma of the lung (non-small-cell)',
  'Squamous cell carcinoma of the lung',
  'A carcinoma that derives from epithelial cells.',
  'Chromophobe renal cell carcinoma',
  'x'.repeat(101) + ' is too long',
];

function unknowns(tok: BertTokenizer, texts: readonly string[]): { unk: number; total: number } {
  let unk = 0;
  let total = 0;
  for (const t of texts) {
    const ids = tok.encode(t, { addSpecialTokens: false, truncation: false }).ids;
    total += ids.length;
    for (const id of ids) if (id === tok.unkId) unk++;
  }
  return { unk, total };
}

describe('WordPiece vocabulary builder', () => {
  it('puts the special tokens first, then every character in both forms, then merges', () => {
    const { tokens, merges, longWords } = buildVocabulary(TEXTS, { size: 200 });
    assert.deepEqual(tokens.slice(0, 5), [...SPECIAL_TOKENS]);
    for (const c of 'clearmnt,:()-2') {
      assert.ok(tokens.includes(c), c);
      assert.ok(tokens.includes('##' + c), '##' + c);
    }
    // Normalised as the tokenizer normalises: no capitals, no accents.
    assert.ok(!tokens.includes('C') && !tokens.includes('é'));
    assert.ok(tokens.includes('carcinoma') && tokens.includes('cell'));
    assert.equal(new Set(tokens).size, tokens.length);
    assert.ok(merges > 0);
    assert.equal(longWords, 1);
  });

  it('merges the most frequent pair first', () => {
    const { tokens } = buildVocabulary(['abab ab ab cd', 'ab cd'], { size: 14 });
    // 5 special + 4 characters × 2 forms = 13; the next token is the most frequent pair, a+##b.
    assert.equal(tokens.length, 14);
    assert.equal(tokens[13], 'ab');
    assert.deepEqual(buildVocabulary(['abab ab ab cd', 'ab cd'], { size: 100 }).tokens.slice(13), [
      'ab',
      'cd',
    ]);
    // Below minFrequency nothing merges; ties go to the pair of earlier symbols (##a < ab).
    const all = buildVocabulary(['abab ab ab cd', 'ab cd'], { size: 100, minFrequency: 1 }).tokens.slice(13);
    assert.deepEqual(all, ['ab', 'cd', '##ab', 'abab']);
    // 'likelihood' prefers the pair whose parts rarely occur apart.
    const l = buildVocabulary(['abab ab ab cd', 'ab cd'], { size: 14, score: 'likelihood' }).tokens;
    assert.equal(l[13], 'cd');
  });

  it('tokenises every training text without [UNK], except over-long words, and BertTokenizer loads vocab.txt', () => {
    const { tokens } = buildVocabulary(TEXTS, { size: 120 });
    const file = path.join(dir, 'vocab.txt');
    writeVocab(file, tokens);
    assert.equal(readFileSync(file, 'utf8'), vocabText(tokens));
    const tok = BertTokenizer.fromVocabFile(file);
    assert.equal(tok.vocabSize, tokens.length);
    assert.deepEqual([tok.padId, tok.unkId, tok.clsId, tok.sepId], [0, 1, 2, 3]);
    const { unk } = unknowns(tok, TEXTS);
    assert.equal(unk, 1); // the 101-character word
    assert.deepEqual(tok.tokenize('MÉNÉTRIER'), tok.tokenize('menetrier'));
    // A word never seen, made of seen characters, still has no [UNK].
    assert.ok(!tok.tokenize('carcinomatous nephroma').includes('[UNK]'));
  });

  it('is deterministic and does not depend on the order of the texts', () => {
    const a = buildVocabulary(TEXTS, { size: 150 }).tokens;
    assert.deepEqual(buildVocabulary(TEXTS, { size: 150 }).tokens, a);
    assert.deepEqual(buildVocabulary([...TEXTS].reverse(), { size: 150 }).tokens, a);
  });

  it('counts words as BertTokenizer splits them', () => {
    const { counts } = countWords(['Ki-67 < 5%; Ki-67', 'CAFÉ']);
    assert.deepEqual(Object.fromEntries(counts), {
      ki: 2,
      '-': 2,
      '67': 2,
      '<': 1,
      '5': 1,
      '%': 1,
      ';': 1,
      cafe: 1,
    });
    assert.deepEqual(Object.fromEntries(countWords(['CAFÉ'], { lowercase: false }).counts), { CAFÉ: 1 });
  });

  it(
    'builds an 8,000-token vocabulary for the open tree',
    { skip: existsSync(SHARED) ? false : 'no ../shared/data' },
    (t) => {
      const texts = [...samples(buildTree(SHARED))].map((s) => s.text);
      const started = performance.now();
      const v = buildVocabulary(texts);
      const seconds = (performance.now() - started) / 1000;
      const tok = new BertTokenizer(v.tokens);
      const { unk, total } = unknowns(tok, texts);
      let whole = 0;
      let words = 0;
      for (const [w, n] of countWords(texts).counts) {
        words += n;
        if (tok.tokenize(w).length === 1) whole += n;
      }
      t.diagnostic(
        `${texts.length} texts, ${v.words} distinct words, ${v.longWords} over-long; vocabulary ${v.tokens.length} ` +
          `(${v.merges} merges) in ${seconds.toFixed(2)} s; ${total} tokens, [UNK] ${unk} (${((100 * unk) / total).toFixed(3)}%); ` +
          `${(total / words).toFixed(3)} tokens per word, ${((100 * whole) / words).toFixed(1)}% of word occurrences one token`,
      );
      assert.equal(v.tokens.length, 8000);
      assert.equal(unk, 0);
      assert.ok(seconds < 10, `${seconds} s`);
      assert.deepEqual(tok.tokenize('Clear cell renal cell carcinoma'), [
        'clear',
        'cell',
        'renal',
        'cell',
        'carcinoma',
      ]);
    },
  );
});
