import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linkText } from './link.ts';

// The encoder (fake) knows "xb" is breast cancer but confuses "alpha tumour" with gamma; BM25 has
// the opposite blind spots (see hybrid.test.ts).
const VECTORS: Record<string, number[]> = {
  'alpha tumour': [0.6, 0, 0.8],
  'alpha tumour variant': [1, 0, 0],
  'gamma tumour form': [0, 0, 1],
  'breast carcinoma': [0, 1, 0],
  xb: [0, 1, 0],
};
const encode = (texts: string[]): Promise<Float32Array> =>
  Promise.resolve(Float32Array.from(texts.flatMap((t) => VECTORS[t]!)));
const CANDIDATES = [
  { text: 'alpha tumour variant', label: 'A' },
  { text: 'breast carcinoma', label: 'B' },
  { text: 'gamma tumour form', label: 'C' },
];

describe('linking free text', () => {
  it('ranks diseases by their best candidate under each ranker', async () => {
    const top = async (ranker: 'dense' | 'lexical' | 'hybrid', text: string) =>
      (await linkText(text, CANDIDATES, { ranker, encode, alpha: 0.6, top: 2 })).map((h) => h.label);
    assert.deepEqual(await top('dense', 'alpha tumour'), ['C', 'A']);
    assert.deepEqual(await top('lexical', 'alpha tumour'), ['A', 'C']);
    assert.deepEqual(await top('hybrid', 'alpha tumour'), ['A', 'C']);
    assert.deepEqual((await top('hybrid', 'xb'))[0], 'B');
    const hits = await linkText('alpha tumour', CANDIDATES, { ranker: 'hybrid', encode, alpha: 0.6, top: 1 });
    assert.equal(hits[0]!.via, 'alpha tumour variant');
    assert.ok(hits[0]!.score > 0 && hits[0]!.score <= 1);
  });

  it('needs an encoder for dense and hybrid, none for lexical', async () => {
    await assert.rejects(linkText('x', CANDIDATES, { ranker: 'hybrid', top: 1 }), /needs an encoder/);
    assert.equal((await linkText('gamma', CANDIDATES, { ranker: 'lexical', top: 1 }))[0]!.label, 'C');
  });
});
