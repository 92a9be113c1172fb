// loadVisionLanguageModel: a trained model folder, or a registry model with optional weights, as
// two inference sessions (image tower, text tower) behind the VisionLanguageModel interface.
// The towers are separate graphs because ONNX Runtime wants every graph input fed: one graph
// would make an image-only call invent a text batch.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Graph, type Tensor } from '../engine/graph.ts';
import { toFloat32 } from '../engine/safetensors.ts';
import { type CompiledGraph, compile, ort } from '../engine/runtime.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import { type KepConfig, encodeImage, encodeText, logitScale } from '../models/kep.ts';
import { IMAGE_NORMS, type ImageNorm, type ModelEntry, getModel, towers } from '../models/registry.ts';
import { characterVocabulary } from '../text/vocab-builder.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { applyKeyMap, formatLoadReport } from '../weights/keymaps.ts';
import { loadStateDict } from '../weights/load.ts';
import { keyMapNamed, parameterValues } from '../weights/model-weights.ts';
import { modelWeightsPath, readModelFile } from './model-folder.ts';
import type { ModelSource, VisionLanguageModel } from './types.ts';

type ImageBuilder = (g: Graph, pixels: Tensor) => Tensor;
type TextBuilder = (g: Graph, ids: Tensor, mask: Tensor) => Tensor;

interface Towers {
  image: ImageBuilder;
  text?: TextBuilder;
  embedDim: number;
  kep?: KepConfig;
}

function imageGraph(build: ImageBuilder, size: number): Graph {
  const g = new Graph('image-tower');
  g.output('embedding', build(g, g.input('pixels', 'float32', ['batch', 3, size, size])));
  return g;
}

function textGraph(build: TextBuilder): Graph {
  const g = new Graph('text-tower');
  g.output(
    'embedding',
    build(
      g,
      g.input('input_ids', 'int64', ['batch', 'seq']),
      g.input('attention_mask', 'int64', ['batch', 'seq']),
    ),
  );
  return g;
}

/** Every parameter of both towers (plus the logit scale), for one key-mapping pass and report. */
function allParams(t: Towers, size: number): Graph {
  const g = imageGraph(t.image, size);
  if (t.text) {
    g.output(
      'text',
      t.text(
        g,
        g.input('input_ids', 'int64', ['batch', 'seq']),
        g.input('attention_mask', 'int64', ['batch', 'seq']),
      ),
    );
  }
  if (t.kep) g.output('logit_scale', logitScale(g, t.kep));
  return g;
}

/** The evaluation transform of a registry model (resize + centre crop + its normalisation). */
export function entryPreprocess(
  entry: Exclude<ModelEntry, { kind: 'bert' }>,
  size = entry.preprocess.size,
): PreprocessConfig {
  return {
    size,
    resize: 'shortest',
    interpolation: entry.preprocess.interpolation,
    crop: 'center',
    mean: [...entry.preprocess.mean],
    std: [...entry.preprocess.std],
  };
}

/** The transform with another normalisation, when the user chose one. */
function withNorm(pre: PreprocessConfig, norm: ImageNorm | undefined): PreprocessConfig {
  if (!norm) return pre;
  const { mean, std } = IMAGE_NORMS[norm];
  return { ...pre, mean: [...mean], std: [...std] };
}

function entryTowers(entry: ModelEntry, kepOverride?: KepConfig): Towers {
  if (entry.kind === 'bert')
    throw new Error(`${entry.name} has no image tower; a vision–language model needs one`);
  if (entry.kind === 'kep') {
    const cfg = kepOverride ?? entry.config;
    return {
      image: (g, x) => encodeImage(g, x, cfg),
      text: (g, ids, mask) => encodeText(g, ids, mask, cfg),
      embedDim: cfg.embedDim,
      kep: cfg,
    };
  }
  const t = towers(entry);
  const g = imageGraph(t.image!, entry.preprocess.size);
  return { image: t.image!, embedDim: g.outputs.get('embedding')!.shape[1] as number };
}

class LoadedModel implements VisionLanguageModel {
  private imageSession?: Promise<CompiledGraph>;
  private textSession?: Promise<CompiledGraph>;
  constructor(
    readonly name: string,
    readonly embedDim: number,
    readonly preprocess: PreprocessConfig,
    readonly logitScale: number,
    readonly untrained: boolean,
    readonly source: string,
    private readonly t: Towers,
    private readonly values: Map<string, Float32Array>,
    private readonly tokenizer: BertTokenizer | undefined,
    private readonly maxLength: number,
    private readonly threads: number | undefined,
  ) {}

  private session(which: 'image' | 'text'): Promise<CompiledGraph> {
    const make = (g: Graph): Promise<CompiledGraph> => {
      const paramData = new Map<string, Float32Array>();
      for (const name of g.params.keys()) paramData.set(name, this.values.get(name)!);
      return compile(g, { paramData, outputs: ['embedding'] }, this.threads ? { threads: this.threads } : {});
    };
    if (which === 'image')
      return (this.imageSession ??= make(imageGraph(this.t.image, this.preprocess.size)));
    if (!this.t.text) throw new Error(`${this.name} has no text tower: it can embed images only`);
    return (this.textSession ??= make(textGraph(this.t.text)));
  }

  async embedImages(pixels: Float32Array, count: number): Promise<Float32Array> {
    const s = this.preprocess.size;
    if (pixels.length !== count * 3 * s * s)
      throw new Error(`embedImages: ${pixels.length} values is not ${count} images of 3×${s}×${s}`);
    if (count === 0) return new Float32Array(0);
    const session = await this.session('image');
    const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [count, 3, s, s]) });
    return out.embedding!.data as Float32Array;
  }

  async embedTexts(texts: readonly string[]): Promise<Float32Array> {
    const session = await this.session('text');
    if (texts.length === 0) return new Float32Array(0);
    const parts: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 256) {
      const b = this.tokenizer!.encodeBatch(texts.slice(i, i + 256), {
        maxLength: this.maxLength,
        padding: 'longest',
        truncation: true,
      });
      const out = await session.run({
        input_ids: new ort.Tensor('int64', b.ids, b.shape),
        attention_mask: new ort.Tensor('int64', b.mask, b.shape),
      });
      parts.push(out.embedding!.data as Float32Array);
    }
    const all = new Float32Array(texts.length * this.embedDim);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    return all;
  }

  async release(): Promise<void> {
    for (const s of [this.imageSession, this.textSession]) if (s) await (await s).release();
  }
}

async function fromFolder(dir: string, threads?: number, norm?: ImageNorm): Promise<VisionLanguageModel> {
  const file = readModelFile(dir);
  const entry = getModel(file.model);
  if (entry.kind !== 'kep') throw new Error(`${dir}: model "${file.model}" is not a KEP model`);
  // A ViT trained at another size (`kep train vlp --image-size`) has that many position embeddings.
  const image: KepConfig['image'] =
    entry.config.image.kind === 'vit'
      ? { kind: 'vit', config: { ...entry.config.image.config, imageSize: file.preprocess.size } }
      : entry.config.image;
  const kep: KepConfig = {
    ...entry.config,
    image,
    text: file.text,
    embedDim: file.embedDim,
    pooling: file.pooling,
  };
  const t = entryTowers(entry, kep);
  const weights = modelWeightsPath(dir);
  const loaded = await loadStateDict(weights);
  const expected = new Map(
    [...allParams(t, file.preprocess.size).params.values()].map((p) => [p.name, p.shape]),
  );
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
  return new LoadedModel(
    file.model,
    file.embedDim,
    withNorm(file.preprocess, norm),
    Math.exp(values.get('logit_scale')![0]!),
    file.untrainedTowers.length > 0,
    `${dir}${file.origin ? ` (${file.origin})` : ''}`,
    t,
    values,
    BertTokenizer.fromVocabFile(join(dir, file.vocab)),
    file.maxLength,
    threads,
  );
}

function tokenizerFor(source: ModelSource, untrained: boolean, name: string): BertTokenizer {
  if (source.vocab) {
    const v = resolve(source.vocab);
    return statSync(v).isDirectory() ? BertTokenizer.fromFolder(v) : BertTokenizer.fromVocabFile(v);
  }
  if (source.weights && existsSync(source.weights) && statSync(source.weights).isDirectory()) {
    for (const f of ['tokenizer.json', 'vocab.txt'])
      if (existsSync(join(source.weights, f))) return BertTokenizer.fromFolder(source.weights);
  }
  if (untrained) return new BertTokenizer(characterVocabulary());
  throw new Error(
    `${name}: its text tower needs the vocabulary it was trained with: pass --vocab (a vocab.txt or tokenizer folder)`,
  );
}

export async function loadVisionLanguageModel(source: ModelSource): Promise<VisionLanguageModel> {
  if (source.dir) return fromFolder(resolve(source.dir), source.threads, source.imageNorm);
  if (!source.name) throw new Error('a model needs a folder (--model DIR) or a registry name');
  return loadEntryModel(getModel(source.name), source);
}

/** A registry entry (or one built the same way, as tests do) with the source's weights. */
export async function loadEntryModel(entry: ModelEntry, source: ModelSource): Promise<VisionLanguageModel> {
  if (entry.kind === 'bert')
    throw new Error(`${entry.name} has no image tower; a vision–language model needs one`);
  const t = entryTowers(entry);
  const pre = withNorm(entryPreprocess(entry), source.imageNorm);
  const { values, report, untrained } = await parameterValues(allParams(t, pre.size), {
    ...(source.weights ? { weights: source.weights, keyMap: source.keyMap ?? entry.keyMap } : {}),
  });
  const scale = values.get('logit_scale');
  return new LoadedModel(
    entry.name,
    t.embedDim,
    pre,
    scale ? Math.exp(scale[0]!) : t.kep ? t.kep.initialScale : 1,
    untrained,
    untrained
      ? `${entry.name} (untrained: random weights)`
      : `${source.weights} (${report ? formatLoadReport(report) : ''})`,
    t,
    values,
    t.text ? tokenizerFor(source, untrained, entry.name) : undefined,
    entry.kind === 'kep' ? entry.maxLength : 0,
    source.threads,
  );
}
