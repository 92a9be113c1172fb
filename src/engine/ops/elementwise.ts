import type { DType } from '../dtype.ts';
import type { Tensor } from '../graph.ts';
import { broadcastShapes } from '../shape.ts';
import { type Operand, dtypeOf, fail, graphOf, lift, requireFloat } from './common.ts';

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Tensor {
  const g = graphOf(a, b);
  const dtype = dtypeOf(a, b);
  const ta = lift(g, a, dtype);
  const tb = lift(g, b, dtype);
  if (ta.dtype !== tb.dtype) fail(op, `dtypes differ`, ta, tb);
  const shape = broadcastShapes(ta.shape, tb.shape);
  if (!shape) fail(op, `shapes do not broadcast`, ta, tb);
  const noGrad = outDtype === 'bool' || (dtype !== 'float32' && dtype !== 'float16');
  return g.node(op, [ta, tb], {}, [{ dtype: outDtype ?? dtype, shape }], { noGrad })[0]!;
}

export const add = (a: Operand, b: Operand): Tensor => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('Pow', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('Max', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('Min', a, b);
export const equal = (a: Operand, b: Operand): Tensor => binary('Equal', a, b, 'bool');
export const less = (a: Operand, b: Operand): Tensor => binary('Less', a, b, 'bool');
export const greater = (a: Operand, b: Operand): Tensor => binary('Greater', a, b, 'bool');

function unary(op: string, x: Tensor, float = true): Tensor {
  if (float) requireFloat(op, x);
  return x.graph.node(op, [x], {}, [{ dtype: x.dtype, shape: x.shape }])[0]!;
}

export const neg = (x: Tensor): Tensor => unary('Neg', x, false);
export const exp = (x: Tensor): Tensor => unary('Exp', x);
export const log = (x: Tensor): Tensor => unary('Log', x);
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
export const erf = (x: Tensor): Tensor => unary('Erf', x);
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
export const reciprocal = (x: Tensor): Tensor => unary('Reciprocal', x);
export const abs = (x: Tensor): Tensor => unary('Abs', x, false);
export const relu = (x: Tensor): Tensor => unary('Relu', x);
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
export const softplus = (x: Tensor): Tensor => unary('Softplus', x);
export const sign = (x: Tensor): Tensor => unary('Sign', x, false);
export const identity = (x: Tensor): Tensor => unary('Identity', x, false);
export const square = (x: Tensor): Tensor => mul(x, x);

/** Same value, but no gradient flows back through it. */
export function stopGradient(x: Tensor): Tensor {
  return x.graph.node('Identity', [x], {}, [{ dtype: x.dtype, shape: x.shape }], { noGrad: true })[0]!;
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  const code = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10 }[to];
  const noGrad = !(to === 'float32' || to === 'float16') || x.dtype === 'bool' || x.dtype.startsWith('int');
  return x.graph.node('Cast', [x], { to: code }, [{ dtype: to, shape: x.shape }], { noGrad })[0]!;
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const g = cond.graph;
  if (cond.dtype !== 'bool') fail('Where', 'condition must be bool', cond);
  const dtype = dtypeOf(a, b);
  const ta = lift(g, a, dtype);
  const tb = lift(g, b, dtype);
  if (ta.dtype !== tb.dtype) fail('Where', 'branch dtypes differ', ta, tb);
  const ab = broadcastShapes(ta.shape, tb.shape);
  const shape = ab && broadcastShapes(cond.shape, ab);
  if (!shape) fail('Where', 'shapes do not broadcast', cond, ta, tb);
  return g.node('Where', [cond, ta, tb], {}, [{ dtype, shape }])[0]!;
}

/** max(x, lo) and min(x, hi) as in torch.clamp; a bound of undefined is open. */
export function clamp(x: Tensor, lo?: number, hi?: number): Tensor {
  let y = x;
  if (lo !== undefined) y = maximum(y, lo);
  if (hi !== undefined) y = minimum(y, hi);
  return y;
}
