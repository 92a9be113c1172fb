// kep as a library: the small public surface (docs/models.md, README "Using kep from TypeScript").
// Everything a program needs to load a model, embed images and texts, classify zero-shot, build a
// knowledge tree, score slides and train S1/S2 — through the same code the `kep` command runs.
import type { PromptSet } from './data/prompt-sets.ts';
import { createModel } from './embed/model.ts';
import type { VisionLanguageModel } from './embed/types.ts';
import {
  TextEmbeddingCache,
  argmaxRows,
  classEmbeddings,
  cosineScores,
  softmaxRows,
} from './eval/class-embeddings.ts';
import { type EmbedImagesOptions, type ImageFeatures, embedImageFiles } from './eval/image-features.ts';

export { createModel, type ModelInput } from './embed/model.ts';
export type { ModelSource, VisionLanguageModel } from './embed/types.ts';
export { MODEL_FILE, readModelFile, writeModelFile, type ModelFile } from './embed/model-folder.ts';
export { towerGraphs, INPUT_IDS, INPUT_MASK, INPUT_PIXELS, OUTPUT_EMBEDDING } from './models/factory.ts';
export { getModel, registry } from './models/registry.ts';
export { modelSpecSchema, parseModelSpec, type ModelSpec, type KepSpec } from './models/spec.ts';
export { runtimeSettingsSchema, type RuntimeSettings } from './engine/settings.ts';
export { PRECISIONS, type Precision } from './engine/quantize.ts';
export { configureLog, type LogSettings, type LogLevel } from './util/log.ts';
export type { PreprocessConfig } from './data/preprocess.ts';
export type { PromptSet } from './data/prompt-sets.ts';
export type { ImageFeatures, EmbedImagesOptions } from './eval/image-features.ts';
export { buildTree as buildKnowledgeTree } from './knowledge/build.ts';
export { loadTree as readKnowledgeTree, saveTree as writeKnowledgeTree } from './knowledge/tree-io.ts';
export type { KnowledgeTree } from './knowledge/schema.ts';
export { runWsiBatch as runSlides, type WsiRunOptions, type WsiRunResult } from './pipeline/wsi-run.ts';
export {
  trainKnowledgeEncoder,
  knowledgeConfigSchema,
  KnowledgeEncoder,
  type KnowledgeConfig,
} from './train/knowledge.ts';
export { trainVisionLanguage, vlpConfigSchema, type VlpConfig, type VlpInputs } from './train/vlp.ts';

/** Same as createModel: a registry name, a model folder, or a source object with a spec. */
export const loadModel = createModel;

/** L2-normalised embeddings of image files (resized, cropped and normalised as the model expects);
 * unreadable files are skipped and listed, `indices` says which input each row belongs to. */
export function embedImages(
  model: VisionLanguageModel,
  paths: readonly string[],
  opts: EmbedImagesOptions = {},
): Promise<ImageFeatures> {
  return embedImageFiles(model, paths, { progress: false, ...opts });
}

/** L2-normalised embeddings of texts, [texts.length, model.embedDim], row-major. */
export function embedTexts(model: VisionLanguageModel, texts: readonly string[]): Promise<Float32Array> {
  return model.embedTexts(texts);
}

export interface ZeroShotPrediction {
  path: string;
  label: string;
  /** Softmax over the classes at the model's logit scale, in `labels` order. */
  probabilities: number[];
}

/**
 * Zero-shot classification of image files: each class is described by one or more texts (their
 * embeddings are averaged, as CLIP's prompt ensembles), each image gets the class of highest
 * cosine similarity.
 */
export async function zeroShotClassify(
  model: VisionLanguageModel,
  paths: readonly string[],
  classes: Readonly<Record<string, readonly string[]>>,
): Promise<{ labels: string[]; predictions: ZeroShotPrediction[]; unreadable: ImageFeatures['unreadable'] }> {
  const labels = Object.keys(classes);
  if (labels.length < 2) throw new Error('zeroShotClassify: at least two classes are needed');
  const set: PromptSet = {
    id: 'library',
    classes: labels.map((label) => ({ label, names: [...classes[label]!] })),
    templates: ['CLASSNAME'],
  };
  const cls = await classEmbeddings(set, new TextEmbeddingCache(model));
  const images = await embedImages(model, paths);
  const scores = cosineScores(images.features, cls);
  const best = argmaxRows(scores, labels.length);
  const probs = softmaxRows(scores, labels.length, model.logitScale);
  return {
    labels: cls.labels,
    predictions: images.indices.map((input, row) => ({
      path: paths[input]!,
      label: cls.labels[best[row]!]!,
      probabilities: Array.from(probs.subarray(row * labels.length, (row + 1) * labels.length)),
    })),
    unreadable: images.unreadable,
  };
}
