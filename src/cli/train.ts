// `kep train knowledge`, `kep eval knowledge` and `kep knowledge link`: the knowledge encoder (S1).
import { type Command, Option } from 'commander';
import { resolve } from 'node:path';
import { buildGalleries } from '../eval/galleries.ts';
import { type HybridReport, evaluateWithHybrid } from '../eval/hybrid.ts';
import { LINK_RANKERS, type LinkRanker, linkText } from '../eval/link.ts';
import { formatReidTable } from '../eval/table.ts';
import { samples as treeSamples } from '../knowledge/export.ts';
import { loadTree } from '../knowledge/tree-io.ts';
import { SPLITS, type SplitName, splitSamples } from '../train/held-out-splits.ts';
import { KnowledgeEncoder, knowledgeConfigSchema, trainKnowledgeEncoder } from '../train/knowledge.ts';
import { readSamples } from '../train/samples.ts';
import { readSettings } from './config-file.ts';
import { positive } from './arguments.ts';
import { commandGroup } from './groups.ts';
/** What every part of registerTrainCommands shares. */
function trainCommandsSetup(program: Command) {
  const train = commandGroup(program, 'train', 'training runs');

  const knowledge = commandGroup(
    program,
    'knowledge',
    'the pathology knowledge tree: tissues → diseases → attributes',
  );
  return { program, train, knowledge };
}
type TrainCommandsContext = ReturnType<typeof trainCommandsSetup>;

function trainCommandsPart1(ctx: TrainCommandsContext): void {
  const { train } = ctx;
  train
    .command('knowledge')
    .description('train a knowledge encoder on samples (JSONL from `kep knowledge export --format jsonl`)')
    .requiredOption('--samples <file>', 'samples JSONL: {"text", "label", "kind"} per line')
    .requiredOption(
      '--out <dir>',
      'run folder: vocabulary, checkpoints, metrics, summary; an existing run resumes',
    )
    .option('--config <file>', 'JSON with settings to override (see docs/knowledge-encoder.md)')
    .option('--minutes <n>', 'stop after this much wall time, with a checkpoint and an evaluation', positive)
    .option('--steps <n>', 'optimiser steps of the whole run', positive)
    .option('--loss <name>', 'adasp | triplet')
    .option('--init <dir>', 'start from a pretrained Hugging Face BERT folder (config.json, vocab, weights)')
    .option('--seed <n>', 'seed of the split, sampler and initialisation', Number)
    .addOption(
      new Option('--split <name>', 'texts held out for evaluation (docs/evaluation.md#splits)').choices([
        ...SPLITS,
      ]),
    )
    .option('--holdout-source <family>', 'the source family the cross-source split holds out (default ncit)')
    .action(
      async (o: {
        samples: string;
        out: string;
        config?: string;
        minutes?: number;
        steps?: number;
        loss?: string;
        seed?: number;
        init?: string;
        split?: SplitName;
        holdoutSource?: string;
      }) => {
        const config = readSettings(knowledgeConfigSchema, o.config, {
          steps: o.steps,
          loss: o.loss,
          seed: o.seed,
          init: o.init ? resolve(o.init) : undefined,
          split: o.split,
          holdoutSource: o.holdoutSource,
        });
        const data = await readSamples(o.samples);
        const run = await trainKnowledgeEncoder(data, resolve(o.out), config, {
          samplesFile: o.samples,
          ...(o.minutes !== undefined ? { minutes: o.minutes } : {}),
        });
        process.stdout.write(`split: ${config.split}\n${formatReidTable(run.report)}\n`);
        process.stdout.write(
          `trained steps ${run.summary.firstStep}→${run.summary.lastStep} in ${run.summary.seconds.toFixed(0)} s (stopped by ${run.summary.stoppedBy}); encoder in ${resolve(o.out)}\n`,
        );
      },
    );
}

function trainCommandsPart2(ctx: TrainCommandsContext): void {
  const { program } = ctx;

  commandGroup(program, 'eval', 'evaluations')
    .command('knowledge')
    .description("re-identification of a samples file's names among its other texts: encoder, BM25, hybrid")
    .requiredOption('--encoder <dir>', 'a folder written by `kep train knowledge`')
    .requiredOption('--samples <file>', 'samples JSONL (any: the encoder need not have seen it)')
    .addOption(
      new Option(
        '--split <name>',
        "all: every line is evaluation data; otherwise the held-out part of that split of the file (the encoder's seed and fraction)",
      )
        .choices(['all', ...SPLITS])
        .default('all'),
    )
    .option('--holdout-source <family>', "the cross-source split's held-out family (default: the encoder's)")
    .option(
      '--json',
      'one JSON object {"galleries": …, "baseline": …, "hybrid": …, "hybridWeight": …}',
      false,
    )
    .option('--seed <n>', 'seed of the prompt templates', Number, 0)
    .action(
      async (o: {
        encoder: string;
        samples: string;
        split: 'all' | SplitName;
        holdoutSource?: string;
        json: boolean;
        seed: number;
      }) => {
        const encoder = await KnowledgeEncoder.load(resolve(o.encoder));
        const data = await readSamples(o.samples);
        const c = encoder.config;
        const holdoutSource = o.holdoutSource ?? c.holdoutSource;
        if (
          o.split !== 'all' &&
          (o.split !== c.split || (o.split === 'cross-source' && holdoutSource !== c.holdoutSource))
        )
          process.stderr.write(
            `warning: ${o.encoder} was trained with --split ${c.split}${c.split === 'cross-source' ? ` --holdout-source ${c.holdoutSource}` : ''}; its training may have seen these galleries\n`,
          );
        const evaluated =
          o.split === 'all'
            ? data
            : splitSamples(data, {
                split: o.split,
                holdoutSource,
                fraction: c.heldOut,
                seed: c.seed,
                file: o.samples,
              }).heldOut;
        const sets = buildGalleries(evaluated, { seed: o.seed });
        const report: HybridReport & { hybridWeight?: typeof encoder.hybrid } = await evaluateWithHybrid(
          (t) => encoder.embed(t),
          sets,
          encoder.hybrid.alpha,
        );
        await encoder.release();
        if (o.json) process.stdout.write(`${JSON.stringify({ ...report, hybridWeight: encoder.hybrid })}\n`);
        else
          process.stdout.write(
            `${formatReidTable(report)}hybrid weight ${encoder.hybrid.alpha} (${encoder.hybrid.fitted ? 'fitted at training' : 'default: the folder has no hybrid.json'})\n`,
          );
      },
    );
}

function trainCommandsPart3(ctx: TrainCommandsContext): void {
  const { knowledge } = ctx;
  knowledge
    .command('link')
    .description('the diseases of a tree nearest to a free-text diagnosis: encoder, BM25 or their hybrid')
    .argument('<text>', 'free text, e.g. "ca of the breast, lobular type"')
    .option('--encoder <dir>', 'a folder written by `kep train knowledge` (not needed by --ranker lexical)')
    .requiredOption('--tree <file>', 'knowledge tree whose names and synonyms are the candidates')
    .addOption(
      new Option(
        '--ranker <name>',
        'dense (the encoder), lexical (BM25) or hybrid (default: hybrid when the encoder has a fitted weight, else dense)',
      ).choices([...LINK_RANKERS]),
    )
    .option('--top <n>', 'how many diseases to print', positive, 5)
    .option('--json', 'as JSON', false)
    .action(
      async (
        text: string,
        o: { encoder?: string; tree: string; ranker?: LinkRanker; top: number; json: boolean },
      ) => {
        if (!o.encoder && o.ranker !== 'lexical')
          throw new Error(
            `--encoder DIR is needed${o.ranker ? ` by --ranker ${o.ranker}` : ''} (or --ranker lexical)`,
          );
        const tree = loadTree(o.tree);
        const candidates = [...treeSamples(tree, ['name', 'synonym'])];
        const names = new Map([...treeSamples(tree, ['name'])].map((s) => [s.label, s.text]));
        const encoder = o.encoder ? await KnowledgeEncoder.load(resolve(o.encoder)) : undefined;
        const ranker = o.ranker ?? (encoder?.hybrid.fitted ? 'hybrid' : 'dense');
        try {
          const hits = await linkText(text, candidates, {
            ranker,
            top: o.top,
            ...(encoder ? { encode: (t: string[]) => encoder.embed(t), alpha: encoder.hybrid.alpha } : {}),
          });
          const rows = hits.map((h) => ({
            label: h.label,
            name: names.get(h.label) ?? '',
            score: Number(h.score.toFixed(4)),
            via: h.via,
          }));
          if (o.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
          else
            for (const r of rows)
              process.stdout.write(
                `${r.score.toFixed(3)}  ${r.label.padEnd(16)} ${r.name}${r.via !== r.name ? `  (via "${r.via}")` : ''}\n`,
              );
        } finally {
          await encoder?.release();
        }
      },
    );
}

export function registerTrainCommands(program: Command): void {
  const ctx = trainCommandsSetup(program);
  trainCommandsPart1(ctx);
  trainCommandsPart2(ctx);
  trainCommandsPart3(ctx);
}
