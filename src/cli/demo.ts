// `kep demo`: the main job on the shared defaults. It runs every stage that exists today, end to
// end, and writes an HTML report that says plainly what ran, on which weights, and what is next.
import { Command } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Graph } from '../engine/graph.ts';
import { Rng } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { cosineWithWarmup } from '../engine/optim.ts';
import { ort } from '../engine/runtime.ts';
import { Trainer } from '../engine/trainer.ts';
import { buildTree } from '../knowledge/build.ts';
import { defaultCacheDir, downloadSources } from '../knowledge/download.ts';
import { exportChunks, samples } from '../knowledge/export.ts';
import { DEFAULT_HYBRID_WEIGHT, type HybridReport } from '../eval/hybrid.ts';
import type { KnowledgeTree } from '../knowledge/schema.ts';
import { knowledgeConfigSchema, trainKnowledgeEncoder } from '../train/knowledge.ts';
import { readMetrics } from '../train/loop.ts';
import { s2Stage, wsiStage } from './demo-stages.ts';
import { treeStats } from '../knowledge/query.ts';
import { ATTRIBUTE_KINDS } from '../knowledge/schema.ts';
import { saveTree } from '../knowledge/tree-io.ts';
import { imageTower, pixelsInput } from '../models/factory.ts';
import { vitConfigs } from '../models/vit.ts';
import { getModel } from '../models/registry.ts';
import { lineChart, page, table } from '../report/html.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { createProgress } from '../util/progress.ts';

// Small enough that a minute of training makes visible progress on two cores.
const DEMO_ENCODER = {
  vocabSize: 4000,
  evalEvery: 100000,
  checkpointEvery: 50,
  warmup: 20,
  lr: 1e-3,
};

const PAPER = {
  diseases: 4718,
  name: 4718,
  synonym: 30950,
  definition: 10097,
  histology: 3588,
  cytology: 1117,
  total: 50470,
};

const say = (s: string): void => void process.stderr.write(`${s}\n`);

/** Synthetic images whose class is the colour channel that is brighter; a task a tiny ViT learns in seconds. */
function syntheticBatch(
  n: number,
  size: number,
  rng: Rng,
): { pixels: ort.Tensor; labels: ort.Tensor; y: number[] } {
  const px = new Float32Array(n * 3 * size * size);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = rng.int(3);
    y.push(c);
    for (let ch = 0; ch < 3; ch++)
      for (let k = 0; k < size * size; k++)
        px[(i * 3 + ch) * size * size + k] = 0.6 * rng.normal() + (ch === c ? 0.5 : 0);
  }
  return {
    pixels: new ort.Tensor('float32', px, [n, 3, size, size]),
    labels: new ort.Tensor('int64', BigInt64Array.from(y, BigInt), [n]),
    y,
  };
}

async function engineCheck(
  outDir: string,
  steps: number,
): Promise<{
  losses: [number, number][];
  accBefore: number;
  accAfter: number;
  exportMatches: boolean;
  seconds: number;
}> {
  const base = getModel('vit-tiny-16');
  if (base.kind !== 'vit') throw new Error('vit-tiny-16 is a ViT');
  // The registry's test-sized ViT with a 3-way classification head, built by the one factory.
  const spec = { ...base, config: { ...base.config, numClasses: 3 } };
  const cfg = spec.config;
  const trainer = await Trainer.create(
    (g: Graph) => {
      const pixels = pixelsInput(g, cfg.imageSize);
      const labels = g.input('labels', 'int64', ['batch']);
      const logits = imageTower(g, spec, pixels);
      return { loss: F.crossEntropy(logits, labels), outputs: { logits } };
    },
    { seed: 0, optimizer: { weightDecay: 0.05 } },
  );
  const rng = new Rng(1, 'demo-data');
  const held = syntheticBatch(96, cfg.imageSize, new Rng(2, 'demo-heldout'));
  const accuracy = async (): Promise<number> => {
    const logits = (await trainer.run({ pixels: held.pixels }, ['logits'])).logits!.data as Float32Array;
    let right = 0;
    held.y.forEach((c, i) => {
      const row = logits.subarray(i * 3, i * 3 + 3);
      if (row.indexOf(Math.max(...row)) === c) right++;
    });
    return right / held.y.length;
  };
  const accBefore = await accuracy();
  const lr = cosineWithWarmup({ peak: 3e-3, warmup: 10, total: steps });
  const progress = createProgress({ label: 'engine check: tiny ViT', total: steps });
  const t0 = performance.now();
  const losses: [number, number][] = [];
  for (let s = 0; s < steps; s++) {
    const b = syntheticBatch(32, cfg.imageSize, rng);
    const r = await trainer.trainStep({ pixels: b.pixels, labels: b.labels }, lr(s));
    losses.push([s + 1, r.loss]);
    progress.increment();
  }
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  const accAfter = await accuracy();
  const onnxPath = join(outDir, 'tiny-vit.onnx');
  trainer.exportOnnx(onnxPath, ['logits']);
  const session = await ort.InferenceSession.create(onnxPath);
  const exported = (await session.run({ pixels: held.pixels })).logits!.data as Float32Array;
  const live = (await trainer.run({ pixels: held.pixels }, ['logits'])).logits!.data as Float32Array;
  const exportMatches = exported.every((v, i) => Math.abs(v - live[i]!) < 1e-5);
  await session.release();
  await trainer.release();
  return { losses, accBefore, accAfter, exportMatches, seconds };
}

function galleriesAbove(r: HybridReport, column: 'galleries' | 'hybrid'): number {
  return Object.keys(r.galleries).filter((k) => r[column][k]!.rank1 > r.baseline[k]!.rank1).length;
}

// The cross-source split is the headline: its galleries hold texts of a source the encoder never saw.
const DEMO_SPLITS = ['cross-source', 'disease-disjoint', 'in-distribution'] as const;

interface S1Run {
  split: (typeof DEMO_SPLITS)[number];
  dir: string;
  steps: number;
  seconds: number;
  report: HybridReport;
  alpha: number;
  losses: [number, number][];
}

/** One minute-scale S1 run on one split, evaluated with BM25 and the hybrid beside it. */
async function s1Split(
  outDir: string,
  tree: KnowledgeTree,
  split: S1Run['split'],
  minutes: number,
): Promise<S1Run> {
  const dir = join(outDir, `knowledge-encoder-${split}`);
  rmSync(dir, { recursive: true, force: true }); // a fresh run each time: the report describes this one
  const cfg = knowledgeConfigSchema.parse({ ...DEMO_ENCODER, split, steps: 60 * minutes });
  const run = await trainKnowledgeEncoder([...samples(tree)], dir, cfg, { minutes });
  const report = run.report;
  const r1 = (k: string, c: 'galleries' | 'baseline' | 'hybrid') => (100 * report[c][k]!.rank1).toFixed(1);
  say(
    `   ${split}: ${run.summary.lastStep} steps; R1 % encoder / BM25 / hybrid: ${Object.keys(report.galleries)
      .map((k) => `${k} ${r1(k, 'galleries')} / ${r1(k, 'baseline')} / ${r1(k, 'hybrid')}`)
      .join(', ')}`,
  );
  const losses = readMetrics(join(dir, 'metrics.jsonl'))
    .filter((l) => l.loss !== undefined)
    .map((l) => [l.step, l.loss!] as [number, number]);
  return {
    split,
    dir,
    steps: run.summary.lastStep,
    seconds: run.summary.seconds,
    report,
    alpha: run.hybridAlpha ?? DEFAULT_HYBRID_WEIGHT,
    losses,
  };
}

const SPLIT_TEXT: Record<S1Run['split'], string> = {
  'cross-source':
    'galleries are the texts only the NCI Thesaurus contributes; the encoder trained on the other sources (names of all diseases are the queries)',
  'disease-disjoint': '20 % of the diseases held out whole: the encoder never saw any of their texts',
  'in-distribution':
    "20 % of each disease's attributes held out: same sources and style as training, so it measures memorisation more than understanding",
};

function s1Html(runs: S1Run[], samplesPath: string): string {
  const sections = runs.map((run) => {
    const r = run.report;
    const rows = Object.keys(r.galleries).map((kind) => {
      const pct = (c: 'galleries' | 'baseline' | 'hybrid', m: 'rank1' | 'mAP') =>
        (100 * r[c][kind]![m]).toFixed(1);
      return [
        kind,
        r.galleries[kind]!.n,
        pct('galleries', 'rank1'),
        pct('baseline', 'rank1'),
        pct('hybrid', 'rank1'),
        pct('galleries', 'mAP'),
        pct('baseline', 'mAP'),
        pct('hybrid', 'mAP'),
      ];
    });
    const n = Object.keys(r.galleries).length;
    return `
<h3>${run.split}</h3>
<p>${SPLIT_TEXT[run.split]}. ${run.steps} AdaSP steps in ${run.seconds.toFixed(0)} s. The encoder beats BM25 on Rank-1 in
<b>${galleriesAbove(r, 'galleries')} of ${n}</b> galleries, the hybrid (weight ${run.alpha}) in <b>${galleriesAbove(r, 'hybrid')} of ${n}</b>.
Run folder: <code>${run.dir}</code>.</p>
${table(['gallery', 'queries', 'encoder R1 %', 'BM25 R1 %', 'hybrid R1 %', 'encoder mAP %', 'BM25 mAP %', 'hybrid mAP %'], rows)}
${lineChart([{ label: 'AdaSP loss', points: run.losses, color: '#2ca02c' }], { title: `S1 training (${run.split})`, xLabel: 'step', yLabel: 'loss' })}`;
  });
  const cfg = knowledgeConfigSchema.parse(DEMO_ENCODER);
  return `
<h2>3. Knowledge encoder (S1)</h2>
<p>A ${cfg.layers}-layer BERT (hidden ${cfg.hidden}) with a WordPiece vocabulary built from the training texts, trained <b>from random
initialisation</b> for about a minute on each of three splits, evaluated with disease names as queries and each attribute
kind as a gallery, beside BM25 and the hybrid of both (docs/evaluation.md). Only the cross-source and disease-disjoint
splits say whether the encoder understands text it has not seen in kind. Train for real with
<code>npx kep train text --out runs/text --minutes 60</code> then
<code>npx kep train knowledge --samples ${samplesPath} --out runs/s1 --init runs/text --split cross-source --minutes 25</code>
(docs/knowledge-encoder.md has the measured tables).</p>
${sections.join('\n')}
`;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run every stage that exists on the shared defaults and write an HTML report')
    .option('--sources <dir>', 'knowledge sources (default: ../shared/data/knowledge, else download)')
    .option('--out <dir>', 'output folder', 'out/demo')
    .option('--steps <n>', 'training steps of the engine check', '150')
    .option('--encoder-minutes <n>', 'wall time of the knowledge-encoder run', '1')
    .option('--slides <dir>', 'whole-slide images for the last stage', '../shared/data/wsi')
    .action(
      async (o: { sources?: string; out: string; steps: string; encoderMinutes: string; slides: string }) => {
        const outDir = resolve(o.out);
        const shared = resolve('../shared/data/knowledge');
        let sources = o.sources ?? (existsSync(shared) ? shared : undefined);
        if (!sources) {
          say('knowledge sources not found locally; downloading them from their public origins');
          await downloadSources({ cacheDir: defaultCacheDir() });
          sources = defaultCacheDir();
        }

        say(`1/5 knowledge tree from ${sources}`);
        const t0 = performance.now();
        const tree = buildTree(sources);
        const treePath = join(outDir, 'knowledge-tree.json');
        saveTree(treePath, tree);
        const samplesPath = join(outDir, 'knowledge-samples.jsonl');
        writeFileAtomic(samplesPath, exportChunks(tree, 'jsonl'));
        const buildSeconds = (performance.now() - t0) / 1000;
        const stats = treeStats(tree);
        say(
          `   ${stats.tissues} tissues, ${stats.diseases} diseases, ${stats.attributesTotal} attributes in ${buildSeconds.toFixed(1)} s`,
        );

        say('2/5 engine check: train a tiny ViT on synthetic images, export it to ONNX, reload it');
        const check = await engineCheck(outDir, Number(o.steps));
        say(
          `   loss ${check.losses[0]![1].toFixed(3)} → ${check.losses.at(-1)![1].toFixed(3)}, held-out accuracy ${check.accBefore.toFixed(2)} → ${check.accAfter.toFixed(2)}, exported ONNX ${check.exportMatches ? 'matches' : 'DIFFERS'}`,
        );

        say(
          `3/5 knowledge encoder: ${o.encoderMinutes} min of S1 training from scratch per split (cross-source, disease-disjoint, in-distribution), then re-identification against BM25 and the hybrid`,
        );
        const s1Runs: S1Run[] = [];
        for (const split of DEMO_SPLITS)
          s1Runs.push(await s1Split(outDir, tree, split, Number(o.encoderMinutes)));
        // The whole-slide stage takes its text tower from the encoder that saw the most of the tree.
        const encoderDir = s1Runs.find((r) => r.split === 'in-distribution')!.dir;
        const kindRows = ATTRIBUTE_KINDS.map((k) => [k, stats.attributes[k], PAPER[k], stats.meanWords[k]]);
        const body = `
<h1>kep demo report</h1>
<p class="note"><b>What ran, on which weights.</b> No pretrained weights were used, and no model here is useful for
pathology yet. The knowledge tree was built from the open sources below. The engine check trained a
tiny ViT <i>from random initialisation</i> on synthetic images (class = the brighter colour channel),
only to show that training, checkpoints and ONNX export work end to end on this machine. The knowledge
encoder was trained <i>from random initialisation</i> for about a minute on each of three splits, a fraction of a real run.
Real weights load from their own files: <code>npx kep export onnx --model kep-16 --weights CHECKPOINT</code>
(ViT-B/16, CLIP ViT-B/32, BiomedCLIP, CTransPath, BiomedBERT folders, KEP checkpoints; see docs/models.md
and docs/weights.md). Vision–language pretraining ran on generated images only (no image–caption
collection is reachable here), and the whole-slide stage used an <i>untrained</i> image tower: its
heatmaps show the machinery, not pathology.</p>

<h2>1. Knowledge tree</h2>
<p>Built from <code>${sources}</code> in ${buildSeconds.toFixed(1)} s: <b>${stats.tissues}</b> tissues,
<b>${stats.diseases}</b> diseases (paper: ${PAPER.diseases}), <b>${stats.attributesTotal}</b> attributes (paper: ${PAPER.total}).
Files: <code>${treePath}</code>, training samples <code>${samplesPath}</code>.</p>
${table(['kind', 'this tree', 'paper (not released)', 'mean words'], kindRows)}
<h3>Per tissue</h3>
${table(
  ['tissue', 'diseases', ...ATTRIBUTE_KINDS],
  stats.perTissue.map((t) => [
    `${t.id} (${t.name})`,
    t.diseases,
    ...ATTRIBUTE_KINDS.map((k) => t.attributes[k]),
  ]),
)}

<h2>2. Engine check</h2>
<p>${check.losses.length} AdamW steps of a ${vitConfigs['vit-tiny-16'].depth}-block ViT (dim ${vitConfigs['vit-tiny-16'].dim}) in
${check.seconds.toFixed(1)} s, each one ONNX Runtime call (forward, backward, update). Held-out accuracy
${check.accBefore.toFixed(2)} before training, <b>${check.accAfter.toFixed(2)}</b> after (chance 0.33).
The exported <code>${join(outDir, 'tiny-vit.onnx')}</code> ${check.exportMatches ? 'reproduces' : '<b>does not reproduce</b>'} the trainer's outputs.</p>
${lineChart([{ label: 'training loss', points: check.losses, color: '#1f77b4' }], { title: 'Tiny ViT on synthetic images', xLabel: 'step', yLabel: 'cross-entropy' })}
`;
        const s1Body = s1Html(s1Runs, samplesPath);
        say('4/5 vision–language pretraining (S2) on generated pairs: KEP against CLIP');
        const s2 = await s2Stage(outDir, say);
        say(
          `   held-out zero-shot accuracy: KEP ${s2.accuracy.kep.toFixed(2)}, CLIP ${s2.accuracy.clip.toFixed(2)} (chance 0.20)`,
        );

        const slidesDir = resolve(o.slides);
        let wsiHtml = '';
        if (existsSync(slidesDir)) {
          say(
            `5/5 whole slides in ${slidesDir}: segment, tile, embed (untrained image tower), score, heatmaps`,
          );
          const wsi = await wsiStage(outDir, tree, encoderDir, slidesDir, say);
          const c = wsi.summary.counts;
          say(`   ${c.done} done, ${c.skipped} already complete, ${c.failed} failed`);
          wsiHtml = wsi.html;
          if (c.failed > 0) process.exitCode = 1;
        } else say(`5/5 skipped: no slides at ${slidesDir} (give --slides DIR)`);

        const reportPath = join(outDir, 'report.html');
        writeFileAtomic(reportPath, page('kep demo report', body + s1Body + s2.html + wsiHtml));
        process.stdout.write(`report: ${reportPath}\n`);
        if (wsiHtml)
          process.stdout.write(
            `view the slides: npx kep serve ${relative(process.cwd(), outDir) || '.'} --tree ${relative(process.cwd(), treePath)} --encoder ${relative(process.cwd(), encoderDir)}\n`,
          );
        if (!check.exportMatches || check.accAfter < 0.6) process.exitCode = 1;
      },
    );
}
