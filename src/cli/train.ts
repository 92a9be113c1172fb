// `kep train knowledge`, `kep eval knowledge` and `kep knowledge link`: the knowledge encoder (S1).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { buildGalleries, evaluateWithBaseline } from '../eval/galleries.ts';
import { formatReidTable } from '../eval/table.ts';
import { samples as treeSamples } from '../knowledge/export.ts';
import { loadTree } from '../knowledge/tree-io.ts';
import { KnowledgeEncoder, knowledgeConfigSchema, trainKnowledgeEncoder } from '../train/knowledge.ts';
import { readSamples } from '../train/samples.ts';
import { readSettings } from './config-file.ts';
import { positive } from './arguments.ts';
import { commandGroup } from './groups.ts';

export function registerTrainCommands(program: Command): void {
  const train = commandGroup(program, 'train', 'training runs');
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
      }) => {
        const config = readSettings(knowledgeConfigSchema, o.config, {
          steps: o.steps,
          loss: o.loss,
          seed: o.seed,
          init: o.init ? resolve(o.init) : undefined,
        });
        const data = await readSamples(o.samples);
        const run = await trainKnowledgeEncoder(
          data,
          resolve(o.out),
          config,
          o.minutes !== undefined ? { minutes: o.minutes } : {},
        );
        const encoder = await KnowledgeEncoder.load(resolve(o.out));
        const report = await evaluateWithBaseline((t) => encoder.embed(t), run.evalSets);
        await encoder.release();
        process.stdout.write(`${formatReidTable(report)}\n`);
        process.stdout.write(
          `trained steps ${run.summary.firstStep}→${run.summary.lastStep} in ${run.summary.seconds.toFixed(0)} s (stopped by ${run.summary.stoppedBy}); encoder in ${resolve(o.out)}\n`,
        );
      },
    );

  commandGroup(program, 'eval', 'evaluations')
    .command('knowledge')
    .description("re-identification of a samples file's names among its other texts, against BM25")
    .requiredOption('--encoder <dir>', 'a folder written by `kep train knowledge`')
    .requiredOption('--samples <file>', 'samples JSONL (any: the encoder need not have seen it)')
    .option('--json', 'one JSON object {"galleries": …, "baseline": …}', false)
    .option('--seed <n>', 'seed of the prompt templates', Number, 0)
    .action(async (o: { encoder: string; samples: string; json: boolean; seed: number }) => {
      const encoder = await KnowledgeEncoder.load(resolve(o.encoder));
      const sets = buildGalleries(await readSamples(o.samples), { seed: o.seed });
      const report = await evaluateWithBaseline((t) => encoder.embed(t), sets);
      await encoder.release();
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${formatReidTable(report)}\n`);
    });

  const knowledge = commandGroup(
    program,
    'knowledge',
    'the pathology knowledge tree: tissues → diseases → attributes',
  );
  knowledge
    .command('link')
    .description('the diseases of a tree nearest to a free-text diagnosis, by a trained knowledge encoder')
    .argument('<text>', 'free text, e.g. "ca of the breast, lobular type"')
    .requiredOption('--encoder <dir>', 'a folder written by `kep train knowledge`')
    .requiredOption('--tree <file>', 'knowledge tree whose names and synonyms are the candidates')
    .option('--top <n>', 'how many diseases to print', positive, 5)
    .option('--json', 'as JSON', false)
    .action(async (text: string, o: { encoder: string; tree: string; top: number; json: boolean }) => {
      const tree = loadTree(o.tree);
      const candidates = [...treeSamples(tree, ['name', 'synonym'])];
      const names = new Map([...treeSamples(tree, ['name'])].map((s) => [s.label, s.text]));
      const encoder = await KnowledgeEncoder.load(resolve(o.encoder));
      const gallery = await encoder.embed(candidates.map((c) => c.text));
      const [query] = [await encoder.embed([text])];
      await encoder.release();
      const d = query!.length;
      const norm = (v: Float32Array, off: number): number => Math.hypot(...v.subarray(off, off + d)) || 1;
      const qn = norm(query!, 0);
      const best = new Map<string, { score: number; via: string }>();
      candidates.forEach((c, i) => {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += query![j]! * gallery[i * d + j]!;
        const score = dot / (qn * norm(gallery, i * d));
        const prev = best.get(c.label);
        if (!prev || score > prev.score) best.set(c.label, { score, via: c.text });
      });
      const ranked = [...best.entries()].sort((a, b) => b[1].score - a[1].score).slice(0, o.top);
      const rows = ranked.map(([label, r]) => ({
        label,
        name: names.get(label) ?? '',
        score: Number(r.score.toFixed(4)),
        via: r.via,
      }));
      if (o.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else
        for (const r of rows)
          process.stdout.write(
            `${r.score.toFixed(3)}  ${r.label.padEnd(16)} ${r.name}${r.via !== r.name ? `  (via "${r.via}")` : ''}\n`,
          );
    });
}
