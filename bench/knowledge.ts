// Knowledge-encoder training throughput (texts/s), kep against PyTorch in the same run: the
// defaults of `kep train knowledge` (2 layers, hidden 128, mean pooling, P×K = 64×4, 32 tokens),
// the small encoder (4 layers, hidden 256, P×K = 32×8, 64 tokens) and a BERT-base-sized
// one (P×K = 8×4 to keep a step under a minute here, 64 tokens); one AdamW step per batch, AdaSP.
// Run: npm run bench:knowledge [-- --threads 2 --iters 3]. The last line is one JSON object.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/engine/init.ts';
import { ort } from '../src/engine/runtime.ts';
import { Trainer } from '../src/engine/trainer.ts';
import { textInputs, textTower } from '../src/models/factory.ts';
import type { TextEncoderSpec } from '../src/models/spec.ts';
import { adaspLoss } from '../src/nn/metric-losses.ts';
import { fmt, runReference, time } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '3' },
    cases: { type: 'string', default: 'default,small,bert_base' },
  },
});
const threads = Number(args.threads);
const iters = Number(args.iters);

interface Case {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  inter: number;
  vocab: number;
  p: number;
  k: number;
  seq: number;
  pool: 'cls' | 'mean';
}
const cases: Case[] = [
  // The defaults of `kep train knowledge` (src/train/knowledge.ts).
  {
    name: 'default',
    layers: 2,
    hidden: 128,
    heads: 2,
    inter: 512,
    vocab: 8000,
    p: 64,
    k: 4,
    seq: 32,
    pool: 'mean',
  },
  {
    name: 'small',
    layers: 4,
    hidden: 256,
    heads: 4,
    inter: 1024,
    vocab: 8000,
    p: 32,
    k: 8,
    seq: 64,
    pool: 'cls',
  },
  {
    name: 'bert_base',
    layers: 12,
    hidden: 768,
    heads: 12,
    inter: 3072,
    vocab: 30522,
    p: 8,
    k: 4,
    seq: 64,
    pool: 'cls',
  },
];

async function kepTextsPerSecond(c: Case): Promise<number> {
  // The S1 encoder as `kep train knowledge` builds it: a text-encoder spec through the one factory.
  const spec: TextEncoderSpec = {
    name: c.name,
    kind: 'text-encoder',
    description: '',
    keyMap: 'kep',
    config: {
      text: {
        vocabSize: c.vocab,
        hidden: c.hidden,
        layers: c.layers,
        heads: c.heads,
        intermediate: c.inter,
        maxPositions: c.seq,
        typeVocabSize: 2,
        eps: 1e-12,
      },
      embedDim: 512,
    },
    tokenizer: { maxLength: c.seq, vocabulary: null, pooling: c.pool, lowerCase: true },
  };
  const trainer = await Trainer.create(
    (g) => ({
      loss: adaspLoss(textTower(g, spec, textInputs(g), { training: true }), c.p, c.k, { normalize: false }),
    }),
    { runtime: { threads }, optimizer: { weightDecay: 0.2 } },
  );
  const n = c.p * c.k;
  const seq = c.seq;
  const rng = new Rng(0, 'bench-ids');
  const feeds = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n * seq }, () => BigInt(5 + rng.int(c.vocab - 5))),
      [n, seq],
    ),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n * seq).fill(1n), [n, seq]),
  };
  const t = await time(() => trainer.trainStep(feeds, 1e-4), iters);
  await trainer.release();
  return n / t.median;
}

const script = fileURLToPath(new URL('./knowledge_torch.py', import.meta.url));
const result: Record<string, number> = { threads };
const chosen = new Set(args.cases.split(','));
for (const c of cases.filter((x) => chosen.has(x.name))) {
  const ref = runReference(
    script,
    [
      '--layers',
      c.layers,
      '--hidden',
      c.hidden,
      '--heads',
      c.heads,
      '--inter',
      c.inter,
      '--vocab',
      c.vocab,
      '--p',
      c.p,
      '--k',
      c.k,
      '--seq',
      c.seq,
      '--pool',
      c.pool,
      '--threads',
      threads,
      '--iters',
      iters,
    ].map(String),
  );
  const kep = await kepTextsPerSecond(c);
  const torch = ref.texts_s as number;
  result[`${c.name}_texts_s`] = Number(fmt(kep, 2));
  result[`torch_${c.name}_texts_s`] = torch;
  result[`${c.name}_ratio`] = Number(fmt(kep / torch, 3));
  process.stderr.write(
    `${c.name} (P×K ${c.p}×${c.k}, seq ${c.seq}): kep ${fmt(kep, 2)} texts/s, torch ${torch}, ratio ${fmt(kep / torch, 3)}\n`,
  );
}
console.log(JSON.stringify(result));
