import type { Tensor } from '../graph.ts';
import { type Dim, normAxis } from '../shape.ts';
import { requireFloat } from './common.ts';

function reducedShape(x: Tensor, axes: number[], keepdims: boolean): Dim[] {
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

function normAxes(op: string, x: Tensor, axes?: readonly number[]): number[] {
  const list = axes ?? [...Array(x.rank).keys()];
  return [...new Set(list.map((a) => normAxis(a, x.rank, op)))].sort((p, q) => p - q);
}

// Opset 17: ReduceSum takes its axes as an input, the other reductions as an attribute.
export function reduceSum(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
  const a = normAxes('ReduceSum', x, axes);
  return x.graph.node('ReduceSum', [x, x.graph.ints(a)], { keepdims: keepdims ? 1 : 0 }, [
    { dtype: x.dtype, shape: reducedShape(x, a, keepdims) },
  ])[0]!;
}

function attrReduce(op: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean): Tensor {
  requireFloat(op, x);
  const a = normAxes(op, x, axes);
  return x.graph.node(op, [x], { axes: a, keepdims: keepdims ? 1 : 0 }, [
    { dtype: x.dtype, shape: reducedShape(x, a, keepdims) },
  ])[0]!;
}

export const reduceMean = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  attrReduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  attrReduce('ReduceMax', x, axes, keepdims);
export const reduceMin = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  attrReduce('ReduceMin', x, axes, keepdims);
export const reduceLogSumExp = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  attrReduce('ReduceLogSumExp', x, axes, keepdims);

/** Index of the largest value along an axis (int64, no gradient): accuracies and predictions. */
export function argMax(x: Tensor, axis: number, keepdims = false): Tensor {
  requireFloat('ArgMax', x);
  const a = normAxis(axis, x.rank, 'ArgMax');
  return x.graph.node(
    'ArgMax',
    [x],
    { axis: a, keepdims: keepdims ? 1 : 0 },
    [{ dtype: 'int64', shape: reducedShape(x, [a], keepdims) }],
    { noGrad: true },
  )[0]!;
}
