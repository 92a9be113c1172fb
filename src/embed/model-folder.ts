// The folder a trained vision–language model lives in (written by `kep train vlp`, read by every
// consumer): kep-model.json names the architecture and carries what using it needs — the
// preprocessing, the tokenizer's vocabulary and max length — next to the weights, as open_clip's
// pretrained configs do. Weights: the latest complete checkpoint under checkpoints/, or
// model.safetensors for an exported folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { latestCheckpoint } from '../engine/checkpoint.ts';
import { preprocessConfigSchema } from '../data/preprocess.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';

export const MODEL_FILE = 'kep-model.json';
export const MODEL_FORMAT = 'kep-model/1';

const bertConfigSchema = z.strictObject({
  vocabSize: z.number().int().positive(),
  hidden: z.number().int().positive(),
  layers: z.number().int().positive(),
  heads: z.number().int().positive(),
  intermediate: z.number().int().positive(),
  maxPositions: z.number().int().positive(),
  typeVocabSize: z.number().int().positive(),
  eps: z.number().positive(),
});

export const modelFileSchema = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  /** Registry name of the image tower's architecture. */
  model: z.string().min(1),
  /** The text tower actually trained (it may differ from the registry's, e.g. an S1 encoder). */
  text: bertConfigSchema,
  pooling: z.enum(['cls', 'mean']).default('cls'),
  embedDim: z.number().int().positive(),
  preprocess: preprocessConfigSchema,
  maxLength: z.number().int().positive(),
  vocab: z.string().min(1),
  /** What produced the weights, for reports ("kep train vlp --loss kep", …). */
  origin: z.string().default(''),
  /** Towers still at their random initialisation (a starting model before S2): results from such a
   * model mean nothing, and every report says so. */
  untrainedTowers: z.array(z.enum(['image', 'text'])).default([]),
});
export type ModelFile = z.infer<typeof modelFileSchema>;

export function writeModelFile(dir: string, file: Omit<z.input<typeof modelFileSchema>, 'format'>): void {
  writeFileAtomic(join(dir, MODEL_FILE), `${JSON.stringify({ format: MODEL_FORMAT, ...file }, null, 2)}\n`);
}

export function readModelFile(dir: string): ModelFile {
  const path = join(dir, MODEL_FILE);
  if (!existsSync(path)) throw new Error(`${dir}: not a kep model folder (no ${MODEL_FILE})`);
  return readJsonFile(path, modelFileSchema);
}

/** The weights file of a model folder: the newest complete checkpoint, else model.safetensors. */
export function modelWeightsPath(dir: string): string {
  const found = latestCheckpoint(join(dir, 'checkpoints'));
  if (found) return found.path;
  const exported = join(dir, 'model.safetensors');
  if (existsSync(exported)) return exported;
  throw new Error(`${dir}: no weights (no complete checkpoint in checkpoints/, no model.safetensors)`);
}
