// The KEP model (../shared/docs/kep-method.md §2–3): an image tower (ViT or CTransPath) with a
// Linear→GELU→Linear head to 512, a text tower (BERT → pooler → MLP 768→512→512), both
// L2-normalised, one learnable logit scale, and — for S2 training — a frozen knowledge tower that is
// a second copy of the text tower. Parameter names follow src/weights/keymaps.ts (KEP_PREFIXES).
import type { Graph, Tensor } from '../engine/graph.ts';
import { constant, truncNormal, zeros } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { linear } from '../nn/layers.ts';
import { kepLoss } from '../nn/losses.ts';
import { type BertConfig, bert } from './bert.ts';
import { type SwinConfig, swin } from './swin.ts';
import { type VitConfig, vit } from './vit.ts';

export type ImageBackbone = { kind: 'vit'; config: VitConfig } | { kind: 'swin'; config: SwinConfig };

export interface KepConfig {
  image: ImageBackbone;
  text: BertConfig;
  /** Width of the shared embedding space. */
  embedDim: number;
  /** Initial logit scale s = exp(logit_scale): 1/0.04 = 25. */
  initialScale: number;
  /** Text pooling (see TextEncoderConfig); an S1 encoder trained with 'mean' keeps it in S2. */
  pooling?: 'cls' | 'mean';
}

export function imageFeatureDim(b: ImageBackbone): number {
  if (b.kind === 'vit') return b.config.numClasses > 0 ? b.config.numClasses : b.config.dim;
  return b.config.embedDim * 2 ** (b.config.depths.length - 1);
}

function mlpHead(g: Graph, name: string, x: Tensor, inDim: number, dim: number): Tensor {
  const init = { weight: truncNormal(0.02), bias: zeros };
  return g.scope(name, () => linear(g, '2', F.gelu(linear(g, '0', x, inDim, dim, init)), dim, dim, init));
}

/** L2-normalised image embeddings [batch, embedDim]. */
export function encodeImage(g: Graph, pixels: Tensor, cfg: KepConfig): Tensor {
  const features = g.scope('image', () =>
    cfg.image.kind === 'vit' ? vit(g, pixels, cfg.image.config) : swin(g, pixels, cfg.image.config),
  );
  return F.l2Normalize(mlpHead(g, 'image_head', features, imageFeatureDim(cfg.image), cfg.embedDim));
}

export interface TextEncoderConfig {
  text: BertConfig;
  embedDim: number;
  /** 'cls' (default, the paper's: BERT's tanh pooler over [CLS]) or 'mean' (masked mean of the last
   * hidden states): a randomly initialised encoder starts from a bag-of-tokens representation with
   * mean pooling, where [CLS] starts out the same for every text (docs/knowledge-encoder.md). */
  pooling?: 'cls' | 'mean';
}

function maskedMean(hidden: Tensor, mask: Tensor): Tensor {
  const m = F.unsqueeze(F.cast(mask, 'float32'), [2]);
  return F.div(F.reduceSum(F.mul(hidden, m), [1]), F.reduceSum(m, [1]));
}

/**
 * L2-normalised text embeddings: BERT → pooler → Linear→GELU→Linear. This is the knowledge
 * encoder of S1 and KEP's text tower; `tower` is 'text', or 'knowledge' for S2's frozen copy, so an
 * S1 checkpoint initialises both by name.
 */
export function encodeText(
  g: Graph,
  ids: Tensor,
  mask: Tensor,
  cfg: TextEncoderConfig,
  tower: 'text' | 'knowledge' = 'text',
  opts: { training?: boolean; dropout?: number } = {},
): Tensor {
  const { pooled, hidden } = g.scope(tower, () => bert(g, ids, mask, cfg.text, opts));
  const features = cfg.pooling === 'mean' ? maskedMean(hidden, mask) : pooled;
  return F.l2Normalize(mlpHead(g, `${tower}_head`, features, cfg.text.hidden, cfg.embedDim));
}

export function logitScale(g: Graph, cfg: KepConfig): Tensor {
  return g.param('logit_scale', [], constant(Math.log(cfg.initialScale)), { decay: false });
}

/**
 * S2 training objective on a batch of image–caption pairs: (L_it + 0.3·L_tk)/1.3, with the
 * knowledge tower frozen (its parameters are marked non-trainable and its output cut from the
 * gradient).
 */
export function kepTrainingLoss(g: Graph, pixels: Tensor, ids: Tensor, mask: Tensor, cfg: KepConfig): Tensor {
  const image = encodeImage(g, pixels, cfg);
  const text = encodeText(g, ids, mask, cfg, 'text');
  const knowledge = F.stopGradient(encodeText(g, ids, mask, cfg, 'knowledge'));
  g.freeze('knowledge.', 'knowledge_head.');
  return kepLoss(image, text, knowledge, logitScale(g, cfg));
}
