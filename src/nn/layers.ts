// Building blocks shared by the ViT, Swin and BERT towers. Each creates its parameters in the
// graph under PyTorch's key names (weight [out, in], bias, LayerNorm weight/bias), so a state dict
// maps onto them name for name.
import type { Graph, Tensor } from '../engine/graph.ts';
import { type Initializer, ones, torchDefault, truncNormal, zeros } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';

export interface LinearInit {
  weight?: Initializer;
  bias?: Initializer | false;
}

export function linear(
  g: Graph,
  name: string,
  x: Tensor,
  inFeatures: number,
  outFeatures: number,
  init: LinearInit = {},
): Tensor {
  return g.scope(name, () => {
    const w = g.param('weight', [outFeatures, inFeatures], init.weight ?? torchDefault(inFeatures));
    const b =
      init.bias === false ? undefined : g.param('bias', [outFeatures], init.bias ?? torchDefault(inFeatures));
    return F.linear(x, w, b);
  });
}

export function layerNorm(g: Graph, name: string, x: Tensor, dim: number, eps: number): Tensor {
  return g.scope(name, () =>
    F.layerNorm(x, g.param('weight', [dim], ones), g.param('bias', [dim], zeros), eps),
  );
}

/** timm/ViT initialisation: truncated normal (σ 0.02) weights, zero biases. */
export const vitLinearInit: LinearInit = { weight: truncNormal(0.02), bias: zeros };

export interface AttentionConfig {
  dim: number;
  heads: number;
  /** Additive mask broadcast to [batch, heads, query, key] (0 keep, large negative drop). */
  maskBias?: Tensor;
  dropout?: number;
  training?: boolean;
}

/** Scaled dot-product attention over q, k, v of shape [B, S, dim] split into heads. */
export function attention(q: Tensor, k: Tensor, v: Tensor, cfg: AttentionConfig): Tensor {
  const { dim, heads } = cfg;
  const dh = dim / heads;
  if (!Number.isInteger(dh)) throw new Error(`attention: dim ${dim} is not divisible by ${heads} heads`);
  const split = (t: Tensor): Tensor =>
    F.transpose(F.reshape(t, [t.shape[0]!, t.shape[1]!, heads, dh]), [0, 2, 1, 3]);
  const qh = split(F.mul(q, 1 / Math.sqrt(dh)));
  const kt = F.transpose(F.reshape(k, [k.shape[0]!, k.shape[1]!, heads, dh]), [0, 2, 3, 1]);
  let scores = F.matmul(qh, kt);
  if (cfg.maskBias) scores = F.add(scores, cfg.maskBias);
  let probs = F.softmax(scores, -1);
  if (cfg.dropout) probs = F.dropout(probs, cfg.dropout, cfg.training ?? false);
  const ctx = F.matmul(probs, split(v));
  return F.reshape(F.transpose(ctx, [0, 2, 1, 3]), [q.shape[0]!, q.shape[1]!, dim]);
}

export interface VitBlockConfig {
  dim: number;
  heads: number;
  mlpDim: number;
  eps: number;
  training?: boolean;
  dropout?: number;
}

/** A pre-norm transformer block with timm's names (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2). */
export function vitBlock(g: Graph, name: string, x: Tensor, cfg: VitBlockConfig): Tensor {
  return g.scope(name, () => {
    const { dim } = cfg;
    const h = layerNorm(g, 'norm1', x, dim, cfg.eps);
    const attnOut = g.scope('attn', () => {
      const qkv = linear(g, 'qkv', h, dim, 3 * dim, vitLinearInit);
      const [q, k, v] = F.split(qkv, -1, [dim, dim, dim]) as [Tensor, Tensor, Tensor];
      const ctx = attention(q, k, v, { dim, heads: cfg.heads });
      return linear(g, 'proj', ctx, dim, dim, vitLinearInit);
    });
    const x1 = F.add(x, F.dropout(attnOut, cfg.dropout ?? 0, cfg.training ?? false));
    const h2 = layerNorm(g, 'norm2', x1, dim, cfg.eps);
    const m = g.scope('mlp', () =>
      linear(
        g,
        'fc2',
        F.gelu(linear(g, 'fc1', h2, dim, cfg.mlpDim, vitLinearInit)),
        cfg.mlpDim,
        dim,
        vitLinearInit,
      ),
    );
    return F.add(x1, F.dropout(m, cfg.dropout ?? 0, cfg.training ?? false));
  });
}

export interface BertLayerConfig {
  hidden: number;
  heads: number;
  intermediate: number;
  eps: number;
  maskBias?: Tensor;
  training?: boolean;
  dropout?: number;
}

/** A post-norm BERT layer with Hugging Face's names (attention.self.query, …, output.LayerNorm). */
export function bertLayer(g: Graph, name: string, x: Tensor, cfg: BertLayerConfig): Tensor {
  return g.scope(name, () => {
    const { hidden } = cfg;
    const init: LinearInit = { weight: truncNormal(0.02), bias: zeros };
    const drop = (t: Tensor): Tensor => F.dropout(t, cfg.dropout ?? 0, cfg.training ?? false);
    const attnOut = g.scope('attention', () => {
      const ctx = g.scope('self', () =>
        attention(
          linear(g, 'query', x, hidden, hidden, init),
          linear(g, 'key', x, hidden, hidden, init),
          linear(g, 'value', x, hidden, hidden, init),
          {
            dim: hidden,
            heads: cfg.heads,
            ...(cfg.maskBias ? { maskBias: cfg.maskBias } : {}),
            dropout: cfg.dropout ?? 0,
            training: cfg.training ?? false,
          },
        ),
      );
      return g.scope('output', () =>
        layerNorm(
          g,
          'LayerNorm',
          F.add(drop(linear(g, 'dense', ctx, hidden, hidden, init)), x),
          hidden,
          cfg.eps,
        ),
      );
    });
    const inter = g.scope('intermediate', () =>
      F.gelu(linear(g, 'dense', attnOut, hidden, cfg.intermediate, init)),
    );
    return g.scope('output', () =>
      layerNorm(
        g,
        'LayerNorm',
        F.add(drop(linear(g, 'dense', inter, cfg.intermediate, hidden, init)), attnOut),
        hidden,
        cfg.eps,
      ),
    );
  });
}

/** Additive attention bias [B, 1, 1, S] from a 0/1 mask [B, S] (as Hugging Face's extended mask). */
export function maskToBias(mask: Tensor): Tensor {
  const m = F.cast(F.unsqueeze(mask, [1, 2]), 'float32');
  return F.mul(F.sub(1, m), -3.4028234663852886e38);
}
