import { type Graph, GraphError, type Tensor } from '../graph.ts';
import type { DType } from '../dtype.ts';
import { showShape } from '../shape.ts';

export type Operand = Tensor | number;

export function fail(op: string, message: string, ...tensors: Tensor[]): never {
  const shapes = tensors.map((t) => `${t.name} ${t.dtype}${showShape(t.shape)}`).join(', ');
  throw new GraphError(`${op}: ${message}${shapes ? ` (inputs: ${shapes})` : ''}`);
}

export function graphOf(...xs: Operand[]): Graph {
  for (const x of xs) if (typeof x !== 'number') return x.graph;
  throw new GraphError('an op needs at least one tensor operand');
}

/** Lift numbers to scalar constants of the other operand's dtype. */
export function lift(g: Graph, x: Operand, dtype: DType): Tensor {
  return typeof x === 'number' ? g.scalar(x, dtype) : x;
}

export function dtypeOf(...xs: Operand[]): DType {
  for (const x of xs) if (typeof x !== 'number') return x.dtype;
  return 'float32';
}

export function requireFloat(op: string, ...xs: Tensor[]): void {
  for (const x of xs)
    if (x.dtype !== 'float32' && x.dtype !== 'float16') fail(op, `expects a float tensor`, x);
}
