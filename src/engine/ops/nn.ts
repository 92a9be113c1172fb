import { type Tensor, float } from '../graph.ts';
import { type Dim, broadcastShapes, dimEqual, normAxis } from '../shape.ts';
import { fail, requireFloat } from './common.ts';
import { add, div, erf, maximum, mul, neg, sqrt } from './elementwise.ts';
import { reduceMean, reduceSum } from './reduce.ts';
import { gather, gatherElements, transpose, unsqueeze } from './shape-ops.ts';

export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('MatMul', a, b);
  if (a.rank < 2 || b.rank < 2) fail('MatMul', 'operands must have rank ≥ 2', a, b);
  const k1 = a.shape[a.rank - 1]!;
  const k2 = b.shape[b.rank - 2]!;
  if (!dimEqual(k1, k2)) fail('MatMul', `inner dims differ (${k1} vs ${k2})`, a, b);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch) fail('MatMul', 'batch dims do not broadcast', a, b);
  const shape = [...batch, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!];
  return a.graph.node('MatMul', [a, b], {}, [{ dtype: a.dtype, shape }])[0]!;
}

/** 2-D GEMM: alpha·op(A)·op(B) (+ beta·C). */
export function gemm(
  a: Tensor,
  b: Tensor,
  opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number; c?: Tensor } = {},
): Tensor {
  requireFloat('Gemm', a, b);
  if (a.rank !== 2 || b.rank !== 2) fail('Gemm', 'operands must be 2-D', a, b);
  const [m, k1] = opts.transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const [k2, n] = opts.transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
  if (!dimEqual(k1, k2)) fail('Gemm', `inner dims differ (${k1} vs ${k2})`, a, b);
  const attrs = {
    transA: opts.transA ? 1 : 0,
    transB: opts.transB ? 1 : 0,
    alpha: float(opts.alpha ?? 1),
    beta: float(opts.beta ?? 1),
  };
  const inputs = opts.c ? [a, b, opts.c] : [a, b];
  return a.graph.node('Gemm', inputs, attrs, [{ dtype: a.dtype, shape: [m, n] }])[0]!;
}

/**
 * x·Wᵀ + b with W stored [out, in] as in PyTorch, so checkpoints load without reshuffling; ONNX
 * Runtime folds the transpose into the GEMM (FusedMatMul) or into the initializer.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (weight.rank !== 2) fail('Linear', 'weight must be [out, in]', weight);
  const y = matmul(x, transpose(weight, [1, 0]));
  return bias ? add(y, bias) : y;
}

export interface Conv2dOptions {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

function convOut(size: Dim, k: number, s: number, p: number, d: number, what: string): number {
  if (typeof size !== 'number') throw new Error(`${what}: spatial dims must be static, got ${size}`);
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, opts: Conv2dOptions = {}): Tensor {
  requireFloat('Conv', x, w);
  if (x.rank !== 4 || w.rank !== 4) fail('Conv', 'expects NCHW input and OIHW weight', x, w);
  const [s0, s1] = opts.stride ?? [1, 1];
  const [p0, p1] = opts.padding ?? [0, 0];
  const [d0, d1] = opts.dilation ?? [1, 1];
  const groups = opts.groups ?? 1;
  const cin = x.shape[1]!;
  const [cout, cpg, kh, kw] = w.shape as number[];
  if (typeof cin === 'number' && cin !== cpg! * groups)
    fail('Conv', `input has ${cin} channels, weight expects ${cpg}×${groups} groups`, x, w);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== cout)) fail('Conv', 'bias must be [out_channels]', bias);
  const shape = [
    x.shape[0]!,
    cout!,
    convOut(x.shape[2]!, kh!, s0, p0, d0, 'Conv'),
    convOut(x.shape[3]!, kw!, s1, p1, d1, 'Conv'),
  ];
  const inputs = bias ? [x, w, bias] : [x, w];
  return x.graph.node(
    'Conv',
    inputs,
    {
      strides: [s0, s1],
      pads: [p0, p1, p0, p1],
      dilations: [d0, d1],
      group: groups,
      kernel_shape: [kh!, kw!],
    },
    [{ dtype: x.dtype, shape }],
  )[0]!;
}

/** The transpose of conv2d with the same options; outShape fixes the ambiguity of strided sizes. */
export function convTranspose2d(
  dy: Tensor,
  w: Tensor,
  outShape: readonly Dim[],
  opts: Conv2dOptions = {},
): Tensor {
  const [s0, s1] = opts.stride ?? [1, 1];
  const [p0, p1] = opts.padding ?? [0, 0];
  const [d0, d1] = opts.dilation ?? [1, 1];
  const [, , kh, kw] = w.shape as number[];
  const h = dy.shape[2] as number;
  const wd = dy.shape[3] as number;
  const full0 = (h - 1) * s0 - 2 * p0 + d0 * (kh! - 1) + 1;
  const full1 = (wd - 1) * s1 - 2 * p1 + d1 * (kw! - 1) + 1;
  const op0 = (outShape[2] as number) - full0;
  const op1 = (outShape[3] as number) - full1;
  return dy.graph.node(
    'ConvTranspose',
    [dy, w],
    {
      strides: [s0, s1],
      pads: [p0, p1, p0, p1],
      dilations: [d0, d1],
      group: opts.groups ?? 1,
      kernel_shape: [kh!, kw!],
      output_padding: [op0, op1],
    },
    [{ dtype: dy.dtype, shape: outShape }],
  )[0]!;
}

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor | undefined, eps = 1e-5): Tensor {
  requireFloat('LayerNormalization', x, gamma);
  const d = x.shape[x.rank - 1]!;
  if (gamma.rank !== 1 || !dimEqual(gamma.shape[0]!, d))
    fail('LayerNormalization', `scale must be [${d}]`, x, gamma);
  if (beta && (beta.rank !== 1 || !dimEqual(beta.shape[0]!, d)))
    fail('LayerNormalization', `bias must be [${d}]`, x, beta);
  const statShape = [...x.shape.slice(0, -1), 1];
  const inputs = beta ? [x, gamma, beta] : [x, gamma];
  return x.graph.node('LayerNormalization', inputs, { axis: -1, epsilon: float(eps) }, [
    { dtype: x.dtype, shape: x.shape },
    { dtype: 'float32', shape: statShape },
    { dtype: 'float32', shape: statShape },
  ])[0]!;
}

export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('Softmax', x);
  return x.graph.node('Softmax', [x], { axis: normAxis(axis, x.rank, 'Softmax') }, [
    { dtype: x.dtype, shape: x.shape },
  ])[0]!;
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('LogSoftmax', x);
  return x.graph.node('LogSoftmax', [x], { axis: normAxis(axis, x.rank, 'LogSoftmax') }, [
    { dtype: x.dtype, shape: x.shape },
  ])[0]!;
}

/** Exact (erf) GELU, written in the form ONNX Runtime's optimiser fuses into one kernel. */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, add(erf(div(x, Math.SQRT2)), 1)), 0.5);
}

/** Inverted dropout; identity when not training or p = 0. */
export function dropout(x: Tensor, p: number, training: boolean, seed = 0): Tensor {
  if (!training || p === 0) return x;
  const g = x.graph;
  const ratio = g.scalar(p);
  const mode = g.constant({ dtype: 'bool', shape: [], data: new Uint8Array([1]) });
  return g.node('Dropout', [x, ratio, mode], { seed }, [
    { dtype: x.dtype, shape: x.shape },
    { dtype: 'bool', shape: x.shape },
  ])[0]!;
}

export function embedding(table: Tensor, ids: Tensor): Tensor {
  if (table.rank !== 2) fail('Embedding', 'table must be [vocab, dim]', table);
  return gather(table, ids, 0);
}

/** x / max(‖x‖₂, eps) along axis, as torch.nn.functional.normalize. */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const norm = sqrt(reduceSum(mul(x, x), [axis], true));
  return div(x, maximum(norm, eps));
}

/** Mean cross-entropy of logits [N, C] against int64 labels [N]. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1)
    fail('CrossEntropy', 'expects logits [N, C] and labels [N]', logits, labels);
  if (!dimEqual(logits.shape[0]!, labels.shape[0]!))
    fail('CrossEntropy', 'batch sizes differ', logits, labels);
  const picked = gatherElements(logSoftmax(logits, 1), unsqueeze(labels, [1]), 1);
  return neg(reduceMean(picked));
}

export function scatterNDAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  return data.graph.node('ScatterND', [data, indices, updates], { reduction: 'add' }, [
    { dtype: data.dtype, shape: data.shape },
  ])[0]!;
}

export function scatterElementsAdd(data: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
  return data.graph.node('ScatterElements', [data, indices, updates], { axis, reduction: 'add' }, [
    { dtype: data.dtype, shape: data.shape },
  ])[0]!;
}
