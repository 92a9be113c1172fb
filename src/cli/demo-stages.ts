// The demo's later stages: S2 on generated image–caption pairs (KEP against CLIP), and the
// whole-slide pipeline on the shared slides with the model S2 would start from. Each returns its
// figures and an HTML section; demo.ts runs them in order and writes the report.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readLabelled } from '../data/labelled.ts';
import { readPairs } from '../data/pairs.ts';
import { readPromptFile } from '../data/prompt-sets.ts';
import { COLOURS, writeSyntheticSet } from '../data/synthetic.ts';
import { createModel } from '../embed/model.ts';
import { TextEmbeddingCache } from '../eval/class-embeddings.ts';
import { embedImageFiles } from '../eval/image-features.ts';
import { zeroShotClassify } from '../eval/zeroshot.ts';
import { promptSynonyms } from '../knowledge/query.ts';
import type { KnowledgeTree } from '../knowledge/schema.ts';
import { runWsiBatch } from '../pipeline/wsi-run.ts';
import { labelFileName } from '../pipeline/wsi-run.ts';
import type { RunSummary } from '../pipeline/run-summary.ts';
import { lineChart, table } from '../report/html.ts';
import { readMetrics } from '../train/loop.ts';
import { trainSyntheticWorldEncoder } from '../train/synthetic-encoder.ts';
import { trainVisionLanguage, vlpConfigSchema, writeStartingModel } from '../train/vlp.ts';
import { writeFileAtomic } from '../util/atomic.ts';

const escape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface S2Stage {
  html: string;
  accuracy: { kep: number; clip: number };
}

/** KEP and CLIP trained the same way on generated pairs; zero-shot accuracy on held-out images. */
export async function s2Stage(outDir: string, say: (s: string) => void): Promise<S2Stage> {
  const dir = join(outDir, 's2-generated');
  rmSync(dir, { recursive: true, force: true });
  const opts = { classBy: 'colour', colours: COLOURS } as const;
  const train = await writeSyntheticSet(join(dir, 'train'), { count: 320, seed: 1, ...opts });
  const val = await writeSyntheticSet(join(dir, 'val'), { count: 100, seed: 2, ...opts });
  // The knowledge of this little world: the words for each colour, shape and background.
  const s1Dir = join(dir, 's1');
  await trainSyntheticWorldEncoder(s1Dir);
  const pairs = await readPairs(train.pairs);
  const images = await readLabelled(val.labels);
  const prompts = readPromptFile(val.prompts);
  const accuracy = { kep: 0, clip: 0 };
  const curves: { label: string; points: [number, number][]; color: string }[] = [];
  for (const loss of ['kep', 'clip'] as const) {
    const out = join(dir, `run-${loss}`);
    say(`   ${loss}: 250 steps of batch 32 on ${pairs.size} generated pairs`);
    await trainVisionLanguage(
      { pairs, initText: s1Dir },
      out,
      vlpConfigSchema.parse({
        model: 'kep-tiny',
        loss,
        batch: 32,
        steps: 250,
        lr: 1e-3,
        warmup: 10,
        freezeEpochs: 0,
        evalEvery: 1000,
        checkpointEvery: 1000,
      }),
    );
    curves.push({
      label: `${loss.toUpperCase()} loss`,
      points: readMetrics(join(out, 'metrics.jsonl'))
        .filter((l) => l.loss !== undefined)
        .map((l) => [l.step, l.loss!]),
      color: loss === 'kep' ? '#d62728' : '#1f77b4',
    });
    const model = await createModel({ dir: out });
    const f = await embedImageFiles(
      model,
      images.items.map((i) => i.path),
      { progress: false },
    );
    const r = await zeroShotClassify(
      f.features,
      f.dim,
      f.indices.map((i) => images.items[i]!.label),
      prompts,
      new TextEmbeddingCache(model),
    );
    await model.release();
    accuracy[loss] = r.accuracy.median;
  }
  const html = `
<h2>4. Vision–language pretraining (S2) on generated pairs</h2>
<p>No image–caption collection (OpenPath, Quilt-1M) is reachable here, so S2 runs on generated images:
five colours drawn as three shapes on two backgrounds, with captions that describe them in varied words
("a crimson disc on a pale background"). A tiny knowledge encoder first learns the words of this little world
(S1 on the colour, shape and background synonyms); then KEP and plain CLIP train the test-sized model
<code>kep-tiny</code> from that encoder for the same 250 steps, KEP with its frozen knowledge tower. Zero-shot
accuracy on ${images.items.length} held-out images, median over ${prompts.length} prompt sets whose class phrases use other synonyms
than the captions (chance 0.20):</p>
${table(
  ['training', 'held-out zero-shot accuracy'],
  [
    ['KEP (image–text + 0.3 × text–knowledge)', accuracy.kep.toFixed(2)],
    ['CLIP (image–text only)', accuracy.clip.toFixed(2)],
  ],
)}
<p>The knowledge term keeps the text tower's synonyms together; without it the text tower drifts from what S1
taught it. The same command trains on real pairs: <code>npx kep train vlp --pairs PAIRS.csv --root IMAGES
--model kep-16 --init-text runs/s1 --out runs/kep16</code> (docs/vision-language-training.md). Run folders:
<code>${dir}</code>.</p>
${lineChart(curves, { title: 'S2 training loss on generated pairs', xLabel: 'step', yLabel: 'loss' })}
`;
  return { html, accuracy };
}

export interface WsiStage {
  html: string;
  summary: RunSummary;
}

const SLIDE_CLASSES = ['head and neck squamous cell carcinoma', 'melanoma', 'basal cell carcinoma'];
const TEMPLATES = [
  'CLASSNAME.',
  'a histopathology image of CLASSNAME.',
  'an H&E stained section of CLASSNAME.',
];

/** Segment, tile, embed and score the shared slides with the model S2 would start from. */
export async function wsiStage(
  outDir: string,
  tree: KnowledgeTree,
  encoderDir: string,
  slidesDir: string,
  say: (s: string) => void,
): Promise<WsiStage> {
  const modelDir = join(outDir, 'kep-ctp-before-s2');
  rmSync(modelDir, { recursive: true, force: true });
  await writeStartingModel(modelDir, { model: 'kep-ctp', initText: encoderDir });
  // One prompt set whose classes are template ensembles over the tree's names and synonyms.
  const classnames: Record<string, string[]> = {};
  for (const p of promptSynonyms(tree, SLIDE_CLASSES, 5))
    classnames[p.className] = [p.className, ...p.synonyms.filter((s) => s !== p.className)];
  const promptsPath = join(outDir, 'slide-prompts.json');
  writeFileAtomic(promptsPath, `${JSON.stringify({ 0: { classnames, templates: TEMPLATES } }, null, 2)}\n`);
  const wsiOut = join(outDir, 'wsi');
  const { summary } = await runWsiBatch({
    input: slidesDir,
    out: wsiOut,
    model: { dir: modelDir },
    prompts: promptsPath,
    loadModel: createModel,
    log: (l) => say(`   ${l}`),
  });
  const rel = (p: string): string => relative(outDir, p);
  const rows = summary.slides.map((s) => [
    s.slide,
    s.status,
    s.n_patches ?? '–',
    s.seconds.toFixed(1),
    s.prediction ?? '–',
    s.error ?? '',
  ]);
  const figures = summary.slides
    .filter((s) => s.status === 'done' || s.status === 'skipped')
    .map((s) => {
      const dir = join(wsiOut, s.slide);
      const imgs = [
        ['overview (tissue contours, patch grid)', join(dir, 'overview.png')],
        ...SLIDE_CLASSES.map((c) => [`score: ${c}`, join(dir, `heatmap-${labelFileName(c)}.png`)]),
      ].filter(([, p]) => existsSync(p!));
      return `<h3>${escape(s.slide)}</h3><div style="display:flex;flex-wrap:wrap;gap:12px">${imgs
        .map(
          ([caption, p]) =>
            `<figure><img src="${escape(rel(p!))}" alt="${escape(caption!)}" style="max-width:320px"><figcaption>${escape(caption!)}</figcaption></figure>`,
        )
        .join('')}</div>`;
    })
    .join('\n');
  const classRows = Object.entries(classnames).map(([c, phrases]) => [c, phrases.join(' | ')]);
  const model = JSON.parse(readFileSync(join(modelDir, 'kep-model.json'), 'utf8')) as { origin: string };
  const html = `
<h2>5. Whole slides: segmented, tiled, embedded and scored</h2>
<p class="note"><b>Untrained image tower.</b> The slides ran through <code>kep wsi run</code> with KEP-CTP as S2 would
start it: the CTransPath image tower with <b>random weights</b> and the knowledge encoder of stage 3 as text tower
(${escape(model.origin)}). Segmentation, patching, reading and the heatmap machinery are real; the scores and
predictions are <b>meaningless</b> until real weights are loaded: <code>npx kep wsi run SLIDES --out OUT --model-dir
runs/kep16</code> after S2, or a released checkpoint with <code>--model kep-ctp --weights KEP_CHECKPOINT</code> (its key map is
built in; docs/wsi.md, docs/weights.md).</p>
<p>Slides from <code>${escape(slidesDir)}</code>, 256-px patches at 20× (CLAM's defaults), class embeddings from the
tree's names and synonyms in ${TEMPLATES.length} templates, slide scores by top-K pooling. Outputs per slide in
<code>${escape(wsiOut)}</code> (features.h5, tissue.geojson, overview.png, heatmaps, scores.json); run summary in
<code>${escape(join(wsiOut, 'summary.json'))}</code>.</p>
${table(['slide', 'status', 'patches', 'seconds', 'prediction (untrained)', 'error'], rows)}
${table(['class', 'phrases from the knowledge tree'], classRows)}
${figures}
`;
  return { html, summary };
}
