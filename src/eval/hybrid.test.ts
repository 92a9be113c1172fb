import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvalSets } from './galleries.ts';
import { fitHybridWeight, fusedScores, evaluateWithHybrid, minMaxInPlace } from './hybrid.ts';

// A constructed case where each ranker fails once, differently. Queries are four disease names;
// the gallery one synonym each.
// - BM25 cannot find "xb" for "beta tumour" (no shared word) and ranks the other "tumour" texts first;
// - the (fake) encoder puts "alpha tumour" nearer "gamma tumour form" than its own "alpha tumour
//   variant", which BM25 gets right through the rare word "alpha".
// Their fusion gets both, for encoder weights in (0.5, 0.72).
const VECTORS: Record<string, number[]> = {
  'alpha tumour': [0.6, 0, 0.8, 0],
  'beta tumour': [0, 1, 0, 0],
  'gamma tumour': [0, 0, 1, 0],
  'delta tumour': [0, 0, 0, 1],
  'alpha tumour variant': [1, 0, 0, 0],
  xb: [0, 1, 0, 0],
  'gamma tumour form': [0, 0, 1, 0],
  'delta growth': [0, 0, 0, 1],
};
const encode = (texts: string[]): Promise<Float32Array> =>
  Promise.resolve(Float32Array.from(texts.flatMap((t) => VECTORS[t]!)));
const SETS: EvalSets = {
  queries: {
    texts: ['alpha tumour', 'beta tumour', 'gamma tumour', 'delta tumour'],
    labels: ['A', 'B', 'C', 'D'],
  },
  galleries: [
    {
      kind: 'synonym',
      texts: ['alpha tumour variant', 'xb', 'gamma tumour form', 'delta growth'],
      labels: ['A', 'B', 'C', 'D'],
    },
  ],
};

describe('hybrid ranking', () => {
  it('normalises each row onto [0, 1]; a constant row to 0', () => {
    const r = Float64Array.from([2, 4, 3]);
    minMaxInPlace(r);
    assert.deepEqual([...r], [0, 1, 0.5]);
    const c = Float64Array.from([7, 7]);
    minMaxInPlace(c);
    assert.deepEqual([...c], [0, 0]);
    assert.throws(
      () =>
        fusedScores(
          () => {},
          () => {},
          2,
          1.5,
        ),
      /in \[0, 1\]/,
    );
  });

  it('beats both the encoder and BM25 where each fails differently; the endpoints are the two rankers', async () => {
    const at = (alpha: number) => evaluateWithHybrid(encode, SETS, alpha);
    const mid = await at(0.6);
    assert.equal(mid.galleries.synonym!.rank1, 0.75);
    assert.equal(mid.baseline.synonym!.rank1, 0.75);
    assert.equal(mid.hybrid.synonym!.rank1, 1);
    assert.deepEqual((await at(1)).hybrid.synonym, mid.galleries.synonym);
    assert.deepEqual((await at(0)).hybrid.synonym, mid.baseline.synonym);
    // An even mix ties "xb" with the other tumours for "beta tumour", and ties go against the query.
    assert.equal((await at(0.5)).hybrid.synonym!.rank1, 0.75);
  });

  it('fits the weight by mean mAP over the grid, ties to the nearest even mix', async () => {
    const fit = await fitHybridWeight(encode, SETS);
    assert.equal(fit.alpha, 0.55);
    assert.equal(fit.meanMAP, 1);
    assert.equal(fit.queries, 4);
    assert.deepEqual(fit.galleries, { synonym: 4 });
    const score = (a: number) => fit.grid.find((g) => g.alpha === a)!.meanMAP;
    assert.ok(score(0) < 1 && score(1) < 1 && score(0.5) < 1 && score(0.75) < 1);
    assert.deepEqual(
      fit.grid.filter((g) => g.meanMAP === 1).map((g) => g.alpha),
      [0.55, 0.6, 0.65, 0.7],
    );
    await assert.rejects(
      fitHybridWeight(encode, { queries: SETS.queries, galleries: [] }),
      /no queries or no gallery/,
    );
  });
});
