// `kep wsi run DIR_OR_CSV --out OUT`: the whole-slide batch (src/pipeline/wsi-run.ts). docs/wsi.md.
import { type Command, Option } from 'commander';
import { createModel } from '../embed/model.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import { UNTRAINED_WARNING } from '../eval/zeroshot-report.ts';
import { runQueuedBatch } from '../pipeline/queue-run.ts';
import { DEFAULT_ATTEMPTS } from '../pipeline/slide-queue.ts';
import { runWsiBatch, type WsiRunOptions } from '../pipeline/wsi-run.ts';
import { OVERVIEW_SIDE } from '../wsi/overview.ts';
import { commandGroup } from './groups.ts';
import { type ModelOptions, imageNormOption, modelSource, precisionOption } from './vl.ts';
import { addPatchOptions, addSegmentOptions, patchOptionsFrom, segmentOptionsFrom } from './wsi.ts';
import { kList, positiveInt, threadCount } from './arguments.ts';
import { batchOutcome } from './outcome.ts';

export interface WsiRunDeps {
  loadModel: (source: ModelSource) => Promise<VisionLanguageModel>;
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaults: WsiRunDeps = {
  loadModel: createModel,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

type RunOptions = Parameters<typeof segmentOptionsFrom>[0] &
  Parameters<typeof patchOptionsFrom>[0] &
  ModelOptions & {
    out: string;
    modelDir?: string;
    prompts?: string;
    labels?: string;
    root?: string;
    topK: number[];
    pooling: 'sum' | 'mean';
    batch: number;
    workers?: number;
    overviewSize: number;
    heatmapSize: number;
    colormap: 'viridis' | 'turbo';
    retryFailed: boolean;
    json: boolean;
    progress: boolean;
    queue?: string;
    wait: boolean;
    attempts: number;
    retryDelayMs: number;
    queuePollMs: number;
  };

export function registerWsiRunCommand(program: Command, deps: Partial<WsiRunDeps> = {}): void {
  const { loadModel, out, err } = { ...defaults, ...deps };
  const cmd = commandGroup(
    program,
    'wsi',
    'whole-slide images: read, segment, patch, embed, zero-shot subtyping',
  )
    .command('run')
    .description(
      'segment → patch → embed → subtype many slides; per slide OUT/<slide>/{tissue.geojson,overview.png,features.h5,…}, ' +
        'OUT/summary.json and summary.md; slides already complete are skipped',
    )
    .argument(
      '<dir|list>',
      'a folder of slides, or a slide list (CSV/TSV with a slide/path column, optional label)',
    )
    .requiredOption('--out <dir>', 'output folder')
    .option('--model <dir|name>', 'a folder written by `kep train vlp`, or a registry name', 'kep-16')
    .option('--model-dir <dir>', 'a kep model folder (same as --model DIR)')
    .option('--weights <file>', 'checkpoint for a registry model (without one the model is UNTRAINED)')
    .option('--vocab <file>', "vocab.txt (or tokenizer folder) of a registry model's text tower")
    .option('--key-map <name>', "key map of the checkpoint (default: the registry entry's)")
    .addOption(imageNormOption())
    .addOption(precisionOption())
    .option('--threads <n>', 'ONNX Runtime intra-op threads', threadCount('--threads', 1))
    .option('--prompts <file>', 'prompt sets: score each slide and draw per-class heatmaps')
    .option('--labels <file>', 'slide,label table (or a label column in the slide list): balanced accuracy')
    .option('--root <dir>', 'folder that relative paths in the slide list are resolved against')
    .option('--top-k <list>', 'K values of top-K pooling', kList, [1, 5, 10, 50])
    .addOption(new Option('--pooling <how>', 'top-K pooling').choices(['mean', 'sum']).default('mean'))
    .option('--batch <n>', 'patches per model call', positiveInt, 32)
    .option(
      '--workers <n>',
      'patch reader threads (0: main thread; default cores − 1, at most 4)',
      threadCount('--workers', 0),
    )
    .option('--overview-size <px>', 'longer side of overview.png', positiveInt, OVERVIEW_SIDE)
    .option('--heatmap-size <px>', 'longer side of the heatmaps (one PNG per class)', positiveInt, 1024)
    .addOption(
      new Option('--colormap <name>', 'heatmap colours').choices(['viridis', 'turbo']).default('viridis'),
    )
    .option('--retry-failed', 'retry slides that failed in an earlier run with the same inputs', false)
    .option('--json', 'print summary.json to stdout', false)
    .option('--no-progress', 'no progress bars')
    .option(
      '--queue <url>',
      'redis://HOST:PORT[/DB]: enqueue one job per slide for `kep worker` processes and follow them (docs/deployment.md)',
    )
    .option('--no-wait', 'with --queue: enqueue and return without following the batch')
    .option(
      '--attempts <n>',
      'with --queue: attempts per slide before it is failed',
      positiveInt,
      DEFAULT_ATTEMPTS,
    )
    .addOption(
      new Option('--retry-delay-ms <ms>', 'first retry delay, doubled each attempt')
        .argParser(positiveInt)
        .default(5000)
        .hideHelp(),
    )
    .addOption(
      new Option('--queue-poll-ms <ms>', 'follower poll interval')
        .argParser(positiveInt)
        .default(1000)
        .hideHelp(),
    );
  addPatchOptions(addSegmentOptions(cmd)).action(async (input: string, o: RunOptions) => {
    const source = modelSource({ ...o, model: o.modelDir ?? o.model });
    const options: WsiRunOptions = {
      input,
      out: o.out,
      ...(o.root ? { root: o.root } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
      model: source,
      ...(o.prompts ? { prompts: o.prompts } : {}),
      segment: segmentOptionsFrom(o),
      patch: patchOptionsFrom(o),
      ks: o.topK,
      pooling: o.pooling,
      batchSize: o.batch,
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      overviewSize: o.overviewSize,
      heatmapSize: o.heatmapSize,
      colormap: o.colormap,
      retryFailed: o.retryFailed,
      ...(o.progress ? {} : { progress: false }),
      loadModel,
      log: (line) => err(`kep: ${line}\n`),
    };
    const result = o.queue
      ? await runQueuedBatch({
          ...options,
          queue: o.queue,
          wait: o.wait,
          attempts: o.attempts,
          backoffMs: o.retryDelayMs,
          pollMs: o.queuePollMs,
        })
      : { waited: true as const, ...(await runWsiBatch(options)) };
    if (!result.waited) {
      err(
        `kep: ${result.total} slides in the queue (${result.added} added now); follow with \`kep wsi status --queue ${o.queue}\`\n`,
      );
      return;
    }
    const { summary, subtyping } = result;
    const c = summary.counts;
    if (summary.untrained) err(`kep: ⚠ ${UNTRAINED_WARNING} (${summary.model_source})\n`);
    err(
      `kep: ${summary.slides.length} slide${summary.slides.length === 1 ? '' : 's'}: ${c.done} done, ${c.skipped} skipped, ${c.failed} failed, ${c.locked} locked` +
        ` → ${o.out}/summary.md\n`,
    );
    for (const s of summary.slides) {
      if (s.status === 'failed' || s.status === 'locked') err(`kep:   ${s.slide}: ${s.error}\n`);
      if (s.note) err(`kep:   ${s.slide}: ${s.note}\n`);
    }
    // Exit status (src/cli/outcome.ts): 1 when every slide failed, 2 when some did.
    batchOutcome(summary.slides.length, c.failed);
    if (subtyping)
      for (const b of subtyping.balancedAccuracy)
        err(
          `kep: K=${b.k}: balanced accuracy median ${b.summary.median.toFixed(3)} [${b.summary.q1.toFixed(3)}, ${b.summary.q3.toFixed(3)}]\n`,
        );
    if (o.json) out(JSON.stringify(summary) + '\n');
  });
}
