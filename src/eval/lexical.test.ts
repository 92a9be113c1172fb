import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bm25, lexicalScores, TfIdf, tokenise } from './lexical.ts';
import { reid } from './reid.ts';

const close = (actual: number, expected: number, eps = 1e-12): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} ≠ ${expected}`);

test('tokenise: lower-case Unicode words, punctuation splits, stop words dropped unless disabled', () => {
  assert.deepEqual(tokenise("Non-Hodgkin's Lymphoma, NOS (C83.9)"), [
    'non',
    'hodgkin',
    's',
    'lymphoma',
    'nos',
    'c83',
    '9',
  ]);
  assert.deepEqual(tokenise('Sjögren syndrome of the ÉPIDERMIS'), ['sjögren', 'syndrome', 'épidermis']);
  // A decomposed accent (o + U+0308) stays inside its word.
  assert.deepEqual(tokenise('Sjo\u0308gren'), ['sjo\u0308gren']);
  assert.deepEqual(tokenise('carcinoma of the lung', { stopWords: new Set() }), [
    'carcinoma',
    'of',
    'the',
    'lung',
  ]);
  assert.deepEqual(tokenise(' -- '), []);
});

test('BM25 against a hand computation (k1 1.2, b 0.75, Lucene IDF)', () => {
  // Tokens after stop words: [lung adenocarcinoma], [adenocarcinoma colon],
  // [squamous cell carcinoma lung lung]; N = 3, avgdl = 9/3 = 3.
  const bm25 = new Bm25([
    'Lung adenocarcinoma',
    'adenocarcinoma of the colon',
    'squamous cell carcinoma of the lung, lung',
  ]);
  // df(lung) = df(adenocarcinoma) = 2 → idf = ln(1 + 1.5/2.5) = ln 1.6; df(squamous) = 1 → ln(1 + 2.5/1.5).
  close(bm25.idf('lung'), Math.log(1.6));
  close(bm25.idf('squamous'), Math.log(8 / 3));
  close(bm25.idf('absent'), Math.log(1 + 3.5 / 0.5));
  // Length norms: dl 2 → 1.2·(0.25 + 0.75·2/3) = 0.9; dl 5 → 1.2·(0.25 + 0.75·5/3) = 1.8.
  const s = bm25.scores('lung adenocarcinoma');
  close(s[0]!, (2 * Math.log(1.6) * (1 * 2.2)) / (1 + 0.9));
  close(s[1]!, (Math.log(1.6) * (1 * 2.2)) / (1 + 0.9));
  close(s[2]!, (Math.log(1.6) * (2 * 2.2)) / (2 + 1.8));
  const q = bm25.scores('squamous carcinoma of the skin');
  assert.equal(q[0], 0);
  assert.equal(q[1], 0);
  close(q[2]!, (2 * Math.log(8 / 3) * 2.2) / (1 + 1.8));
  // A query word given twice counts twice.
  close(bm25.scores('squamous squamous')[2]!, 2 * bm25.scores('squamous')[2]!);
});

test('BM25 with k1 and b overridden, and an empty gallery text', () => {
  const bm25 = new Bm25(['alpha beta', ''], { k1: 2, b: 0 });
  // b = 0: no length normalisation; avgdl = 1 is then irrelevant.
  const s = bm25.scores('alpha');
  close(s[0]!, (Math.log(1 + 1.5 / 1.5) * (1 * 3)) / (1 + 2));
  assert.equal(s[1], 0);
});

test('TF-IDF cosine against a hand computation (smoothed IDF)', () => {
  const tfidf = new TfIdf(['x y', 'y z z']);
  const idfX = Math.log(3 / 2) + 1;
  close(tfidf.idf('y'), 1);
  const s = tfidf.scores('x');
  close(s[0]!, idfX / Math.hypot(idfX, 1));
  assert.equal(s[1], 0);
  const t = tfidf.scores('y unknownword');
  const idfZ = Math.log(3 / 2) + 1;
  close(t[0]!, 1 / Math.hypot(idfX, 1));
  close(t[1]!, 1 / Math.hypot(1, 2 * idfZ));
  assert.deepEqual([...tfidf.scores('nothing here')], [0, 0]);
});

test('lexical scores plug into the same metric code as the encoder', () => {
  const docs = ['adenocarcinoma of the lung', 'colon adenocarcinoma', 'melanoma of skin'];
  const labels = ['LUAD', 'COAD', 'SKCM'];
  for (const method of ['bm25', 'tfidf'] as const) {
    const m = reid(
      lexicalScores(['Lung Adenocarcinoma', 'Colon Adenocarcinoma', 'Cutaneous Melanoma'], docs, method),
      ['LUAD', 'COAD', 'SKCM'],
      labels,
    );
    assert.deepEqual(m, { rank1: 1, rank2: 1, rank3: 1, rank4: 1, rank5: 1, mAP: 1, n: 3 }, method);
  }
  // No word in common with any document: every score is 0, and the tie rule puts the positive last.
  const m = reid(lexicalScores(['Glioma'], docs), ['SKCM'], labels);
  assert.equal(m.rank2, 0);
  assert.equal(m.rank3, 1);
});
