// `kep train vlp`: S2 pretraining (KEP or plain CLIP) on image–caption pairs, with periodic
// zero-shot and retrieval evaluation. The run folder is also a model folder (kep-model.json), so
// `kep eval zeroshot --model DIR` and every other consumer take it as it is.
import { type Command, Option } from 'commander';
import { resolve } from 'node:path';
import { readLabelled } from '../data/labelled.ts';
import { readPairs } from '../data/pairs.ts';
import { readPromptFile } from '../data/prompt-sets.ts';
import { vlpEvaluation } from '../train/vlp-evaluation.ts';
import { trainVisionLanguage, vlpConfigSchema } from '../train/vlp.ts';
import { readSettings } from './config-file.ts';
import { intInRange, positive } from './arguments.ts';
import { MAX_IMAGE_SIZE } from '../data/preprocess.ts';
import { commandGroup } from './groups.ts';

interface VlpFlags {
  pairs: string;
  root?: string;
  out: string;
  model?: string;
  initText?: string;
  initImage?: string;
  initModel?: string;
  vocab?: string;
  initKeyMap?: string;
  imageKeyMap?: string;
  loss?: string;
  imageSize?: number;
  minutes?: number;
  steps?: number;
  batch?: number;
  microBatch?: number;
  recompute?: string;
  config?: string;
  evalImages?: string;
  evalRoot?: string;
  evalPrompts?: string;
  valPairs?: string;
  valRoot?: string;
  seed?: number;
}

export function registerVlpTrainCommand(program: Command): void {
  commandGroup(program, 'train', 'training runs')
    .command('vlp')
    .description(
      'vision–language pretraining: KEP (with a frozen knowledge tower) or the plain CLIP baseline',
    )
    .requiredOption(
      '--pairs <file>',
      'image–caption manifest: CSV `image_name|caption` (| , or tab) or JSONL',
    )
    .option(
      '--root <dir>',
      "folder the manifest's image names are relative to (default: the manifest's folder)",
    )
    .requiredOption(
      '--out <dir>',
      'run folder (checkpoints, metrics, summary; a model folder); an existing run resumes',
    )
    .option('--model <name>', 'KEP registry model: kep-16, kep-32, kep-ctp, kep-tiny (default kep-16)')
    .option(
      '--init-text <dir>',
      'S1 knowledge encoder folder (`kep train knowledge`): text and knowledge towers',
    )
    .option('--init-image <weights>', 'pretrained image backbone (.safetensors, .pt/.bin, HF folder)')
    .option(
      '--image-key-map <name>',
      'key map of --init-image (e.g. openai-clip-visual, timm-vit, timm-swin)',
    )
    .option(
      '--init-model <checkpoint>',
      'a whole KEP model to go on training (a released KEP-16/32/CTP checkpoint: every tower, the logit scale, the knowledge tower); needs --vocab',
    )
    .option('--vocab <file>', "vocab.txt (or tokenizer folder) of --init-model's text tower")
    .option(
      '--init-key-map <name>',
      "key map of --init-model (default: the --model's, e.g. kep-vit for kep-16)",
    )
    .option('--loss <name>', 'kep | clip')
    .option(
      '--image-size <n>',
      'train at this image size (ViT towers; images must be at least this big)',
      intInRange(8, MAX_IMAGE_SIZE, `pixels; at most ${MAX_IMAGE_SIZE}: memory grows with the square`),
    )
    .option('--minutes <n>', 'stop after this much wall time with a usable checkpoint', positive)
    .option('--steps <n>', 'optimiser steps of the whole run', positive)
    .option('--batch <n>', 'pairs per optimiser step (the contrastive batch)', positive)
    .option(
      '--micro-batch <n>',
      'split each batch into micro-batches (GradCache: same gradient, less memory)',
      positive,
    )
    .addOption(
      new Option(
        '--recompute <how>',
        'activation checkpointing per transformer block: less memory for about one more forward pass (auto: on for whole-batch steps)',
      ).choices(['auto', 'none', 'blocks']),
    )
    .option('--config <file>', 'JSON with settings to override (see docs/vision-language-training.md)')
    .option(
      '--eval-images <labels>',
      'labelled images (CSV image_name,label or class folders) for zero-shot evaluation',
    )
    .option('--eval-root <dir>', 'image root of --eval-images')
    .option('--eval-prompts <file>', 'prompt sets for zero-shot evaluation')
    .option('--val-pairs <file>', 'held-out pairs for image↔text retrieval')
    .option('--val-root <dir>', 'image root of --val-pairs')
    .option('--seed <n>', 'seed of the data order, augmentation and initialisation', Number)
    .action(async (o: VlpFlags) => {
      const cfg = readSettings(vlpConfigSchema, o.config, {
        model: o.model,
        loss: o.loss,
        imageSize: o.imageSize,
        steps: o.steps,
        batch: o.batch,
        microBatch: o.microBatch,
        recompute: o.recompute,
        seed: o.seed,
      });
      if (o.initModel && !o.vocab)
        throw new Error('--init-model needs --vocab (the vocabulary its text tower was trained with)');
      if (o.vocab && !o.initModel) throw new Error('--vocab goes with --init-model');
      if (o.initModel && (o.initText || o.initImage))
        throw new Error('--init-model brings every tower: it does not go with --init-text or --init-image');
      if (o.initImage && !o.imageKeyMap)
        throw new Error('--init-image needs --image-key-map (how that checkpoint names its tensors)');
      if (Boolean(o.evalImages) !== Boolean(o.evalPrompts))
        throw new Error('--eval-images and --eval-prompts go together');
      const pairs = await readPairs(o.pairs, o.root ? { root: o.root } : {});
      const evaluate = vlpEvaluation({
        ...(o.evalImages && o.evalPrompts
          ? {
              zeroShot: {
                images: await readLabelled(o.evalImages, o.evalRoot ? { root: o.evalRoot } : {}),
                prompts: readPromptFile(o.evalPrompts),
                source: o.evalPrompts,
              },
            }
          : {}),
        ...(o.valPairs
          ? { retrieval: await readPairs(o.valPairs, o.valRoot ? { root: o.valRoot } : {}) }
          : {}),
      });
      const out = resolve(o.out);
      const run = await trainVisionLanguage(
        {
          pairs,
          ...(o.initText ? { initText: resolve(o.initText) } : {}),
          ...(o.initImage ? { initImage: { weights: o.initImage, keyMap: o.imageKeyMap! } } : {}),
          ...(o.initModel
            ? {
                initModel: {
                  weights: resolve(o.initModel),
                  vocab: resolve(o.vocab!),
                  ...(o.initKeyMap ? { keyMap: o.initKeyMap } : {}),
                },
              }
            : {}),
          ...(evaluate ? { evaluate } : {}),
          ...(o.minutes !== undefined ? { minutes: o.minutes } : {}),
        },
        out,
        cfg,
      );
      const s = run.summary;
      const evalLine = s.finalEval
        ? `; ${Object.entries(s.finalEval)
            .map(([k, v]) => `${k} ${v.toFixed(3)}`)
            .join(', ')}`
        : '';
      process.stdout.write(
        `trained steps ${s.firstStep}→${s.lastStep} of ${cfg.steps ?? run.stepsPerEpoch * cfg.epochs} in ${s.seconds.toFixed(0)} s (stopped by ${s.stoppedBy})${evalLine}\nmodel folder: ${out}\n`,
      );
    });
}
