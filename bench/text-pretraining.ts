// Masked-language-model training throughput (tokens/s) of `kep train text` for a few BERT sizes,
// to choose the default size for a 60-minute run on this 2-core machine: batch 32 × 128 tokens,
// 16,000-token vocabulary, whole-word masking (≈19 predictions a sequence), one AdamW step per batch.
// Run: npm run bench:text [-- --cases 2x128,4x256 --iters 5]. The last line is one JSON object.
import { parseArgs } from 'node:util';
import { Rng } from '../src/engine/init.ts';
import { Trainer } from '../src/engine/trainer.ts';
import { mlmObjective } from '../src/models/bert-mlm.ts';
import { mlmBatch, packSequences, replacementIds } from '../src/train/mlm-data.ts';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: '2x128,4x256' },
    iters: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '32' },
  },
});
const [vocab, seq, batchSize] = [16000, 128, Number(args.batch)];
const rng = new Rng(1, 'bench');
// Random words of 1–3 pieces: ids ≥ 5; "continuation" marks a fifth of the vocabulary.
const continuation = Uint8Array.from({ length: vocab }, (_, i) => (i >= 5 && i % 5 === 0 ? 1 : 0));
const paragraphs = Array.from({ length: 400 }, () =>
  Array.from({ length: 60 }, () => 5 + rng.int(vocab - 5)),
);
const roles = {
  cls: 2,
  sep: 3,
  pad: 0,
  mask: 4,
  special: new Set([0, 1, 2, 3, 4]),
  continuation,
  vocabSize: vocab,
};
const packed = packSequences(paragraphs, seq, roles);
const replacements = replacementIds(roles);

const results: Record<string, number> = {};
for (const name of args.cases.split(',')) {
  const [layers, hidden] = name.split('x').map(Number) as [number, number];
  const model = {
    vocabSize: vocab,
    hidden,
    layers,
    heads: Math.max(2, hidden / 64),
    intermediate: 4 * hidden,
    maxPositions: seq,
    typeVocabSize: 2,
    eps: 1e-12,
  };
  const trainer = await Trainer.create(
    (g, mode) => {
      const out = mlmObjective(
        g,
        {
          ids: g.input('ids', 'int64', ['batch', 'seq']),
          mask: g.input('mask', 'int64', ['batch', 'seq']),
          positions: g.input('positions', 'int64', ['masked']),
          labels: g.input('labels', 'int64', ['masked']),
        },
        model,
        { training: mode === 'train', dropout: 0.1 },
      );
      return { loss: out.loss, outputs: { correct: out.correct } };
    },
    { runtime: { threads: Number(args.threads) } },
  );
  const batch = (step: number) =>
    mlmBatch(
      packed,
      Array.from({ length: batchSize }, (_, k) => (step * batchSize + k) % packed.count),
      roles,
      { probability: 0.15, maxPredictions: 20 },
      new Rng(0, `s${step}`),
      replacements,
    ).feeds;
  await trainer.trainStep(batch(0), 1e-4); // session creation and warm-up
  const t0 = performance.now();
  const iters = Number(args.iters);
  for (let i = 1; i <= iters; i++) await trainer.trainStep(batch(i), 1e-4);
  const s = (performance.now() - t0) / 1000 / iters;
  results[name] = Math.round((batchSize * seq) / s);
  const params = trainer.specs.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  console.log(
    `${name}: ${(params / 1e6).toFixed(2)} M parameters, ${s.toFixed(2)} s/step, ${results[name]} tokens/s`,
  );
  await trainer.release();
}
console.log(
  JSON.stringify({ bench: 'text-pretraining', batch: batchSize, seq, vocab, tokensPerSecond: results }),
);
