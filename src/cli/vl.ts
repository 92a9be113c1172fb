// Commands that use a trained vision–language model: `kep eval zeroshot`, `kep eval retrieval`,
// `kep embed images|texts`, `kep classify`, and `kep data synthetic` (a generated image–caption
// set in the published formats, to try them on). docs/zero-shot.md and docs/datasets.md.
import { Command, Option } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { type LabelFrom, readLabelled } from '../data/labelled.ts';
import { readPairs } from '../data/pairs.ts';
import { poolPromptSets, readPromptFile } from '../data/prompt-sets.ts';
import { type ClassBy, writeSyntheticSet } from '../data/synthetic.ts';
import { createModel } from '../embed/model.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import {
  TextEmbeddingCache,
  argmaxRows,
  classEmbeddings,
  cosineScores,
  softmaxRows,
} from '../eval/class-embeddings.ts';
import { parseClassList, promptSetFromClassNames } from '../eval/class-prompts.ts';
import { writeEmbeddings } from '../eval/embeddings-file.ts';
import { embedImageFiles } from '../eval/image-features.ts';
import { type TableMetric, readReport, resultsTable } from '../eval/results-table.ts';
import { crossModalRetrieval } from '../eval/retrieval.ts';
import { zeroShotClassify } from '../eval/zeroshot.ts';
import { UNTRAINED_WARNING, writeZeroShotReport, zeroShotSummary } from '../eval/zeroshot-report.ts';
import { loadTree } from '../knowledge/tree-io.ts';
import { PRECISIONS, type Precision } from '../engine/quantize.ts';
import { IMAGE_NORMS, type ImageNorm } from '../models/registry.ts';
import { textLengthProblem } from '../text/limits.ts';
import { removeStaleTemps } from '../util/atomic.ts';
import { createProgress } from '../util/progress.ts';
import { commandGroup } from './groups.ts';
import { kList, positiveInt, threadCount, wholeNumber } from './arguments.ts';
import { checkInputs } from './outcome.ts';

export type ModelLoader = (source: ModelSource) => Promise<VisionLanguageModel>;

/** What the commands depend on from outside; tests give a test model and collect the output. */
export interface VisionLanguageDeps {
  loadModel: ModelLoader;
  /** Results (stdout). */
  out: (text: string) => void;
  /** Warnings and notes (stderr). */
  err: (text: string) => void;
}

const defaultDeps: VisionLanguageDeps = {
  loadModel: createModel,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** The model flags every command that loads a model shares (modelSource reads them). */
export interface ModelOptions {
  model: string;
  weights?: string;
  vocab?: string;
  keyMap?: string;
  imageNorm?: ImageNorm;
  precision?: Precision;
  threads?: number;
}

function withModelOptions(c: Command): Command {
  return c
    .requiredOption(
      '--model <dir|name>',
      'a folder written by `kep train vlp`, or a registry name (kep-16, kep-tiny, …)',
    )
    .option(
      '--weights <file>',
      'checkpoint for a registry name (.safetensors, .pt/.bin, or a Hugging Face folder)',
    )
    .option('--vocab <file>', "vocab.txt (or tokenizer folder) of a registry model's text tower")
    .option('--key-map <name>', "key map of the checkpoint (default: the registry entry's)")
    .addOption(imageNormOption())
    .addOption(precisionOption())
    .option('--threads <n>', 'ONNX Runtime intra-op threads', threadCount('--threads', 1));
}

/** `--image-norm`: KEP-CTP's authors trained with CLIP's mean/std and evaluated with ImageNet's. */
export function imageNormOption(): Option {
  return new Option(
    '--image-norm <name>',
    "image normalisation instead of the model's own (KEP-CTP: imagenet by default, clip as its training used)",
  ).choices(Object.keys(IMAGE_NORMS));
}

/** `--precision`: int8 runs the transformer blocks' linear layers on ONNX Runtime's int8 kernels
 * (docs/engine.md, BENCHMARKS.md); outputs record it and whole-slide keys tell the runs apart. */
export function precisionOption(): Option {
  return new Option(
    '--precision <p>',
    "arithmetic of the towers' linear layers: fp32, or int8 (faster on CPU, embeddings within cosine 0.99 of fp32)",
  )
    .choices([...PRECISIONS])
    .default('fp32');
}

/** A folder that exists is a model folder; anything else is a registry name. */
export function modelSource(o: ModelOptions): ModelSource {
  const isDir = existsSync(o.model) && statSync(o.model).isDirectory();
  return {
    ...(isDir ? { dir: resolve(o.model) } : { name: o.model }),
    ...(o.weights ? { weights: o.weights } : {}),
    ...(o.vocab ? { vocab: o.vocab } : {}),
    ...(o.keyMap ? { keyMap: o.keyMap } : {}),
    ...(o.imageNorm ? { imageNorm: o.imageNorm } : {}),
    ...(o.precision && o.precision !== 'fp32' ? { precision: o.precision } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
  };
}

/** Non-empty lines of a file (one image path or one text per line). */
function listFile(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.replace(/^\uFEFF/, ''))
    .filter((l) => l.trim() !== '');
}

const DEFAULT_TREE = 'out/demo/knowledge-tree.json';
/** What every part of registerVisionLanguageCommands shares. */
function vlCommandsSetup(program: Command, deps: Partial<VisionLanguageDeps> = {}) {
  const { loadModel: load, out, err } = { ...defaultDeps, ...deps };
  const warnIfUntrained = (model: VisionLanguageModel): void => {
    if (model.untrained) err(`kep: ⚠ ${UNTRAINED_WARNING} (${model.source})\n`);
  };
  // Each unreadable image named, then the shared rule (src/cli/outcome.ts): all unreadable → an
  // error before anything is written; some → the rest are used and the command exits 2.
  const reportUnreadable = (
    unreadable: readonly { path: string; reason: string }[],
    total: number,
    what: string,
  ): void => {
    for (const u of unreadable.slice(0, 20)) err(`kep:   unreadable: ${u.path}: ${u.reason}\n`);
    if (unreadable.length > 20) err(`kep:   … and ${unreadable.length - 20} more\n`);
    checkInputs(what, total, unreadable, err);
  };
  const evalGroup = commandGroup(program, 'eval', 'evaluations');

  const embed = commandGroup(program, 'embed', 'embeddings of images or texts, written to disk for reuse');
  return { program, deps, load, out, err, warnIfUntrained, reportUnreadable, evalGroup, embed };
}
type VlCommandsContext = ReturnType<typeof vlCommandsSetup>;

function vlCommandsPart1(ctx: VlCommandsContext): void {
  const { load, out, err, warnIfUntrained, reportUnreadable, evalGroup } = ctx;

  withModelOptions(
    evalGroup
      .command('zeroshot')
      .description(
        'zero-shot patch classification over prompt sets: weighted F1 and balanced accuracy, median and quartiles',
      ),
  )
    .requiredOption('--images <file|dir>', 'labels CSV (image_name,label) or a folder of class subfolders')
    .option('--root <dir>', 'image root for the labels file (default: its folder)')
    .requiredOption(
      '--prompts <file>',
      'prompt sets ({"0": {"classnames": {LABEL: phrase}, "templates": …}, …})',
    )
    .option('--ensemble', 'pool every set into one template ensemble (one figure instead of a median)', false)
    .option('--out <dir>', 'write a report: zeroshot.json, zeroshot.md, confusion.svg/png')
    .option('--json', 'print one JSON object {wF1, bacc, n_sets, …}', false)
    .option('--batch <n>', 'images per model call', positiveInt, 32)
    .option('--workers <n>', 'image decoding threads (0: main thread)', threadCount('--workers', 0))
    .option('--image-column <name>', 'image column of the labels file')
    .option('--label-column <name>', 'label column of the labels file')
    .addOption(
      new Option(
        '--label-from <which>',
        'for a folder of images: the class is the top subfolder or the parent folder',
      )
        .choices(['top', 'parent'])
        .default('top'),
    )
    .option(
      '--name <name>',
      'name of this run in the report and in `kep eval table` (default: the --model value)',
    )
    .action(
      async (
        o: ModelOptions & {
          images: string;
          root?: string;
          prompts: string;
          ensemble: boolean;
          out?: string;
          json: boolean;
          batch: number;
          workers?: number;
          imageColumn?: string;
          labelColumn?: string;
          labelFrom: LabelFrom;
          name?: string;
        },
      ) => {
        // Inputs are checked before the model loads: a typo should not cost a model load.
        const data = await readLabelled(o.images, {
          ...(o.root ? { root: o.root } : {}),
          ...(o.imageColumn ? { imageColumn: o.imageColumn } : {}),
          ...(o.labelColumn ? { labelColumn: o.labelColumn } : {}),
          labelFrom: o.labelFrom,
        });
        const fileSets = readPromptFile(o.prompts);
        const sets = o.ensemble ? [poolPromptSets(fileSets)] : fileSets;
        const model = await load(modelSource(o));
        try {
          warnIfUntrained(model);
          const t0 = performance.now();
          const f = await embedImageFiles(
            model,
            data.items.map((i) => i.path),
            { batchSize: o.batch, ...(o.workers !== undefined ? { workers: o.workers } : {}) },
          );
          reportUnreadable(f.unreadable, data.items.length, 'images');
          const t1 = performance.now();
          const texts = new TextEmbeddingCache(model);
          const progress = createProgress({ label: 'prompt sets', total: sets.length });
          const result = await zeroShotClassify(
            f.features,
            f.dim,
            f.indices.map((i) => data.items[i]!.label),
            sets,
            texts,
            { source: o.prompts, onSet: (done) => progress.update(done) },
          );
          progress.stop();
          const t2 = performance.now();
          const meta = {
            name: o.name ?? o.model,
            model: {
              name: model.name,
              source: model.source,
              untrained: model.untrained,
              precision: model.precision ?? 'fp32',
            },
            images: resolve(o.images),
            root: data.root,
            prompts: resolve(o.prompts),
            ensemble: o.ensemble,
            unreadable: f.unreadable,
            texts: { embedded: texts.embedded, reused: texts.reused },
            seconds: { images: (t1 - t0) / 1000, prompts: (t2 - t1) / 1000 },
          };
          const summary = zeroShotSummary(result, meta);
          if (o.out) {
            const files = await writeZeroShotReport(resolve(o.out), result, meta);
            err(`kep: report in ${files.markdown} (and .json, confusion.png)\n`);
          }
          if (o.json) out(`${JSON.stringify(summary)}\n`);
          else {
            const q = (x: { median: number; q1: number; q3: number }) =>
              `${x.median.toFixed(3)} (q1 ${x.q1.toFixed(3)}, q3 ${x.q3.toFixed(3)})`;
            out(
              `${model.untrained ? `⚠ ${UNTRAINED_WARNING}\n` : ''}` +
                `${result.n_images} images, ${result.n_sets} prompt set(s), model ${model.name}\n` +
                `weighted F1        ${q(result.wF1)}\nbalanced accuracy  ${q(result.bacc)}\n`,
            );
          }
        } finally {
          await model.release();
        }
      },
    );
}

function vlCommandsPart2(ctx: VlCommandsContext): void {
  const { load, out, err, warnIfUntrained, reportUnreadable, evalGroup, embed } = ctx;

  withModelOptions(
    evalGroup
      .command('retrieval')
      .description('image→text and text→image Recall@K over 1:1 image–caption pairs'),
  )
    .requiredOption('--pairs <file>', 'image–caption manifest (image_name|caption, tab/comma, or JSONL)')
    .option('--root <dir>', 'image root (default: the manifest folder)')
    .option('--k <list>', 'cut-offs', kList, [1, 10, 50])
    .option('--json', 'print one JSON object', false)
    .option('--batch <n>', 'images per model call', positiveInt, 32)
    .option('--workers <n>', 'image decoding threads (0: main thread)', threadCount('--workers', 0))
    .action(
      async (
        o: ModelOptions & {
          pairs: string;
          root?: string;
          k: number[];
          json: boolean;
          batch: number;
          workers?: number;
        },
      ) => {
        const pairs = await readPairs(o.pairs, o.root ? { root: o.root } : {});
        const model = await load(modelSource(o));
        try {
          warnIfUntrained(model);
          const f = await embedImageFiles(model, pairs, {
            batchSize: o.batch,
            ...(o.workers !== undefined ? { workers: o.workers } : {}),
          });
          reportUnreadable(f.unreadable, pairs.size, 'images');
          // A pair whose image is unreadable leaves with its caption: the set stays 1:1.
          const captions = f.indices.map((i) => pairs.caption(i));
          const texts = await new TextEmbeddingCache(model).embed(captions);
          const r = crossModalRetrieval(f.features, texts, f.dim, o.k);
          const summary = {
            ...r,
            n_unreadable: f.unreadable.length,
            model: model.name,
            untrained: model.untrained,
            precision: model.precision ?? 'fp32',
            ...(model.untrained ? { warning: UNTRAINED_WARNING } : {}),
          };
          if (o.json) out(`${JSON.stringify(summary)}\n`);
          else {
            const row = (name: string, rec: Record<string, number>) =>
              `${name}  ${Object.entries(rec)
                .map(([k, v]) => `${k} ${v.toFixed(3)}`)
                .join('  ')}`;
            out(
              `${model.untrained ? `⚠ ${UNTRAINED_WARNING}\n` : ''}${r.n_pairs} pairs, model ${model.name}\n` +
                `${row('image→text', r.image_to_text)}\n${row('text→image', r.text_to_image)}\n`,
            );
          }
        } finally {
          await model.release();
        }
      },
    );

  evalGroup
    .command('table')
    .description('the results table (runs × data sets, median [q1, q3]) from zeroshot.json reports')
    .argument('<reports...>', 'zeroshot.json files written by `kep eval zeroshot --out`')
    .addOption(new Option('--metric <name>', 'metric').choices(['wF1', 'bacc']).default('wF1'))
    .action((files: string[], o: { metric: TableMetric }) => {
      out(resultsTable(files.map(readReport), o.metric));
    });
  withModelOptions(embed.command('images').description('embed image files into a safetensors file'))
    .argument('[images...]', 'image files')
    .option('--list <file>', 'a file with one image path per line')
    .option('--root <dir>', 'folder that relative paths are resolved against (default: the current folder)')
    .requiredOption('--out <file>', 'output .safetensors (embeddings [n, dim] + paths in the metadata)')
    .option('--batch <n>', 'images per model call', positiveInt, 32)
    .option('--workers <n>', 'image decoding threads (0: main thread)', threadCount('--workers', 0))
    .action(
      async (
        images: string[],
        o: ModelOptions & { list?: string; root?: string; out: string; batch: number; workers?: number },
      ) => {
        const paths = [...images, ...(o.list ? listFile(o.list) : [])].map((p) => resolve(o.root ?? '.', p));
        if (paths.length === 0) throw new Error('give image files or --list');
        // The temporaries of an earlier writer of this file that was killed.
        removeStaleTemps(dirname(resolve(o.out)), basename(o.out));
        const model = await load(modelSource(o));
        try {
          warnIfUntrained(model);
          const f = await embedImageFiles(model, paths, {
            batchSize: o.batch,
            ...(o.workers !== undefined ? { workers: o.workers } : {}),
          });
          reportUnreadable(f.unreadable, paths.length, 'images');
          writeEmbeddings(o.out, {
            kind: 'images',
            items: f.indices.map((i) => paths[i]!),
            embeddings: f.features,
            dim: f.dim,
            model: model.name,
            source: model.source,
            untrained: model.untrained,
            precision: model.precision ?? 'fp32',
            unreadable: f.unreadable,
          });
          err(`kep: ${f.indices.length} image embeddings (dimension ${f.dim}) in ${o.out}\n`);
        } finally {
          await model.release();
        }
      },
    );
}

function vlCommandsPart3(ctx: VlCommandsContext): void {
  const { load, err, warnIfUntrained, embed } = ctx;

  withModelOptions(embed.command('texts').description('embed texts into a safetensors file'))
    .argument('[texts...]', 'texts')
    .option('--list <file>', 'a file with one text per line')
    .requiredOption('--out <file>', 'output .safetensors (embeddings [n, dim] + texts in the metadata)')
    .option('--batch <n>', 'texts per model call', positiveInt, 64)
    .action(async (texts: string[], o: ModelOptions & { list?: string; out: string; batch: number }) => {
      const all = [...texts, ...(o.list ? listFile(o.list) : [])];
      if (all.length === 0) throw new Error('give texts or --list');
      all.forEach((t, i) => {
        const problem = textLengthProblem(t);
        if (problem)
          throw new Error(
            `${i < texts.length ? `text argument ${i + 1}` : `${o.list}: text ${i - texts.length + 1}`}: ${problem}`,
          );
      });
      const model = await load(modelSource(o));
      try {
        warnIfUntrained(model);
        const cache = new TextEmbeddingCache(model, o.batch);
        const progress = createProgress({ label: 'texts', total: all.length });
        const parts: Float32Array[] = [];
        for (let s = 0; s < all.length; s += o.batch) {
          parts.push(await cache.embed(all.slice(s, s + o.batch)));
          progress.update(Math.min(all.length, s + o.batch));
        }
        progress.stop();
        const embeddings = new Float32Array(all.length * model.embedDim);
        parts.forEach((p, i) => embeddings.set(p, i * o.batch * model.embedDim));
        writeEmbeddings(o.out, {
          kind: 'texts',
          items: all,
          embeddings,
          dim: model.embedDim,
          model: model.name,
          source: model.source,
          untrained: model.untrained,
          precision: model.precision ?? 'fp32',
          unreadable: [],
        });
        err(`kep: ${all.length} text embeddings (dimension ${model.embedDim}) in ${o.out}\n`);
      } finally {
        await model.release();
      }
    });
}

function vlCommandsPart4(ctx: VlCommandsContext): void {
  const { program, load, out, err, warnIfUntrained, reportUnreadable } = ctx;

  withModelOptions(
    program
      .command('classify')
      .description(
        "zero-shot classification of images into named classes; prompts built from the knowledge tree's synonyms",
      ),
  )
    .argument('<images...>', 'image files')
    .option(
      '--classes <list>',
      'comma-separated class names, e.g. "lung adenocarcinoma, lung squamous cell carcinoma"',
    )
    .option('--prompts <file>', 'use the classes and prompts of a prompt file instead (all its sets pooled)')
    .option('--tree <file>', `knowledge tree for synonyms (default: ${DEFAULT_TREE} when it exists)`)
    .option('--no-tree', 'class names only, no synonyms')
    .option('--max-synonyms <n>', "at most this many of the tree's names per class", positiveInt, 5)
    .option('--top <n>', 'classes to list per image', positiveInt, 3)
    .option('--json', 'one JSON object', false)
    .option('--workers <n>', 'image decoding threads (0: main thread)', threadCount('--workers', 0))
    .action(
      async (
        images: string[],
        o: ModelOptions & {
          classes?: string;
          prompts?: string;
          tree?: string | false;
          maxSynonyms: number;
          top: number;
          json: boolean;
          workers?: number;
        },
      ) => {
        if (!o.classes === !o.prompts) throw new Error('give --classes or --prompts (one of them)');
        let set;
        let info;
        let treeUsed: string | undefined;
        if (o.prompts) {
          set = poolPromptSets(readPromptFile(o.prompts), 'prompts');
        } else {
          const names = parseClassList(o.classes!);
          treeUsed =
            o.tree === false ? undefined : (o.tree ?? (existsSync(DEFAULT_TREE) ? DEFAULT_TREE : undefined));
          if (o.tree !== false && !treeUsed)
            err(
              `kep: no knowledge tree (${DEFAULT_TREE} absent; --tree FILE, or \`kep knowledge build\`): prompts use the class names only\n`,
            );
          ({ set, info } = promptSetFromClassNames(names, treeUsed ? loadTree(treeUsed) : undefined, {
            maxSynonyms: o.maxSynonyms,
          }));
          for (const c of info)
            if (c.match === 'none' || c.match === 'ambiguous')
              err(
                `kep: "${c.label}": ${c.match === 'none' ? 'not in the tree' : 'several diseases match'}; using the name alone${c.suggestions?.length ? ` (closest: ${c.suggestions.map((s) => s.name).join('; ')})` : ''}\n`,
              );
        }
        const paths = images.map((p) => resolve(p));
        const model = await load(modelSource(o));
        try {
          warnIfUntrained(model);
          const f = await embedImageFiles(model, paths, {
            progress: false,
            ...(o.workers !== undefined ? { workers: o.workers } : {}),
          });
          // Every image unreadable: an error (exit 1), each named; some: listed below, exit 2.
          if (f.indices.length === 0) reportUnreadable(f.unreadable, paths.length, 'images');
          else checkInputs('images', paths.length, f.unreadable, () => {});
          const classes = await classEmbeddings(set, new TextEmbeddingCache(model));
          const c = classes.labels.length;
          const scores = cosineScores(f.features, classes);
          const probs = softmaxRows(scores, c, model.logitScale);
          const best = argmaxRows(scores, c);
          const results = f.indices.map((input, row) => {
            const ranked = classes.labels
              .map((label, k) => ({ label, probability: probs[row * c + k]!, cosine: scores[row * c + k]! }))
              .sort((a, b) => b.probability - a.probability);
            return { image: paths[input]!, prediction: classes.labels[best[row]!]!, classes: ranked };
          });
          if (o.json) {
            out(
              `${JSON.stringify({
                model: model.name,
                untrained: model.untrained,
                precision: model.precision ?? 'fp32',
                ...(model.untrained ? { warning: UNTRAINED_WARNING } : {}),
                tree: treeUsed ?? null,
                prompts: info ?? set.classes.map((k) => ({ label: k.label, names: k.names })),
                templates: set.templates.length,
                results,
                unreadable: f.unreadable,
              })}\n`,
            );
          } else {
            if (model.untrained) out(`⚠ ${UNTRAINED_WARNING}\n`);
            for (const r of results)
              out(
                `${r.image}\t${r.prediction}\t${r.classes
                  .slice(0, o.top)
                  .map((k) => `${k.label} ${k.probability.toFixed(3)}`)
                  .join(', ')}\n`,
              );
            for (const u of f.unreadable) out(`${u.path}\tunreadable\t${u.reason}\n`);
          }
        } finally {
          await model.release();
        }
      },
    );
}

function vlCommandsPart5(ctx: VlCommandsContext): void {
  const { program, out } = ctx;

  commandGroup(program, 'data', 'data sets')
    .command('synthetic')
    .description(
      'write a generated image–caption set (coloured shapes) in the published formats, to try training and evaluation on',
    )
    .requiredOption('--out <dir>', 'folder: images/, pairs.csv, labels.csv, prompts.json')
    .option('--count <n>', 'images', positiveInt, 200)
    .option('--seed <n>', 'seed', wholeNumber, 0)
    .option('--size <n>', 'image side in pixels', positiveInt, 40)
    .addOption(
      new Option('--class-by <what>', 'what the label is')
        .choices(['shape', 'colour', 'both'])
        .default('both'),
    )
    .option('--prompt-sets <n>', 'prompt sets in prompts.json', positiveInt, 10)
    .action(
      async (o: {
        out: string;
        count: number;
        seed: number;
        size: number;
        classBy: ClassBy;
        promptSets: number;
      }) => {
        const files = await writeSyntheticSet(resolve(o.out), {
          count: o.count,
          seed: o.seed,
          size: o.size,
          classBy: o.classBy,
          promptSets: o.promptSets,
        });
        out(
          `${files.items.length} images of ${files.classes.length} classes in ${files.dir}: ${files.pairs}, ${files.labels}, ${files.prompts}\n`,
        );
      },
    );
}

export function registerVisionLanguageCommands(
  program: Command,
  deps: Partial<VisionLanguageDeps> = {},
): void {
  const ctx = vlCommandsSetup(program, deps);
  vlCommandsPart1(ctx);
  vlCommandsPart2(ctx);
  vlCommandsPart3(ctx);
  vlCommandsPart4(ctx);
  vlCommandsPart5(ctx);
}
