// The folder a trained vision–language model lives in (written by `kep train vlp`, read by every
// consumer). kep-model.json holds the model's whole spec (src/models/spec.ts: both towers'
// architectures, preprocessing, tokenizer settings) next to the weights, as Hugging Face folders
// carry config.json: loading a folder never consults the registry, so editing a registry entry
// cannot change an old run. Weights: the latest complete checkpoint under checkpoints/, or
// model.safetensors for an exported folder.
//
// Folders written before the spec existed ('kep-model/1': a registry name plus the text tower) are
// migrated when read: the image tower comes from the registry entry they name, with the image size
// they recorded — the one time the registry is consulted, because those files hold nothing else.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { latestCheckpoint } from '../engine/checkpoint.ts';
import { type PreprocessConfig, preprocessConfigSchema } from '../data/preprocess.ts';
import { getModel } from '../models/registry.ts';
import { type KepSpec, bertConfigSchema, modelSpecSchema, withImageSize } from '../models/spec.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';

export const MODEL_FILE = 'kep-model.json';
export const MODEL_FORMAT = 'kep-model/2';
export const LEGACY_MODEL_FORMAT = 'kep-model/1';

const provenance = {
  /** What produced the weights, for reports ("kep train vlp --loss kep", …). */
  origin: z.string().default(''),
  /** Towers still at their random initialisation (a starting model before S2): results from such a
   * model mean nothing, and every report says so. */
  untrainedTowers: z.array(z.enum(['image', 'text'])).default([]),
};

export const modelFileSchema = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  /** The whole model: architecture of both towers, preprocessing, tokenizer. */
  spec: modelSpecSchema.refine((s) => s.kind === 'kep', 'a model folder holds a KEP model'),
  ...provenance,
});

/** kep-model.json as written before the spec existed (kept to read old folders). */
export const legacyModelFileSchema = z.strictObject({
  format: z.literal(LEGACY_MODEL_FORMAT),
  /** Registry name of the image tower's architecture. */
  model: z.string().min(1),
  text: bertConfigSchema,
  pooling: z.enum(['cls', 'mean']).default('cls'),
  embedDim: z.number().int().positive(),
  preprocess: preprocessConfigSchema,
  maxLength: z.number().int().positive(),
  vocab: z.string().min(1),
  ...provenance,
});
export type LegacyModelFile = z.infer<typeof legacyModelFileSchema>;

export interface ModelFile {
  spec: KepSpec;
  origin: string;
  untrainedTowers: ('image' | 'text')[];
  /** Set when the file was written in an older format and migrated on reading. */
  migratedFrom?: typeof LEGACY_MODEL_FORMAT;
}

export function writeModelFile(
  dir: string,
  file: { spec: KepSpec; origin?: string; untrainedTowers?: ('image' | 'text')[] },
): void {
  const body = {
    format: MODEL_FORMAT,
    spec: file.spec,
    origin: file.origin ?? '',
    untrainedTowers: file.untrainedTowers ?? [],
  };
  writeFileAtomic(join(dir, MODEL_FILE), `${JSON.stringify(body, null, 2)}\n`);
}

/** A kep-model/1 file as a spec: the registry's image tower at the recorded size, the recorded rest. */
export function migrateLegacyModelFile(old: LegacyModelFile, source: string): ModelFile {
  let entry;
  try {
    entry = getModel(old.model);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`, { cause: err });
  }
  if (entry.kind !== 'kep') throw new Error(`${source}: model "${old.model}" is not a KEP model`);
  const sized = entry.config.image.kind === 'vit' ? withImageSize(entry, old.preprocess.size) : entry;
  const spec: KepSpec = {
    ...sized,
    config: { ...sized.config, text: old.text, embedDim: old.embedDim },
    preprocess: {
      size: old.preprocess.size,
      mean: old.preprocess.mean,
      std: old.preprocess.std,
      interpolation: old.preprocess.interpolation,
    },
    tokenizer: { maxLength: old.maxLength, vocabulary: old.vocab, pooling: old.pooling, lowerCase: true },
  };
  delete spec.published;
  return {
    spec,
    origin: old.origin,
    untrainedTowers: old.untrainedTowers,
    migratedFrom: LEGACY_MODEL_FORMAT,
  };
}

export function readModelFile(dir: string): ModelFile {
  const path = join(dir, MODEL_FILE);
  if (!existsSync(path)) throw new Error(`${dir}: not a kep model folder (no ${MODEL_FILE})`);
  const file = readJsonFile(path, z.discriminatedUnion('format', [modelFileSchema, legacyModelFileSchema]));
  if (file.format === LEGACY_MODEL_FORMAT) return migrateLegacyModelFile(file, path);
  return { spec: file.spec as KepSpec, origin: file.origin, untrainedTowers: file.untrainedTowers };
}

/** The evaluation transform of a spec's image tower: resize the shortest side, centre crop, normalise. */
export function evalPreprocess(
  spec: { preprocess: KepSpec['preprocess'] },
  size = spec.preprocess.size,
): PreprocessConfig {
  return {
    size,
    resize: 'shortest',
    interpolation: spec.preprocess.interpolation,
    crop: 'center',
    mean: [...spec.preprocess.mean],
    std: [...spec.preprocess.std],
  };
}

/** The weights file of a model folder: the newest complete checkpoint, else model.safetensors. */
export function modelWeightsPath(dir: string): string {
  const found = latestCheckpoint(join(dir, 'checkpoints'));
  if (found) return found.path;
  const exported = join(dir, 'model.safetensors');
  if (existsSync(exported)) return exported;
  throw new Error(`${dir}: no weights (no complete checkpoint in checkpoints/, no model.safetensors)`);
}
