import { constOf, type Graph, type Tensor } from '../graph.ts';
import {
  type Dim,
  canonicalDim,
  dimDivide,
  dimEqual,
  dimProduct,
  isStatic,
  normAxis,
  showShape,
} from '../shape.ts';
import { fail } from './common.ts';

/** Reshape to dims; one dim may be -1 (inferred), symbolic dims are resolved at runtime. */
export function reshape(x: Tensor, dims: readonly Dim[]): Tensor {
  const g = x.graph;
  const inferAt = dims.indexOf(-1);
  if (dims.filter((d) => d === -1).length > 1) fail('Reshape', `more than one -1 in ${showShape(dims)}`, x);
  const total = dimProduct(x.shape);
  let out: Dim[];
  if (inferAt >= 0) {
    const rest = dimProduct(dims.filter((_, i) => i !== inferAt));
    const inferred = dimDivide(total, rest);
    if (inferred === undefined) fail('Reshape', `cannot infer -1 in ${showShape(dims)}`, x);
    out = dims.map((d, i) => (i === inferAt ? inferred : canonicalDim(d)));
  } else {
    out = dims.map(canonicalDim);
    if (!dimEqual(dimProduct(out), total))
      fail('Reshape', `${showShape(dims)} does not hold the same number of elements`, x);
  }
  // Prefer ONNX's 0 (copy this input dim) and -1 so the shape stays a constant.
  const spec: number[] = [];
  let dynamic = 0;
  let usedMinusOne = false;
  for (let i = 0; i < out.length; i++) {
    const d = out[i]!;
    if (typeof d === 'number') spec.push(i === inferAt ? -1 : d);
    else if (i < x.rank && dimEqual(x.shape[i]!, d)) spec.push(0);
    else if (i === inferAt) {
      spec.push(-1);
      usedMinusOne = true;
    } else {
      spec.push(Number.NaN);
      dynamic++;
    }
    if (spec[i] === -1) usedMinusOne = true;
  }
  let shape: Tensor;
  if (dynamic === 0) shape = g.ints(spec);
  else if (dynamic === 1 && !usedMinusOne) shape = g.ints(spec.map((d) => (Number.isNaN(d) ? -1 : d)));
  else shape = g.shapeTensor(out);
  return g.node('Reshape', [x, shape], {}, [{ dtype: x.dtype, shape: out }])[0]!;
}

/** Reshape to the runtime shape of a tensor (used by gradients, where shapes are known to match). */
export function reshapeLike(x: Tensor, like: Tensor): Tensor {
  return x.graph.node('Reshape', [x, shapeOf(like)], {}, [{ dtype: x.dtype, shape: like.shape }])[0]!;
}

export function shapeOf(x: Tensor): Tensor {
  return x.graph.node('Shape', [x], {}, [{ dtype: 'int64', shape: [x.rank] }], { noGrad: true })[0]!;
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
    fail('Transpose', `perm [${perm.join(', ')}] is not a permutation of rank ${x.rank}`, x);
  const shape = perm.map((p) => x.shape[p]!);
  return x.graph.node('Transpose', [x], { perm: [...perm] }, [{ dtype: x.dtype, shape }])[0]!;
}

/** Swap the last two axes. */
export function transposeLast(x: Tensor): Tensor {
  const perm = [...Array(x.rank).keys()];
  [perm[x.rank - 1], perm[x.rank - 2]] = [x.rank - 2, x.rank - 1];
  return transpose(x, perm);
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const first = xs[0];
  if (!first) throw new Error('Concat: no inputs');
  const a = normAxis(axis, first.rank, 'Concat');
  for (const x of xs) {
    if (x.rank !== first.rank || x.dtype !== first.dtype) fail('Concat', 'ranks or dtypes differ', ...xs);
    for (let i = 0; i < x.rank; i++)
      if (i !== a && !dimEqual(x.shape[i]!, first.shape[i]!)) fail('Concat', `dim ${i} differs`, ...xs);
  }
  const shape = [...first.shape];
  shape[a] = sumDims(xs.map((x) => x.shape[a]!));
  return first.graph.node('Concat', xs, { axis: a }, [{ dtype: first.dtype, shape }])[0]!;
}

let freshSym = 0;
function sumDims(ds: readonly Dim[]): Dim {
  if (ds.every((d) => typeof d === 'number')) return (ds as number[]).reduce((s, d) => s + d, 0);
  return `cat${freshSym++}`;
}

export interface SliceSpec {
  axis: number;
  start: number;
  end?: number;
  step?: number;
}

export function slice(x: Tensor, specs: SliceSpec | readonly SliceSpec[]): Tensor {
  const list = Array.isArray(specs) ? (specs as SliceSpec[]) : [specs as SliceSpec];
  const g = x.graph;
  const shape = [...x.shape];
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const steps: number[] = [];
  for (const s of list) {
    const a = normAxis(s.axis, x.rank, 'Slice');
    const step = s.step ?? 1;
    if (step <= 0) fail('Slice', 'only positive steps are supported', x);
    const end = s.end ?? Number.MAX_SAFE_INTEGER;
    const d = x.shape[a]!;
    if (typeof d === 'number') {
      const lo = clampIndex(s.start, d);
      const hi = clampIndex(end, d);
      shape[a] = Math.max(0, Math.ceil((hi - lo) / step));
    } else if (s.start >= 0 && end >= 0 && end !== Number.MAX_SAFE_INTEGER) {
      shape[a] = Math.max(0, Math.ceil((end - s.start) / step)); // assumes the dim is at least `end` long
    } else {
      shape[a] = `slice${freshSym++}`;
    }
    axes.push(a);
    starts.push(s.start);
    ends.push(end);
    steps.push(step);
  }
  return g.node('Slice', [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)], {}, [
    { dtype: x.dtype, shape },
  ])[0]!;
}

function clampIndex(i: number, n: number): number {
  const j = i < 0 ? i + n : i;
  return Math.min(Math.max(j, 0), n);
}

export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32')
    fail('Gather', 'indices must be int64/int32', indices);
  const a = normAxis(axis, x.rank, 'Gather');
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return x.graph.node('Gather', [x, indices], { axis: a }, [{ dtype: x.dtype, shape }])[0]!;
}

export function gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank, 'GatherElements');
  if (indices.rank !== x.rank) fail('GatherElements', 'indices must have the rank of the data', x, indices);
  return x.graph.node('GatherElements', [x, indices], { axis: a }, [
    { dtype: x.dtype, shape: indices.shape },
  ])[0]!;
}

export function expand(x: Tensor, dims: readonly Dim[]): Tensor {
  const g = x.graph;
  const n = Math.max(x.rank, dims.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const a = x.shape[x.rank - n + i] ?? 1;
    const b = dims[dims.length - n + i] ?? 1;
    if (dimEqual(a, b) || b === 1) out.push(a);
    else if (a === 1) out.push(b);
    else fail('Expand', `cannot expand to ${showShape(dims)}`, x);
  }
  return g.node('Expand', [x, g.shapeTensor(dims)], {}, [{ dtype: x.dtype, shape: out }])[0]!;
}

/** Expand to the runtime shape of another tensor (broadcast-compatible). */
export function expandLike(x: Tensor, like: Tensor): Tensor {
  return x.graph.node('Expand', [x, shapeOf(like)], {}, [{ dtype: x.dtype, shape: like.shape }])[0]!;
}

export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const norm = axes.map((a) => normAxis(a, rank, 'Unsqueeze')).sort((p, q) => p - q);
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[k++]!);
  return x.graph.node('Unsqueeze', [x, x.graph.ints(norm)], {}, [{ dtype: x.dtype, shape }])[0]!;
}

export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank, 'Squeeze'));
  for (const a of norm) if (x.shape[a] !== 1) fail('Squeeze', `axis ${a} has size ${x.shape[a]}, not 1`, x);
  const shape = x.shape.filter((_, i) => !norm.includes(i));
  return x.graph.node('Squeeze', [x, x.graph.ints(norm)], {}, [{ dtype: x.dtype, shape }])[0]!;
}

export function split(x: Tensor, axis: number, sizes: readonly Dim[]): Tensor[] {
  const g = x.graph;
  const a = normAxis(axis, x.rank, 'Split');
  if (!dimEqualSum(sizes, x.shape[a]!))
    fail('Split', `sizes [${sizes.join(', ')}] do not add up to dim ${a}`, x);
  const sizeTensor = isStatic(sizes)
    ? g.ints(sizes)
    : g.node(
        'Concat',
        sizes.map((s) => g.symDim(s)),
        { axis: 0 },
        [{ dtype: 'int64', shape: [sizes.length] }],
        { noGrad: true },
      )[0]!;
  return g.node(
    'Split',
    [x, sizeTensor],
    { axis: a },
    sizes.map((s) => {
      const shape = [...x.shape];
      shape[a] = s;
      return { dtype: x.dtype, shape };
    }),
  );
}

function dimEqualSum(parts: readonly Dim[], whole: Dim): boolean {
  if (parts.every((p) => typeof p === 'number') && typeof whole === 'number')
    return (parts as number[]).reduce((s, p) => s + p, 0) === whole;
  return true; // symbolic sizes are checked by ONNX Runtime
}

/** Zeros with the runtime shape of x (no large constant in the file). */
export function zerosLike(x: Tensor): Tensor {
  return x.graph.node(
    'ConstantOfShape',
    [shapeOf(x)],
    { value: { kind: 'tensor', value: constOf(x.dtype, [1], [0]) } },
    [{ dtype: x.dtype, shape: x.shape }],
    { noGrad: true },
  )[0]!;
}

export function filled(
  g: Graph,
  dims: readonly Dim[],
  value: number,
  dtype: 'float32' | 'int64' = 'float32',
): Tensor {
  return g.node(
    'ConstantOfShape',
    [g.shapeTensor(dims)],
    { value: { kind: 'tensor', value: constOf(dtype, [1], [value]) } },
    [{ dtype, shape: dims }],
    { noGrad: true },
  )[0]!;
}

/** 0..n-1 as int64, n possibly symbolic. */
export function arange(g: Graph, n: Dim): Tensor {
  const limit =
    typeof n === 'number'
      ? g.constant(constOf('int64', [], [n]))
      : g.node('Squeeze', [g.symDim(n), g.ints([0])], {}, [{ dtype: 'int64', shape: [] }], {
          noGrad: true,
        })[0]!;
  const zero = g.constant(constOf('int64', [], [0]));
  const one = g.constant(constOf('int64', [], [1]));
  return g.node('Range', [zero, limit, one], {}, [{ dtype: 'int64', shape: [n] }], { noGrad: true })[0]!;
}

export function pad(x: Tensor, pads: Tensor, outShape: readonly Dim[]): Tensor {
  return x.graph.node('Pad', [x, pads], { mode: 'constant' }, [{ dtype: x.dtype, shape: outShape }])[0]!;
}
