// The one shape every consumer of a trained vision–language model sees (zero-shot evaluation,
// retrieval, `kep embed`, whole-slide scoring): images and texts in, L2-normalised joint
// embeddings out. Consumers depend on this interface, not on how the weights were found.
import type { PreprocessConfig } from '../data/preprocess.ts';
import type { Precision } from '../engine/quantize.ts';
import type { RuntimeSettings } from '../engine/settings.ts';
import type { ImageNorm } from '../models/registry.ts';
import type { ModelSpec } from '../models/spec.ts';

export interface VisionLanguageModel {
  /** Name of the architecture (e.g. 'kep-16', 'kep-tiny'): the spec's name. */
  readonly name: string;
  /** The whole model description (absent for models assembled by hand, such as S2's live view). */
  readonly spec?: ModelSpec;
  /** Width of the joint embedding space. */
  readonly embedDim: number;
  /** Evaluation transform (resize + centre crop + normalise) the image tower expects. */
  readonly preprocess: PreprocessConfig;
  /** Learned temperature s = exp(logit_scale), for turning cosine scores into probabilities. */
  readonly logitScale: number;
  /** True when no trained weights were loaded (random initialisation): results mean nothing. */
  readonly untrained: boolean;
  /** Where the weights came from, for reports. */
  readonly source: string;
  /** Arithmetic of the towers' linear layers (absent: fp32). An int8 model's embeddings differ from
   * the fp32 model's in the third decimal, so outputs and cache keys record it. */
  readonly precision?: Precision;
  /** pixels: preprocessed NCHW float32, `count` images of preprocess.size² → [count, embedDim]. */
  embedImages(pixels: Float32Array, count: number): Promise<Float32Array>;
  /** → [texts.length, embedDim]; tokenised with the model's own vocabulary and max length. */
  embedTexts(texts: readonly string[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** How to find a model: a folder written by `kep train vlp`, a registry name or a spec (+ weights). */
export interface ModelSource {
  /** A kep model folder (kep-model.json + vocab + weights). */
  dir?: string;
  /** A registry name, used when no folder is given. */
  name?: string;
  /** A spec, used when neither a folder nor a name is given (weights from `weights`, else random). */
  spec?: ModelSpec;
  /** Checkpoint for a registry name: .safetensors, .pt/.pth/.bin, or a Hugging Face folder. */
  weights?: string;
  /** Key map of that checkpoint (default: the registry entry's). */
  keyMap?: string;
  /** WordPiece vocabulary (vocab.txt) for a registry model; folders carry their own. */
  vocab?: string;
  /** Normalisation instead of the model's own (mean/std of OpenAI CLIP or ImageNet). */
  imageNorm?: ImageNorm;
  /** 'int8': the transformer blocks' linear layers run as ONNX Runtime's int8 kernels
   * (src/engine/quantize.ts); default fp32. */
  precision?: Precision;
  /** Shorthand for runtime.threads. */
  threads?: number;
  /** Execution provider, threads and optimisation level of the model's sessions. */
  runtime?: RuntimeSettings;
}
