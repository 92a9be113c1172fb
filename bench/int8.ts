// int8 inference against fp32 and against PyTorch, in one run on the same machine with the same
// thread count: kep int8, kep fp32, PyTorch fp32 and PyTorch's dynamic int8 (quantize_dynamic on
// nn.Linear) for ViT-B/16 and CTransPath at batch 32 (images/s) and BERT-base text embedding
// (texts/s); whole-slide read + embed (patches/s) in both precisions; plus what int8 changes in KEP-16's embeddings of real tissue tiles (cosine to fp32,
// zero-shot agreement).
// Run: npm run bench:int8 [-- --threads 2 --iters 3 --batch 32 --seq 64 --kernel dynamic --weight-bits 7
// --slide-patches 64].
// The last line is one JSON object.
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type PreprocessConfig, batchImages, imagenet, openaiClip } from '../src/data/preprocess.ts';
import { Graph, type Tensor } from '../src/engine/graph.ts';
import { initialParameters } from '../src/engine/init.ts';
import type { Int8Kernel, Precision } from '../src/engine/quantize.ts';
import { compile, ort } from '../src/engine/runtime.ts';
import {
  nearestClass,
  neighbourAgreement,
  precisionAgreement,
  rowCosines,
  tilesFrom,
} from '../src/eval/precision-agreement.ts';
import { encodeImage, encodeText } from '../src/models/kep.ts';
import { getModel } from '../src/models/registry.ts';
import { swin, swinConfigs } from '../src/models/swin.ts';
import { fmt, otherCpuMeter, runReference, time } from './lib/harness.ts';
import { patchGrid, readEmbed } from './lib/slide-embed.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '3' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '64' },
    kernel: { type: 'string', default: 'dynamic' },
    'weight-bits': { type: 'string', default: '7' },
    // Whole-slide read + embed (KEP-16 image tower, one reader worker): patches of cmu_small_region.
    'slide-patches': { type: 'string', default: '64' },
    shared: { type: 'string', default: fileURLToPath(new URL('../../shared/data', import.meta.url)) },
  },
});
const [threads, iters, batch, seq] = [args.threads, args.iters, args.batch, args.seq].map(Number) as [
  number,
  number,
  number,
  number,
];
const kernel = args.kernel as Int8Kernel;
const weightBits = Number(args['weight-bits']) as 7 | 8;
if (!['dynamic', 'blockwise'].includes(kernel))
  throw new Error(`--kernel: dynamic or blockwise, got ${kernel}`);
if (weightBits !== 7 && weightBits !== 8)
  throw new Error(`--weight-bits: 7 or 8, got ${args['weight-bits']}`);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const entry = getModel('kep-16');
if (entry.kind !== 'kep') throw new Error('kep-16 is not a KEP model');
const kep16 = entry.config;

interface Side {
  rate: number;
  out: Float32Array;
}

/** Throughput and outputs of one graph under both precisions, with the towers' own initialisers. */
async function bothPrecisions(
  name: string,
  build: (g: Graph) => Tensor,
  feeds: Record<string, ort.Tensor>,
  items: number,
  extra?: Record<string, ort.Tensor>,
): Promise<Record<Precision, Side & { extra?: Float32Array }>> {
  const g = new Graph(name);
  g.output('out', build(g));
  const paramData = initialParameters(g.params.values());
  const result = {} as Record<Precision, Side & { extra?: Float32Array }>;
  for (const precision of ['fp32', 'int8'] as const) {
    const t0 = performance.now();
    const s = await compile(g, { paramData }, { threads, precision, quantize: { kernel, weightBits } });
    log(`${name} ${precision}: session ${fmt((performance.now() - t0) / 1000, 1)} s`);
    let out: Float32Array = new Float32Array();
    const t = await time(async () => {
      out = (await s.run(feeds)).out!.data as Float32Array;
    }, iters);
    const more = extra ? ((await s.run(extra)).out!.data as Float32Array) : undefined;
    await s.release();
    result[precision] = { rate: items / t.median, out, ...(more ? { extra: more } : {}) };
    log(
      `${name} ${precision}: ${fmt(items / t.median, 3)} per s (runs ${t.runs.map((r) => fmt(r, 2)).join(', ')} s)`,
    );
  }
  return result;
}

/** Words hashed to token ids: the towers' random weights know no vocabulary, so any stable ids do. */
function hashedIds(texts: readonly string[], length: number, vocab: number): Record<string, ort.Tensor> {
  const ids = new BigInt64Array(texts.length * length);
  const mask = new BigInt64Array(texts.length * length);
  texts.forEach((text, r) => {
    const words = text.toLowerCase().match(/[a-z]+|[^\sa-z]/g) ?? [];
    const hash = (w: string): number => [...w].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 1000003, 7);
    const toks = [2, ...words.map((w) => 5 + (hash(w) % (vocab - 5))), 3].slice(0, length);
    toks.forEach((t, i) => {
      ids[r * length + i] = BigInt(t);
      mask[r * length + i] = 1n;
    });
  });
  return {
    ids: new ort.Tensor('int64', ids, [texts.length, length]),
    mask: new ort.Tensor('int64', mask, [texts.length, length]),
  };
}

async function pixels(cfg: PreprocessConfig): Promise<ort.Tensor> {
  const dir = args.shared;
  const paths = [`${dir}/patches/example.tif`, `${dir}/patches/ihc.png`, `${dir}/wsi/cmu_small_region.svs`];
  const tiles = await tilesFrom(paths, batch, 224);
  if (tiles.length < batch)
    throw new Error(`only ${tiles.length} tiles in ${paths.join(', ')}; need ${batch}`);
  const b = batchImages(tiles, cfg);
  return new ort.Tensor('float32', b.data, b.shape);
}

const meter = otherCpuMeter();
const reference = runReference(fileURLToPath(new URL('./int8_torch.py', import.meta.url)), [
  ...['--threads', String(threads), '--iters', String(iters)],
  ...['--batch', String(batch), '--seq', String(seq)],
]);
log(`reference: ${JSON.stringify(reference)}`);

// Zero-shot classes: Kather CRC's first prompt set (../shared/data/prompts/kep).
const classes = [
  'fat',
  'background artifacts',
  'necrotic debris',
  'immune cells',
  'mucus',
  'muscularis mucosa',
  'benign colon mucosa',
  'cancer-associated stroma',
  'colorectal adenocarcinoma epithelium',
].map((c) => `there is ${c}.`);
const textIds = Int32Array.from({ length: batch * seq }, (_, i) => 5 + ((i * 7919) % 30000));
const text = await bothPrecisions(
  'kep16-text',
  (g) =>
    encodeText(
      g,
      g.input('ids', 'int64', ['batch', 'seq']),
      g.input('mask', 'int64', ['batch', 'seq']),
      kep16,
    ),
  {
    ids: new ort.Tensor('int64', BigInt64Array.from(textIds, BigInt), [batch, seq]),
    mask: new ort.Tensor('int64', new BigInt64Array(batch * seq).fill(1n), [batch, seq]),
  },
  batch,
  hashedIds(classes, 16, kep16.text.vocabSize),
);
const image = await bothPrecisions(
  'kep16-image',
  (g) => encodeImage(g, g.input('pixels', 'float32', ['batch', 3, 224, 224]), kep16),
  { pixels: await pixels(openaiClip) },
  batch,
);
const ctp = await bothPrecisions(
  'ctranspath',
  (g) => swin(g, g.input('pixels', 'float32', ['batch', 3, 224, 224]), swinConfigs.ctranspath),
  { pixels: await pixels(imagenet) },
  batch,
);

// Whole-slide read + embed as `kep wsi run --precision` does it: reading overlaps inference.
const slidePath = `${args.shared}/wsi/cmu_small_region.svs`;
const warmSlide = `${args.shared}/wsi/tcga-cr-7395-01a-01-ts1.svs`;
const slideCoords = (await patchGrid(slidePath)).slice(0, 2 * Number(args['slide-patches']));
const warmCoords = (await patchGrid(warmSlide)).slice(0, 4);
const slideRate = {} as Record<Precision, number>;
for (const precision of ['fp32', 'int8'] as const) {
  const stats = await readEmbed({
    source: { name: 'kep-16', threads, precision },
    slide: slidePath,
    coords: slideCoords,
    warm: { slide: warmSlide, coords: warmCoords },
    workers: 1,
    batchSize: batch,
  });
  slideRate[precision] = stats.patches / stats.seconds;
  log(`slide read+embed ${precision}: ${fmt(slideRate[precision], 3)} patches/s (${stats.patches} patches)`);
}

const dim = kep16.embedDim;
const agree = precisionAgreement(
  { rows: image.fp32.out, classes: text.fp32.extra! },
  { rows: image.int8.out, classes: text.int8.extra! },
  dim,
);
const predicted = new Set(nearestClass(image.fp32.out, text.fp32.extra!, dim)).size;
const ctpCos = rowCosines(ctp.fp32.out, ctp.int8.out, 768);
const textCos = rowCosines(text.fp32.out, text.int8.out, dim);
const num = (key: string): number => reference[key] as number;
const torchVitInt8 = Math.max(num('torch_vit_b16_int8_img_s'), num('torch_vit_b16_timm_int8_img_s'));
const r3 = (x: number): number => Number(fmt(x, 3));
const r4 = (x: number): number => Number(fmt(x, 4));
const others = meter();
const result = {
  threads,
  batch,
  seq,
  kernel,
  weight_bits: weightBits,
  cpu: cpus()[0]?.model ?? 'unknown',
  ort_version: ort.env.versions.common,
  torch_version: reference.torch_version,
  torch_quantized_engine: reference.quantized_engine,
  vit_b16_fp32_img_s: r3(image.fp32.rate),
  vit_b16_int8_img_s: r3(image.int8.rate),
  torch_vit_b16_img_s: num('torch_vit_b16_img_s'),
  torch_vit_b16_int8_img_s: num('torch_vit_b16_int8_img_s'),
  torch_vit_b16_timm_int8_img_s: num('torch_vit_b16_timm_int8_img_s'),
  ctranspath_fp32_img_s: r3(ctp.fp32.rate),
  ctranspath_int8_img_s: r3(ctp.int8.rate),
  torch_ctranspath_img_s: num('torch_ctranspath_img_s'),
  torch_ctranspath_int8_img_s: num('torch_ctranspath_int8_img_s'),
  bert_fp32_texts_s: r3(text.fp32.rate),
  bert_int8_texts_s: r3(text.int8.rate),
  torch_bert_texts_s: num('torch_bert_texts_s'),
  torch_bert_int8_texts_s: num('torch_bert_int8_texts_s'),
  vit_b16_int8_vs_fp32: r3(image.int8.rate / image.fp32.rate),
  vit_b16_int8_vs_torch_fp32: r3(image.int8.rate / num('torch_vit_b16_img_s')),
  vit_b16_int8_vs_torch_int8: r3(image.int8.rate / torchVitInt8),
  ctranspath_int8_vs_fp32: r3(ctp.int8.rate / ctp.fp32.rate),
  ctranspath_int8_vs_torch_fp32: r3(ctp.int8.rate / num('torch_ctranspath_img_s')),
  ctranspath_int8_vs_torch_int8: r3(ctp.int8.rate / num('torch_ctranspath_int8_img_s')),
  slide_read_embed_fp32_patches_s: r3(slideRate.fp32),
  slide_read_embed_int8_patches_s: r3(slideRate.int8),
  slide_read_embed_int8_vs_fp32: r3(slideRate.int8 / slideRate.fp32),
  bert_int8_vs_fp32: r3(text.int8.rate / text.fp32.rate),
  bert_int8_vs_torch_fp32: r3(text.int8.rate / num('torch_bert_texts_s')),
  bert_int8_vs_torch_int8: r3(text.int8.rate / num('torch_bert_int8_texts_s')),
  cosine_mean: r4(agree.cosineMean),
  cosine_min: r4(agree.cosineMin),
  agreement: r4(agree.agreement),
  zero_shot_classes_predicted: predicted,
  neighbour_agreement: r4(neighbourAgreement(image.fp32.out, image.int8.out, dim)),
  ctranspath_cosine_mean: r4(ctpCos.reduce((a, b) => a + b, 0) / ctpCos.length),
  ctranspath_cosine_min: r4(Math.min(...ctpCos)),
  text_cosine_min: r4(Math.min(...textCos)),
  other_cpu_load: others === undefined ? null : Number(fmt(others, 2)),
};
log(
  `ViT-B/16 int8 ${result.vit_b16_int8_img_s} img/s: ×${result.vit_b16_int8_vs_torch_fp32} PyTorch fp32, ` +
    `×${result.vit_b16_int8_vs_torch_int8} PyTorch int8; CTransPath ×${result.ctranspath_int8_vs_torch_fp32}; ` +
    `BERT-base ×${result.bert_int8_vs_torch_fp32}; cosine ${result.cosine_mean} (min ${result.cosine_min}), ` +
    `agreement ${result.agreement}; other processes used ${result.other_cpu_load} CPUs`,
);
console.log(JSON.stringify(result));
