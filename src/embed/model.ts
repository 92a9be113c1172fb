// createModel: the one way to get a usable model — a registry name, a trained model folder, or a
// spec plus weights — as two inference sessions (image tower, text tower) behind the
// VisionLanguageModel interface, with the transform its image tower expects. The graphs come from
// the one factory (src/models/factory.ts). The towers are separate graphs because ONNX Runtime wants
// every graph input fed: one graph would make an image-only call invent a text batch.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Graph } from '../engine/graph.ts';
import { toFloat32 } from '../engine/safetensors.ts';
import type { Precision } from '../engine/quantize.ts';
import { type CompiledGraph, compile, ort } from '../engine/runtime.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import { OUTPUT_EMBEDDING, type TowerGraphs, embeddingDim, towerGraphs } from '../models/factory.ts';
import { IMAGE_NORMS, type ImageNorm, getModel } from '../models/registry.ts';
import type { KepSpec, ModelSpec } from '../models/spec.ts';
import { characterVocabulary } from '../text/vocab-builder.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { applyKeyMap, formatLoadReport } from '../weights/keymaps.ts';
import { loadStateDict } from '../weights/load.ts';
import { keyMapNamed, parameterValues } from '../weights/model-weights.ts';
import { MODEL_FILE, evalPreprocess, modelWeightsPath, readModelFile } from './model-folder.ts';
import { type RuntimeSettings, runtimeOptions } from '../engine/settings.ts';
import type { ModelSource, VisionLanguageModel } from './types.ts';

type ImageSpec = Exclude<ModelSpec, { kind: 'bert' | 'text-encoder' }>;

/** The evaluation transform of a registry model (resize + centre crop + its normalisation). */
export function entryPreprocess(entry: ImageSpec, size = entry.preprocess.size): PreprocessConfig {
  return evalPreprocess(entry, size);
}

/** The transform with another normalisation, when the user chose one. */
function withNorm(pre: PreprocessConfig, norm: ImageNorm | undefined): PreprocessConfig {
  if (!norm) return pre;
  const { mean, std } = IMAGE_NORMS[norm];
  return { ...pre, mean: [...mean], std: [...std] };
}

interface LoadedParts {
  spec: ImageSpec;
  preprocess: PreprocessConfig;
  logitScale: number;
  untrained: boolean;
  source: string;
  values: Map<string, Float32Array>;
  tokenizer: BertTokenizer | undefined;
  runtime: RuntimeSettings;
  precision: Precision;
}

class LoadedModel implements VisionLanguageModel {
  private imageSession?: Promise<CompiledGraph>;
  private textSession?: Promise<CompiledGraph>;
  private readonly graphs: TowerGraphs;
  readonly name: string;
  readonly spec: ModelSpec;
  readonly embedDim: number;
  readonly preprocess: PreprocessConfig;
  readonly logitScale: number;
  readonly untrained: boolean;
  readonly source: string;
  readonly precision: Precision;

  constructor(private readonly parts: LoadedParts) {
    this.spec = parts.spec;
    this.name = parts.spec.name;
    this.graphs = towerGraphs(parts.spec);
    this.embedDim = embeddingDim(parts.spec);
    this.preprocess = parts.preprocess;
    this.logitScale = parts.logitScale;
    this.untrained = parts.untrained;
    this.source = parts.source;
    this.precision = parts.precision;
  }

  private session(which: 'image' | 'text'): Promise<CompiledGraph> {
    const make = (g: Graph): Promise<CompiledGraph> => {
      const paramData = new Map<string, Float32Array>();
      for (const name of g.params.keys()) paramData.set(name, this.parts.values.get(name)!);
      return compile(
        g,
        { paramData, outputs: [OUTPUT_EMBEDDING] },
        { ...runtimeOptions(this.parts.runtime), precision: this.precision },
      );
    };
    if (which === 'image') return (this.imageSession ??= make(this.graphs.image!));
    if (!this.graphs.text) throw new Error(`${this.name} has no text tower: it can embed images only`);
    return (this.textSession ??= make(this.graphs.text));
  }

  async embedImages(pixels: Float32Array, count: number): Promise<Float32Array> {
    const s = this.preprocess.size;
    if (pixels.length !== count * 3 * s * s)
      throw new Error(`embedImages: ${pixels.length} values is not ${count} images of 3×${s}×${s}`);
    if (count === 0) return new Float32Array(0);
    const session = await this.session('image');
    const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [count, 3, s, s]) });
    return out[OUTPUT_EMBEDDING]!.data as Float32Array;
  }

  async embedTexts(texts: readonly string[]): Promise<Float32Array> {
    const session = await this.session('text');
    if (texts.length === 0) return new Float32Array(0);
    const maxLength = this.spec.kind === 'kep' ? this.spec.tokenizer.maxLength : 0;
    const all = new Float32Array(texts.length * this.embedDim);
    for (let i = 0; i < texts.length; i += 256) {
      const b = this.parts.tokenizer!.encodeBatch(texts.slice(i, i + 256), {
        maxLength,
        padding: 'longest',
        truncation: true,
      });
      const out = await session.run({
        input_ids: new ort.Tensor('int64', b.ids, b.shape),
        attention_mask: new ort.Tensor('int64', b.mask, b.shape),
      });
      all.set(out[OUTPUT_EMBEDDING]!.data as Float32Array, i * this.embedDim);
    }
    return all;
  }

  async release(): Promise<void> {
    for (const s of [this.imageSession, this.textSession]) if (s) await (await s).release();
  }
}

function imageSpec(spec: ModelSpec): ImageSpec {
  if (spec.kind === 'bert' || spec.kind === 'text-encoder')
    throw new Error(`${spec.name} has no image tower; a vision–language model needs one`);
  return spec;
}

/** The precision a source asks for (its shorthand, else its runtime settings'; default fp32). */
function precisionOf(source: ModelSource): Precision {
  return source.precision ?? source.runtime?.precision ?? 'fp32';
}

/** The runtime settings a source asks for (its `threads` shorthand included). */
function runtimeOf(source: ModelSource): RuntimeSettings {
  return { ...(source.threads ? { threads: source.threads } : {}), ...source.runtime };
}

async function fromFolder(dir: string, source: ModelSource): Promise<VisionLanguageModel> {
  const file = readModelFile(dir);
  const spec = file.spec;
  const weights = modelWeightsPath(dir);
  const loaded = await loadStateDict(weights);
  const expected = new Map([...towerGraphs(spec).all.params.values()].map((p) => [p.name, p.shape]));
  const { tensors } = applyKeyMap(loaded.tensors, keyMapNamed('kep'), expected, {
    strict: false,
    source: weights,
  });
  const values = new Map<string, Float32Array>();
  for (const name of expected.keys()) {
    const v = tensors.get(name);
    if (!v) throw new Error(`${weights}: no tensor ${name}`);
    values.set(name, toFloat32(v, { convert: true }));
  }
  const vocab = spec.tokenizer.vocabulary;
  if (!vocab) throw new Error(`${join(dir, MODEL_FILE)}: spec.tokenizer.vocabulary names no file`);
  return new LoadedModel({
    spec,
    preprocess: withNorm(evalPreprocess(spec), source.imageNorm),
    logitScale: Math.exp(values.get('logit_scale')![0]!),
    untrained: file.untrainedTowers.length > 0,
    source: `${dir}${file.origin ? ` (${file.origin})` : ''}`,
    values,
    tokenizer: BertTokenizer.fromVocabFile(join(dir, vocab), { doLowerCase: spec.tokenizer.lowerCase }),
    runtime: runtimeOf(source),
    precision: precisionOf(source),
  });
}

function tokenizerFor(source: ModelSource, untrained: boolean, name: string): BertTokenizer {
  if (source.vocab) return BertTokenizer.fromPath(resolve(source.vocab));
  if (source.weights && existsSync(source.weights) && statSync(source.weights).isDirectory()) {
    for (const f of ['tokenizer.json', 'vocab.txt'])
      if (existsSync(join(source.weights, f))) return BertTokenizer.fromFolder(source.weights);
  }
  if (untrained) return new BertTokenizer(characterVocabulary());
  throw new Error(
    `${name}: its text tower needs the vocabulary it was trained with: pass --vocab (a vocab.txt or tokenizer folder)`,
  );
}

/** Where a model comes from: a registry name or a model folder (a string), or a spec with weights. */
export type ModelInput = string | ModelSource;

function isModelFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, MODEL_FILE));
}

/**
 * The one factory of usable models. A string is a model folder when one exists at that path (its
 * kep-model.json says everything; the registry is not read), else a registry name. A source object
 * names a folder (`dir`), a registry name (`name`) or a spec (`spec`), with weights, key map,
 * vocabulary, normalisation and runtime settings.
 */
export async function createModel(input: ModelInput): Promise<VisionLanguageModel> {
  const source: ModelSource =
    typeof input === 'string' ? (isModelFolder(input) ? { dir: input } : { name: input }) : input;
  if (source.dir) return fromFolder(resolve(source.dir), source);
  if (source.spec) return loadEntryModel(source.spec, source);
  if (!source.name) throw new Error('a model needs a folder (--model DIR), a registry name or a spec');
  return loadEntryModel(getModel(source.name), source);
}

/** The same as createModel (the name the command-line code has always used). */
export const loadVisionLanguageModel = createModel;

/** A spec (a registry entry, or one built the same way, as tests do) with the source's weights. */
export async function loadEntryModel(entry: ModelSpec, source: ModelSource): Promise<VisionLanguageModel> {
  const spec = imageSpec(entry);
  const pre = withNorm(evalPreprocess(spec), source.imageNorm);
  const { values, report, untrained } = await parameterValues(towerGraphs(spec).all, {
    ...(source.weights ? { weights: source.weights, keyMap: source.keyMap ?? spec.keyMap } : {}),
  });
  const scale = values.get('logit_scale');
  return new LoadedModel({
    spec,
    preprocess: pre,
    logitScale: scale ? Math.exp(scale[0]!) : spec.kind === 'kep' ? spec.config.initialScale : 1,
    untrained,
    source: untrained
      ? `${spec.name} (untrained: random weights)`
      : `${source.weights} (${report ? formatLoadReport(report) : ''})`,
    values,
    tokenizer: spec.kind === 'kep' ? tokenizerFor(source, untrained, spec.name) : undefined,
    runtime: runtimeOf(source),
    precision: precisionOf(source),
  });
}

export type { KepSpec };
