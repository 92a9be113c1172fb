// Contrastive losses of CLIP and KEP (see ../shared/docs/kep-method.md §3).
import type { Tensor } from '../engine/graph.ts';
import * as F from '../engine/ops/index.ts';

/** ½[CE(s·A·Bᵀ) + CE(s·B·Aᵀ)] with targets on the diagonal; a and b are L2-normalised [N, D]. */
export function symmetricInfoNce(a: Tensor, b: Tensor, scale: Tensor): Tensor {
  const g = a.graph;
  const logits = F.mul(F.matmul(a, F.transpose(b, [1, 0])), scale);
  const labels = F.arange(g, a.shape[0]!);
  const ab = F.crossEntropy(logits, labels);
  const ba = F.crossEntropy(F.transpose(logits, [1, 0]), labels);
  return F.mul(F.add(ab, ba), 0.5);
}

/** The S2 objective and its terms: L_it, and for KEP also L_tk and (L_it + w·L_tk)/(1 + w). */
export interface ContrastiveTerms {
  loss: Tensor;
  it: Tensor;
  tk?: Tensor;
}

/**
 * KEP's S2 loss with its terms, one learnable scale s = exp(logit_scale); w = 0.3. Without a
 * knowledge embedding it is CLIP's loss (L_it alone). S2 training, its GradCache loss graph, the
 * benchmark and the parity test all build it here.
 */
export function kepLossTerms(
  image: Tensor,
  text: Tensor,
  knowledge: Tensor | undefined,
  logitScale: Tensor,
  knowledgeWeight = 0.3,
): ContrastiveTerms {
  const s = F.exp(logitScale);
  const it = symmetricInfoNce(image, text, s);
  if (!knowledge) return { loss: it, it };
  const tk = symmetricInfoNce(text, knowledge, s);
  return { loss: F.div(F.add(it, F.mul(tk, knowledgeWeight)), 1 + knowledgeWeight), it, tk };
}

/** KEP's S2 loss: (L_it + w·L_tk)/(1 + w) with one learnable scale s = exp(logit_scale); w = 0.3. */
export function kepLoss(
  image: Tensor,
  text: Tensor,
  knowledge: Tensor,
  logitScale: Tensor,
  knowledgeWeight = 0.3,
): Tensor {
  return kepLossTerms(image, text, knowledge, logitScale, knowledgeWeight).loss;
}
