// `kep train text`: masked-language-model pre-training of the text tower (docs/text-pretraining.md).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { samples as treeSamples } from '../knowledge/export.ts';
import { loadTree } from '../knowledge/tree-io.ts';
import { type CorpusFile, corpusFilesIn, readCorpusFile } from '../text/corpus.ts';
import { readSamples } from '../train/samples.ts';
import { type TextCorpus, pretrainText, textPretrainingConfigSchema } from '../train/text-pretraining.ts';
import { positive, positiveInt, wholeNumber } from './arguments.ts';
import { readSettings } from './config-file.ts';
import { commandGroup } from './groups.ts';

export const DEFAULT_CORPUS = '../shared/data/corpus';

interface TextOptions {
  out: string;
  corpus?: string[];
  tree?: string;
  treeWeight?: number;
  config?: string;
  minutes?: number;
  steps?: number;
  seed?: number;
}

function corpusPaths(given: string[] | undefined): string[] {
  if (given?.length) return given.map((f) => resolve(f));
  const dir = resolve(DEFAULT_CORPUS);
  if (!existsSync(dir))
    throw new Error(
      `no --corpus given and the default corpus folder ${DEFAULT_CORPUS} (${dir}) does not exist`,
    );
  return corpusFilesIn(dir);
}

/** Texts of a knowledge tree (JSON) or of a samples file (JSONL, e.g. one split's training texts). */
async function treeTexts(file: string): Promise<string[]> {
  if (file.endsWith('.jsonl')) return (await readSamples(file)).map((s) => s.text);
  return [...treeSamples(loadTree(file))].map((s) => s.text);
}

export function registerTrainTextCommand(program: Command): void {
  commandGroup(program, 'train', 'training runs')
    .command('text')
    .description(
      'pre-train the text tower as a BERT masked-language model on plain text (one paragraph a line)',
    )
    .requiredOption(
      '--out <dir>',
      'run folder, also a Hugging Face BERT folder for `kep train knowledge --init`; an existing run resumes',
    )
    .option('--corpus <files...>', `.txt or .txt.gz files (default: every such file of ${DEFAULT_CORPUS})`)
    .option('--tree <file>', 'also train on the texts of a knowledge tree (JSON) or samples file (JSONL)')
    .option('--tree-weight <n>', 'times the tree texts enter the training stream (default 4)', wholeNumber)
    .option('--config <file>', 'JSON with settings to override (see docs/text-pretraining.md)')
    .option(
      '--minutes <n>',
      'stop after this much wall time, with a checkpoint, an evaluation and the model files',
      positive,
    )
    .option('--steps <n>', 'optimiser steps of the whole run (the learning-rate schedule)', positiveInt)
    .option('--seed <n>', 'seed of the held-out draw, masking, order and initialisation', Number)
    .action(async (o: TextOptions) => {
      const config = readSettings(textPretrainingConfigSchema, o.config, {
        steps: o.steps,
        seed: o.seed,
        treeWeight: o.treeWeight,
      });
      // Everything is read and checked before the run folder is touched.
      const files: CorpusFile[] = corpusPaths(o.corpus).map(readCorpusFile);
      const corpus: TextCorpus = { files };
      if (o.tree) corpus.tree = { path: resolve(o.tree), texts: await treeTexts(o.tree) };
      const out = resolve(o.out);
      const run = await pretrainText(
        corpus,
        out,
        config,
        o.minutes !== undefined ? { minutes: o.minutes } : {},
      );
      const s = run.summary;
      const figures = Object.entries(s.finalEval ?? {});
      const evalText = figures.length
        ? figures.map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')
        : 'none (no paragraph fell in the held-out slice)';
      process.stdout.write(
        `trained steps ${s.firstStep}→${s.lastStep} in ${s.seconds.toFixed(0)} s (stopped by ${s.stoppedBy}) on ${run.trainSequences} sequences (${run.trainTokens} tokens); held-out ${evalText}\nmodel folder ${out} (use: kep train knowledge --init ${out})\n`,
      );
    });
}
