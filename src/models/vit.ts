// Vision Transformer (Dosovitskiy et al.) with timm's parameter names: patch_embed.proj, cls_token,
// pos_embed, blocks.N.*, norm, head. Pre-norm blocks, exact GELU, class-token pooling.
import type { Graph, Tensor } from '../engine/graph.ts';
import { truncNormal, zeros } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { layerNorm, linear, vitBlock, vitLinearInit } from '../nn/layers.ts';

export interface VitConfig {
  imageSize: number;
  patchSize: number;
  channels: number;
  dim: number;
  depth: number;
  heads: number;
  mlpDim: number;
  eps: number;
  /** Output head on the pooled token (a classifier, or CLIP's projection); none when 0. */
  numClasses: number;
  /** Bias on the head (false for CLIP's and BiomedCLIP's projections). */
  headBias?: boolean;
  /** Bias on the patch-embedding conv (false in OpenAI CLIP). */
  patchBias?: boolean;
  /** LayerNorm after the embeddings (CLIP's ln_pre, timm's norm_pre). */
  preNorm?: boolean;
}

const base: VitConfig = {
  imageSize: 224,
  patchSize: 16,
  channels: 3,
  dim: 768,
  depth: 12,
  heads: 12,
  mlpDim: 3072,
  eps: 1e-6,
  numClasses: 0,
};

export const vitConfigs = {
  'vit-b-16': base,
  'vit-b-32': { ...base, patchSize: 32 },
  /** OpenAI CLIP's ViT-B/32 visual tower (KEP-32): ln_pre, no patch bias, projection to 512 without bias, eps 1e-5. */
  'clip-vit-b-32': {
    ...base,
    patchSize: 32,
    eps: 1e-5,
    numClasses: 512,
    headBias: false,
    patchBias: false,
    preNorm: true,
  },
  /** BiomedCLIP's ViT-B/16 visual tower (KEP-16): timm ViT-B/16 with a 512-d projection without bias. */
  'biomedclip-vit-b-16': { ...base, numClasses: 512, headBias: false },
  'vit-s-16': { ...base, dim: 384, heads: 6, mlpDim: 1536 },
  'vit-tiny-16': { ...base, imageSize: 32, dim: 32, depth: 2, heads: 2, mlpDim: 64 },
} satisfies Record<string, VitConfig>;

/** Pooled (class-token) features [batch, dim], or logits when the config has a head. */
export function vit(g: Graph, pixels: Tensor, cfg: VitConfig, opts: { training?: boolean } = {}): Tensor {
  const { dim, patchSize: p, imageSize } = cfg;
  const grid = imageSize / p;
  if (!Number.isInteger(grid))
    throw new Error(`ViT: image size ${imageSize} is not a multiple of patch ${p}`);
  const tokens = grid * grid;
  const batch = pixels.shape[0]!;
  const patches = g.scope('patch_embed', () =>
    g.scope('proj', () =>
      F.conv2d(
        pixels,
        g.param('weight', [dim, cfg.channels, p, p], truncNormal(0.02)),
        cfg.patchBias === false ? undefined : g.param('bias', [dim], zeros),
        { stride: [p, p] },
      ),
    ),
  );
  const seq = F.transpose(F.reshape(patches, [batch, dim, tokens]), [0, 2, 1]);
  const cls = F.expand(g.param('cls_token', [1, 1, dim], truncNormal(0.02)), [batch, 1, dim]);
  let x = F.add(F.concat([cls, seq], 1), g.param('pos_embed', [1, tokens + 1, dim], truncNormal(0.02)));
  if (cfg.preNorm) x = layerNorm(g, 'norm_pre', x, dim, cfg.eps);
  for (let i = 0; i < cfg.depth; i++)
    x = vitBlock(g, `blocks.${i}`, x, {
      dim,
      heads: cfg.heads,
      mlpDim: cfg.mlpDim,
      eps: cfg.eps,
      training: opts.training ?? false,
    });
  x = layerNorm(g, 'norm', x, dim, cfg.eps);
  const pooled = F.reshape(F.slice(x, { axis: 1, start: 0, end: 1 }), [batch, dim]);
  if (cfg.numClasses === 0) return pooled;
  return linear(g, 'head', pooled, dim, cfg.numClasses, {
    ...vitLinearInit,
    ...(cfg.headBias === false ? { bias: false } : {}),
  });
}
