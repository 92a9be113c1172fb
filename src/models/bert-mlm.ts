// BERT's masked-language-model objective with Hugging Face's names (BertForMaskedLM / BertForPreTraining):
// the encoder under `bert.`, the head under `cls.predictions.` (transform.dense → GELU →
// transform.LayerNorm, then a decoder tied to the word embeddings plus its own bias). The loss is
// taken only over the masked positions, gathered from the flattened hidden states first, so the
// vocabulary projection — the largest matmul of a small BERT — runs for ~15 % of the tokens.
import type { Graph, Tensor } from '../engine/graph.ts';
import { truncNormal, zeros } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { layerNorm, linear } from '../nn/layers.ts';
import { type BertConfig, bert } from './bert.ts';

export const MLM_WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';

/** Logits [n, vocab] of hidden states [n, hidden] through the prediction head. */
export function mlmHead(g: Graph, x: Tensor, wordEmbeddings: Tensor, cfg: BertConfig): Tensor {
  const h = cfg.hidden;
  return g.scope('cls.predictions', () => {
    const t = g.scope('transform', () =>
      layerNorm(
        g,
        'LayerNorm',
        F.gelu(linear(g, 'dense', x, h, h, { weight: truncNormal(0.02), bias: zeros })),
        h,
        cfg.eps,
      ),
    );
    const bias = g.param('bias', [cfg.vocabSize], zeros, { decay: false });
    return F.linear(t, wordEmbeddings, bias);
  });
}

export interface MlmInputs {
  /** int64 [batch, seq]: token ids with the masked positions replaced. */
  ids: Tensor;
  /** int64 [batch, seq]: 1 for tokens, 0 for padding. */
  mask: Tensor;
  /** int64 [masked]: flat indices (row·seq + column) of the positions to predict. */
  positions: Tensor;
  /** int64 [masked]: the original tokens there. */
  labels: Tensor;
}

export interface MlmOutputs {
  /** Mean cross-entropy over the masked positions. */
  loss: Tensor;
  /** Number of masked positions predicted right (float32 scalar). */
  correct: Tensor;
  logits: Tensor;
}

export function mlmObjective(
  g: Graph,
  inputs: MlmInputs,
  cfg: BertConfig,
  opts: { training?: boolean; dropout?: number } = {},
): MlmOutputs {
  const { hidden } = g.scope('bert', () => bert(g, inputs.ids, inputs.mask, cfg, opts));
  const picked = F.gather(F.reshape(hidden, [-1, cfg.hidden]), inputs.positions, 0);
  const logits = mlmHead(g, picked, g.value(MLM_WORD_EMBEDDINGS), cfg);
  const loss = F.crossEntropy(logits, inputs.labels);
  const hits = F.cast(F.equal(F.argMax(logits, 1), inputs.labels), 'float32');
  return { loss, correct: F.reduceSum(hits), logits };
}
