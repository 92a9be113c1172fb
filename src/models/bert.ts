// BERT encoder with Hugging Face's parameter names (embeddings.*, encoder.layer.N.*, pooler.dense),
// post-norm layers, exact GELU, and the tanh pooler over [CLS].
import type { Graph, Tensor } from '../engine/graph.ts';
import { ones, truncNormal, zeros } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { bertLayer, linear, maskToBias } from '../nn/layers.ts';

export interface BertConfig {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  typeVocabSize: number;
  eps: number;
}

export const bertConfigs = {
  'bert-base': {
    vocabSize: 30522,
    hidden: 768,
    layers: 12,
    heads: 12,
    intermediate: 3072,
    maxPositions: 512,
    typeVocabSize: 2,
    eps: 1e-12,
  },
  'bert-small': {
    vocabSize: 30522,
    hidden: 256,
    layers: 4,
    heads: 4,
    intermediate: 1024,
    maxPositions: 512,
    typeVocabSize: 2,
    eps: 1e-12,
  },
} satisfies Record<string, BertConfig>;

export interface BertOutputs {
  /** Last hidden states [batch, seq, hidden]. */
  hidden: Tensor;
  /** tanh(W·h_CLS + b) [batch, hidden]. */
  pooled: Tensor;
}

/** ids and mask are int64 [batch, seq]; token types are all zero (single-segment text). */
export function bert(
  g: Graph,
  ids: Tensor,
  mask: Tensor,
  cfg: BertConfig,
  opts: { training?: boolean; dropout?: number } = {},
): BertOutputs {
  const [batch, seq] = [ids.shape[0]!, ids.shape[1]!];
  const h = cfg.hidden;
  const training = opts.training ?? false;
  const dropout = opts.dropout ?? 0;
  let x = g.scope('embeddings', () => {
    const words = F.embedding(g.param('word_embeddings.weight', [cfg.vocabSize, h], truncNormal(0.02)), ids);
    const pos = F.gather(
      g.param('position_embeddings.weight', [cfg.maxPositions, h], truncNormal(0.02)),
      F.arange(g, seq),
      0,
    );
    const type0 = F.slice(
      g.param('token_type_embeddings.weight', [cfg.typeVocabSize, h], truncNormal(0.02)),
      {
        axis: 0,
        start: 0,
        end: 1,
      },
    );
    const sum = F.add(F.add(words, pos), type0);
    const normed = F.layerNorm(
      sum,
      g.param('LayerNorm.weight', [h], ones),
      g.param('LayerNorm.bias', [h], zeros),
      cfg.eps,
    );
    return F.dropout(normed, dropout, training);
  });
  const maskBias = maskToBias(mask);
  for (let i = 0; i < cfg.layers; i++)
    x = bertLayer(g, `encoder.layer.${i}`, x, {
      hidden: h,
      heads: cfg.heads,
      intermediate: cfg.intermediate,
      eps: cfg.eps,
      maskBias,
      training,
      dropout,
    });
  const cls = F.reshape(F.slice(x, { axis: 1, start: 0, end: 1 }), [batch, h]);
  const pooled = g.scope('pooler', () =>
    F.tanh(linear(g, 'dense', cls, h, h, { weight: truncNormal(0.02), bias: zeros })),
  );
  return { hidden: x, pooled };
}
