// Metric-learning losses of KEP's knowledge encoder (../shared/docs/kep-method.md §2; docs/losses.md):
// AdaSP (Zhou et al., CVPR 2023) and the batch-hard soft-margin triplet loss. Both take a P×K
// identity batch: P identities × K samples, each identity's K rows contiguous.
import { constOf, type Graph, GraphError, type Tensor } from '../engine/graph.ts';
import * as F from '../engine/ops/index.ts';
import { showShape } from '../engine/shape.ts';

export interface MetricLossOptions {
  /**
   * L2-normalise the rows first (default true, as the reference AdaSP does). Pass false only when
   * the features are already unit rows (e.g. KEP's head output), to skip the redundant work.
   */
  normalize?: boolean;
}

export interface AdaspOptions extends MetricLossOptions {
  /** τ: similarities are divided by it (default 0.04). */
  temperature?: number;
  /**
   * 'adasp' (default) mixes the hard and soft positive terms with the adaptive weight; 'sp-h'
   * uses the hard term only (w = 1), 'sp-lh' the soft term only (w = 0), as the reference code's
   * loss_type does.
   */
  variant?: 'adasp' | 'sp-h' | 'sp-lh';
}

/** Per-identity terms of AdaSP, each [P]; all are logs, so none overflows. */
export interface AdaspTerms {
  /** l_k = −log Σ_{i,j∈k} exp(−S_ij): soft minimum of the within-identity similarities. */
  hard: Tensor;
  /** s_k = log Σ_{i∈k} 1 / Σ_{j∈k} exp(−S_ij): soft maximum over anchors of each anchor's soft minimum. */
  soft: Tensor;
  /** log Σ_{m≠k} N_km = log Σ_{i∈k, j∉k} exp(S_ij). */
  negatives: Tensor;
  temperature: number;
}

// Stands in for "excluded" in log-space reductions. Finite (unlike −∞) so that no EP ever sees
// ∞ − ∞; similarities are bounded by 1/τ, so nothing real comes near it.
const EXCLUDED = 1e9;

/**
 * Checks P and K, pins the batch to P·K rows and normalises. A static batch is checked here; a
 * symbolic one is pinned by a Reshape to [P·K, D], which ONNX Runtime checks when the graph runs.
 */
function identityBatch(op: string, features: Tensor, p: number, k: number, normalize: boolean): Tensor {
  const where = `${op}(features ${features.dtype}${showShape(features.shape)}, P=${p}, K=${k})`;
  if (features.rank !== 2) throw new GraphError(`${where}: features must be [P·K, D]`);
  if (!Number.isInteger(p) || p < 2)
    throw new GraphError(`${where}: P must be an integer ≥ 2 (negatives need a second identity)`);
  if (!Number.isInteger(k) || k < 2)
    throw new GraphError(`${where}: K must be an integer ≥ 2 (positives need a second sample per identity)`);
  const n = p * k;
  const rows = features.shape[0]!;
  let f = features;
  if (typeof rows === 'number') {
    if (rows !== n) throw new GraphError(`${where}: the batch has ${rows} rows but P×K = ${p}×${k} = ${n}`);
  } else {
    f = features.graph.node('Reshape', [features, features.graph.ints([n, -1])], {}, [
      { dtype: features.dtype, shape: [n, features.shape[1]!] },
    ])[0]!;
  }
  return normalize ? F.l2Normalize(f, -1) : f;
}

/** [N, N] bool constant: entry (i, j) is pred(i, j) with N = P·K. */
function pairMask(g: Graph, n: number, pred: (i: number, j: number) => boolean): Tensor {
  const data = new Array<number>(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = pred(i, j) ? 1 : 0;
  return g.constant(constOf('bool', [n, n], data), 'pair_mask');
}

const sameIdentity = (g: Graph, p: number, k: number): Tensor =>
  pairMask(g, p * k, (i, j) => Math.floor(i / k) === Math.floor(j / k));

/** log Σ over each identity's K contiguous entries of a per-row vector [N] → [P]. */
const groupLogSumExp = (x: Tensor, p: number, k: number): Tensor =>
  F.reduceLogSumExp(F.reshape(x, [p, k]), [1]);

/** The per-identity terms of AdaSP from a P×K batch, in log space. */
export function adaspTerms(
  features: Tensor,
  p: number,
  k: number,
  opts: Omit<AdaspOptions, 'variant'> = {},
): AdaspTerms {
  const tau = opts.temperature ?? 0.04;
  if (!(tau > 0) || !Number.isFinite(tau))
    throw new GraphError(`adaspLoss: temperature must be a positive number, got ${tau}`);
  const f = identityBatch('adaspLoss', features, p, k, opts.normalize ?? true);
  const s = F.mul(F.matmul(f, F.transpose(f, [1, 0])), 1 / tau);
  const same = sameIdentity(f.graph, p, k);
  // r_i = log Σ_{j∈k(i)} exp(−S_ij); both positive terms are log-sum-exps of ±r over the identity.
  const r = F.reduceLogSumExp(F.where(same, F.neg(s), -EXCLUDED), [1]);
  const hard = F.neg(groupLogSumExp(r, p, k));
  const soft = groupLogSumExp(F.neg(r), p, k);
  const negRow = F.reduceLogSumExp(F.where(same, -EXCLUDED, s), [1]);
  return { hard, soft, negatives: groupLogSumExp(negRow, p, k), temperature: tau };
}

/**
 * w_k = 2ab/(a+b) with a = τ·s_k, b = τ·l_k, no gradient; 0 where b ≤ 0. s_k − l_k ≥ 2·log K by
 * the AM–HM inequality, so a > b > 0 wherever the formula is used and its denominator is positive.
 */
export function adaptiveWeight(terms: AdaspTerms): Tensor {
  const a = F.mul(F.stopGradient(terms.soft), terms.temperature);
  const b = F.mul(F.stopGradient(terms.hard), terms.temperature);
  const used = F.greater(b, 0);
  const den = F.where(used, F.add(a, b), 1);
  return F.where(used, F.div(F.mul(F.mul(a, b), 2), den), 0);
}

/**
 * −mean_k log(p_k / (p_k + Σ_{m≠k} N_km)) with log p_k = w_k·l_k + (1−w_k)·s_k, written as
 * mean_k softplus(log Σ N − log p) so no exp of a similarity is ever formed.
 */
export function adaspFromTerms(terms: AdaspTerms, weight: Tensor | number): Tensor {
  const logP = F.add(terms.soft, F.mul(weight, F.sub(terms.hard, terms.soft)));
  return F.reduceMean(F.softplus(F.sub(terms.negatives, logP)));
}

/**
 * AdaSP loss (adaptive sparse pairwise, temperature 0.04) of a P×K identity batch [P·K, D];
 * a scalar. The batch dim may be static (checked against P·K now) or symbolic (checked at run time).
 */
export function adaspLoss(features: Tensor, p: number, k: number, opts: AdaspOptions = {}): Tensor {
  const terms = adaspTerms(features, p, k, opts);
  const variant = opts.variant ?? 'adasp';
  const weight = variant === 'adasp' ? adaptiveWeight(terms) : variant === 'sp-h' ? 1 : 0;
  return adaspFromTerms(terms, weight);
}

/**
 * Batch-hard soft-margin triplet loss on cosine distance d = (1 − cos)/2 of a P×K identity batch:
 * mean over anchors of softplus(max_{positives} d − min_{negatives} d), the anchor itself not
 * counted as a positive. The gradient flows through the selected pairs only (split evenly on ties).
 */
export function tripletLoss(features: Tensor, p: number, k: number, opts: MetricLossOptions = {}): Tensor {
  const f = identityBatch('tripletLoss', features, p, k, opts.normalize ?? true);
  const g = f.graph;
  const d = F.mul(F.sub(1, F.matmul(f, F.transpose(f, [1, 0]))), 0.5);
  const positive = pairMask(g, p * k, (i, j) => i !== j && Math.floor(i / k) === Math.floor(j / k));
  const hardestPositive = F.reduceMax(F.where(positive, d, -EXCLUDED), [1]);
  const hardestNegative = F.reduceMin(F.where(sameIdentity(g, p, k), EXCLUDED, d), [1]);
  return F.reduceMean(F.softplus(F.sub(hardestPositive, hardestNegative)));
}
