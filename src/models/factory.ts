// The one place a model's graphs are built from its spec, for inference, ONNX export, S1 and S2
// (open_clip's create_model). One naming for every graph: inputs `pixels` [batch, 3, size, size],
// `input_ids` and `attention_mask` [batch, seq] (int64), output `embedding`. Parameter names are
// the towers' own (src/weights/keymaps.ts), so a checkpoint written by any of them loads in all.
import { Graph, type Tensor } from '../engine/graph.ts';
import * as F from '../engine/ops/index.ts';
import { bert } from './bert.ts';
import { type KepConfig, encodeImage, encodeText, imageFeatureDim, logitScale } from './kep.ts';
import type { KepSpec, ModelSpec, TextEncoderSpec } from './spec.ts';
import { swin } from './swin.ts';
import { vit } from './vit.ts';

export const INPUT_PIXELS = 'pixels';
export const INPUT_IDS = 'input_ids';
export const INPUT_MASK = 'attention_mask';
export const OUTPUT_EMBEDDING = 'embedding';

export type TowerName = 'image' | 'text';

export interface TowerOptions {
  /** Training graph: dropout (text tower) is active. */
  training?: boolean;
  dropout?: number;
}

/** The graph configuration of a KEP spec's towers (pooling comes from the tokenizer settings). */
export function kepConfigOf(spec: KepSpec): KepConfig {
  return { ...spec.config, pooling: spec.tokenizer.pooling };
}

function textEncoderConfigOf(spec: KepSpec | TextEncoderSpec) {
  return { ...spec.config, pooling: spec.tokenizer.pooling };
}

/** Which towers a spec has. */
export function towerNames(spec: ModelSpec): TowerName[] {
  switch (spec.kind) {
    case 'vit':
    case 'swin':
      return ['image'];
    case 'bert':
    case 'text-encoder':
      return ['text'];
    case 'kep':
      return ['image', 'text'];
  }
}

/** Width of a spec's output embedding. */
export function embeddingDim(spec: ModelSpec): number {
  switch (spec.kind) {
    case 'vit':
      return imageFeatureDim({ kind: 'vit', config: spec.config });
    case 'swin':
      return imageFeatureDim({ kind: 'swin', config: spec.config });
    case 'bert':
      return spec.config.hidden;
    case 'kep':
    case 'text-encoder':
      return spec.config.embedDim;
  }
}

export function pixelsInput(g: Graph, size: number): Tensor {
  return g.input(INPUT_PIXELS, 'float32', ['batch', 3, size, size]);
}

export function textInputs(g: Graph): { ids: Tensor; mask: Tensor } {
  return {
    ids: g.input(INPUT_IDS, 'int64', ['batch', 'seq']),
    mask: g.input(INPUT_MASK, 'int64', ['batch', 'seq']),
  };
}

/** The image tower's embedding of `pixels` (features for a plain backbone, L2-normalised for KEP). */
export function imageTower(g: Graph, spec: ModelSpec, pixels: Tensor, opts: TowerOptions = {}): Tensor {
  switch (spec.kind) {
    case 'vit':
      return vit(g, pixels, spec.config, opts.training ? { training: true } : {});
    case 'swin':
      return swin(g, pixels, spec.config);
    case 'kep':
      return encodeImage(g, pixels, kepConfigOf(spec));
    default:
      throw new Error(`${spec.name} has no image tower`);
  }
}

/**
 * The text tower's embedding. `tower` 'knowledge' builds S2's frozen copy of the text encoder under
 * its own names (knowledge.*, knowledge_head.*), so one S1 checkpoint initialises both.
 */
export function textTower(
  g: Graph,
  spec: ModelSpec,
  inputs: { ids: Tensor; mask: Tensor },
  opts: TowerOptions & { tower?: 'text' | 'knowledge' } = {},
): Tensor {
  const o = {
    ...(opts.training ? { training: true } : {}),
    ...(opts.dropout ? { dropout: opts.dropout } : {}),
  };
  switch (spec.kind) {
    case 'bert':
      return bert(g, inputs.ids, inputs.mask, spec.config, o).pooled;
    case 'kep':
    case 'text-encoder':
      return encodeText(g, inputs.ids, inputs.mask, textEncoderConfigOf(spec), opts.tower ?? 'text', o);
    default:
      throw new Error(`${spec.name} has no text tower`);
  }
}

/** The learnable temperature of a KEP spec (log of the scale). */
export function logitScaleParam(g: Graph, spec: KepSpec): Tensor {
  return logitScale(g, kepConfigOf(spec));
}

export interface TowerGraphs {
  image?: Graph;
  text?: Graph;
  /** Every parameter of the model (both towers and KEP's logit scale, which no tower uses but every
   * KEP checkpoint holds): one key-mapping pass checks a checkpoint against the whole model. */
  all: Graph;
}

/**
 * The model's graphs with the fixed naming: 'inference' graphs (one per tower, output `embedding`),
 * or 'train' graphs whose towers run in training mode (dropout active).
 */
export function towerGraphs(
  spec: ModelSpec,
  mode: 'inference' | 'train' = 'inference',
  dropout = 0,
): TowerGraphs {
  const opts: TowerOptions = mode === 'train' ? { training: true, dropout } : {};
  const size = 'preprocess' in spec ? spec.preprocess.size : 0;
  const towers = towerNames(spec);
  const out: TowerGraphs = { all: new Graph(`${spec.name}-all`) };
  if (towers.includes('image')) {
    const g = new Graph(`${spec.name}-image`);
    g.output(OUTPUT_EMBEDDING, imageTower(g, spec, pixelsInput(g, size), opts));
    out.image = g;
  }
  if (towers.includes('text')) {
    const g = new Graph(`${spec.name}-text`);
    g.output(OUTPUT_EMBEDDING, textTower(g, spec, textInputs(g), opts));
    out.text = g;
  }
  for (const g of [out.image, out.text])
    if (g) for (const p of g.params.values()) out.all.params.set(p.name, p);
  if (spec.kind === 'kep') out.all.output('logit_scale', logitScaleParam(out.all, spec));
  return out;
}

/** A KEP batch through both towers (and the frozen knowledge tower when asked): S2's forward pass. */
export function kepForward(
  g: Graph,
  spec: KepSpec,
  opts: TowerOptions & { knowledge?: boolean } = {},
): { image: Tensor; text: Tensor; knowledge?: Tensor; logitScale: Tensor } {
  const pixels = pixelsInput(g, spec.preprocess.size);
  const inputs = textInputs(g);
  const image = imageTower(g, spec, pixels, opts);
  const text = textTower(g, spec, inputs, opts);
  const scale = logitScaleParam(g, spec);
  if (!opts.knowledge) return { image, text, logitScale: scale };
  const knowledge = F.stopGradient(textTower(g, spec, inputs, { tower: 'knowledge' }));
  g.freeze('knowledge.', 'knowledge_head.');
  return { image, text, knowledge, logitScale: scale };
}
