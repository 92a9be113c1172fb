import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { batchImages, openaiClip } from '../data/preprocess.ts';
import { Graph } from '../engine/graph.ts';
import type { Precision } from '../engine/quantize.ts';
import { compile, ort } from '../engine/runtime.ts';
import { Rng, initialParameters, initialize } from '../engine/init.ts';
import { encodeImage } from '../models/kep.ts';
import { getModel } from '../models/registry.ts';
import {
  nearestClass,
  neighbourAgreement,
  precisionAgreement,
  rowCosines,
  tilesFrom,
} from './precision-agreement.ts';

describe('precision agreement metrics', () => {
  it('cosines per row, nearest class, agreement', () => {
    const a = Float32Array.from([1, 0, 0, 1, 1, 1]);
    const b = Float32Array.from([2, 0, 0, -1, 1, 0]);
    const cos = rowCosines(a, b, 2);
    assert.deepEqual(
      cos.map((c) => Number(c.toFixed(4))),
      [1, -1, 0.7071],
    );
    const classes = Float32Array.from([1, 0, 0, 1]);
    assert.deepEqual(nearestClass(a, classes, 2), [0, 1, 0]);
    const r = precisionAgreement({ rows: a, classes }, { rows: b, classes }, 2);
    assert.equal(r.rows, 3);
    assert.equal(r.cosineMin, -1);
    assert.equal(r.agreement, 2 / 3);
    assert.throws(() => rowCosines(a, b.subarray(1), 2), /not equal multiples of 2/);
    // Nearest other rows: c → [1, 0, 1]; d → [2, 2, 1].
    const c = Float32Array.from([1, 0, 0.9, 0.1, 0, 1]);
    assert.equal(neighbourAgreement(c, c, 2), 1);
    const d = Float32Array.from([1, 0, 0, 1, 0.1, 0.9]);
    assert.equal(neighbourAgreement(c, d, 2), 1 / 3);
  });
});

const shared = '../shared/data';
const images = [
  `${shared}/patches/example.tif`,
  `${shared}/patches/ihc.png`,
  `${shared}/wsi/cmu_small_region.svs`,
];
const haveData = images.every((p) => existsSync(p));

/** Unit vectors from a seeded stream: a zero-shot classifier's class embeddings, fixed for both precisions. */
function classDirections(k: number, dim: number): Float32Array {
  const v = initialize({ kind: 'normal', std: 1 }, k * dim, new Rng(7, 'classes'));
  for (let c = 0; c < k; c++) {
    const row = v.subarray(c * dim, (c + 1) * dim);
    const norm = Math.hypot(...row);
    for (let i = 0; i < dim; i++) row[i]! /= norm;
  }
  return v;
}

function centred(x: Float32Array, dim: number): Float32Array {
  const n = x.length / dim;
  const mean = new Float32Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i]! += x[r * dim + i]! / n;
  return x.map((v, j) => v - mean[j % dim]!);
}

// Weights: the towers' own initialisers (timm's truncated normal), not formula weights: measured,
// formula weights send every patch to the same ViT-B embedding (pairwise cosine 1.0000), which
// would make any agreement check vacuous. The test checks that the patches' embeddings differ.
describe(
  'int8 at full size (KEP-16 image tower, shared patches and slide tiles)',
  { skip: !haveData && 'shared data not found' },
  () => {
    it('keeps embeddings at cosine ≥ 0.99 mean, ≥ 0.97 min (centred too) and zero-shot predictions', async (t) => {
      const entry = getModel('kep-16');
      if (entry.kind !== 'kep') throw new Error('kep-16 is not a KEP model');
      const g = new Graph('kep-16-image');
      g.output('emb', encodeImage(g, g.input('pixels', 'float32', ['batch', 3, 224, 224]), entry.config));
      const paramData = initialParameters(g.params.values());
      const batch = batchImages(await tilesFrom(images, 4, 224), openaiClip);
      const pixels = new ort.Tensor('float32', batch.data, batch.shape);
      const embed = async (precision: Precision): Promise<Float32Array> => {
        const s = await compile(g, { paramData }, { threads: 2, precision });
        try {
          return (await s.run({ pixels })).emb!.data as Float32Array;
        } finally {
          await s.release();
        }
      };
      const dim = entry.config.embedDim;
      const classes = classDirections(9, dim);
      const fp32 = await embed('fp32');
      const int8 = await embed('int8');
      const r = precisionAgreement({ rows: fp32, classes }, { rows: int8, classes }, dim);
      const spread = rowCosines(fp32.subarray(0, dim), fp32.subarray(dim, 2 * dim), dim);
      const centredMin = Math.min(...rowCosines(centred(fp32, dim), centred(int8, dim), dim));
      const neighbours = neighbourAgreement(fp32, int8, dim);
      const msg = JSON.stringify({ ...r, centredMin, spread, neighbours });
      t.diagnostic(msg);
      assert.equal(r.rows, 4);
      assert.ok(
        spread[0]! < 0.99,
        `the patches' embeddings must differ for the check to mean anything: ${msg}`,
      );
      assert.ok(r.cosineMean >= 0.99 && r.cosineMin >= 0.97 && centredMin >= 0.97, msg);
      assert.equal(r.agreement, 1, msg);
      assert.equal(neighbours, 1, msg);
    });
  },
);
