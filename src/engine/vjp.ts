// Vector–Jacobian products, one rule per ONNX op, each emitting only standard ONNX ops into the
// same graph, so the stock ONNX Runtime build executes the backward pass.
import { type Graph, GraphError, type GraphNode, type Tensor } from './graph.ts';
import { type Dim, dimEqual, dimProduct, isStatic } from './shape.ts';
import * as F from './ops/index.ts';

export interface VjpContext {
  g: Graph;
  node: GraphNode;
  x: (Tensor | undefined)[];
  y: Tensor[];
  dy: (Tensor | undefined)[];
  needs: boolean[];
}

export type VjpRule = (c: VjpContext) => (Tensor | undefined)[];

const ints = (g: Graph, name: string): number[] => {
  const c = g.constants.get(name);
  if (!c) throw new GraphError(`expected a constant for input ${name}`);
  return Array.from(c.data as ArrayLike<number | bigint>, Number);
};

const attrInts = (n: GraphNode, key: string): number[] | undefined => n.attrs[key] as number[] | undefined;

/** Sum a broadcast gradient back to the shape of the operand it came from. */
export function unbroadcast(grad: Tensor, target: Tensor): Tensor {
  if (grad.rank === target.rank && grad.shape.every((d, i) => dimEqual(d, target.shape[i]!))) return grad;
  const lead = grad.rank - target.rank;
  let out = grad;
  if (lead > 0) out = F.reduceSum(out, [...Array(lead).keys()], false);
  const axes = target.shape.flatMap((d, i) => (d === 1 && out.shape[i] !== 1 ? [i] : []));
  if (axes.length) out = F.reduceSum(out, axes, true);
  return out.shape.every((d, i) => dimEqual(d, target.shape[i]!)) ? out : F.reshapeLike(out, target);
}

const one = (x: Tensor | undefined, what: string): Tensor => {
  if (!x) throw new GraphError(`${what}: missing operand`);
  return x;
};

function reducedAxesOf(c: VjpContext): number[] {
  const x = one(c.x[0], c.node.op);
  const axes =
    c.node.op === 'ReduceSum' ? (c.x[1] ? ints(c.g, c.x[1].name) : undefined) : attrInts(c.node, 'axes');
  return (axes ?? [...Array(x.rank).keys()]).map((a) => (a < 0 ? a + x.rank : a));
}

/** dy of a reduction, with the reduced axes restored as size-1 dims. */
function keepDims(c: VjpContext, dy: Tensor): Tensor {
  return c.node.attrs.keepdims === 0 ? F.unsqueeze(dy, reducedAxesOf(c)) : dy;
}

function countOf(g: Graph, dims: Dim[]): Tensor | number {
  const n = dimProduct(dims);
  return typeof n === 'number' ? n : F.cast(g.symDim(n), 'float32');
}

const rules: Record<string, VjpRule> = {
  Identity: ({ dy }) => [dy[0]],
  Add: ({ x, dy }) => [unbroadcast(dy[0]!, x[0]!), unbroadcast(dy[0]!, x[1]!)],
  Sub: ({ x, dy }) => [unbroadcast(dy[0]!, x[0]!), unbroadcast(F.neg(dy[0]!), x[1]!)],
  Mul: ({ x, dy, needs }) => [
    needs[0] ? unbroadcast(F.mul(dy[0]!, x[1]!), x[0]!) : undefined,
    needs[1] ? unbroadcast(F.mul(dy[0]!, x[0]!), x[1]!) : undefined,
  ],
  Div: ({ x, y, dy, needs }) => [
    needs[0] ? unbroadcast(F.div(dy[0]!, x[1]!), x[0]!) : undefined,
    needs[1] ? unbroadcast(F.neg(F.div(F.mul(dy[0]!, y[0]!), x[1]!)), x[1]!) : undefined,
  ],
  Pow: ({ x, y, dy, needs }) => [
    needs[0] ? unbroadcast(F.mul(F.mul(dy[0]!, x[1]!), F.pow(x[0]!, F.sub(x[1]!, 1))), x[0]!) : undefined,
    needs[1] ? unbroadcast(F.mul(F.mul(dy[0]!, y[0]!), F.log(x[0]!)), x[1]!) : undefined,
  ],
  Max: ({ x, dy }) => {
    const aWins = F.less(x[0]!, x[1]!); // true where b is larger
    return [unbroadcast(F.where(aWins, 0, dy[0]!), x[0]!), unbroadcast(F.where(aWins, dy[0]!, 0), x[1]!)];
  },
  Min: ({ x, dy }) => {
    const bSmaller = F.greater(x[0]!, x[1]!);
    return [
      unbroadcast(F.where(bSmaller, 0, dy[0]!), x[0]!),
      unbroadcast(F.where(bSmaller, dy[0]!, 0), x[1]!),
    ];
  },
  Neg: ({ dy }) => [F.neg(dy[0]!)],
  Exp: ({ y, dy }) => [F.mul(dy[0]!, y[0]!)],
  Log: ({ x, dy }) => [F.div(dy[0]!, x[0]!)],
  Tanh: ({ y, dy }) => [F.mul(dy[0]!, F.sub(1, F.mul(y[0]!, y[0]!)))],
  Erf: ({ x, dy }) => [F.mul(dy[0]!, F.mul(F.exp(F.neg(F.mul(x[0]!, x[0]!))), 2 / Math.sqrt(Math.PI)))],
  Sqrt: ({ y, dy }) => [F.div(F.mul(dy[0]!, 0.5), y[0]!)],
  Reciprocal: ({ y, dy }) => [F.neg(F.mul(dy[0]!, F.mul(y[0]!, y[0]!)))],
  Abs: ({ x, dy }) => [F.mul(dy[0]!, F.sign(x[0]!))],
  Relu: ({ x, dy }) => [F.where(F.greater(x[0]!, 0), dy[0]!, 0)],
  Sigmoid: ({ y, dy }) => [F.mul(dy[0]!, F.mul(y[0]!, F.sub(1, y[0]!)))],
  Softplus: ({ x, dy }) => [F.mul(dy[0]!, F.sigmoid(x[0]!))],
  Cast: ({ x, dy }) => [F.cast(dy[0]!, x[0]!.dtype)],
  Where: ({ x, dy }) => [
    undefined,
    unbroadcast(F.where(x[0]!, dy[0]!, 0), x[1]!),
    unbroadcast(F.where(x[0]!, 0, dy[0]!), x[2]!),
  ],

  MatMul: ({ x, dy, needs }) => {
    const [a, b] = [x[0]!, x[1]!];
    const d = dy[0]!;
    let da: Tensor | undefined;
    let db: Tensor | undefined;
    if (needs[0]) da = unbroadcast(F.matmul(d, F.transposeLast(b)), a);
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2) {
        // Weight gradient of a batched activation: one GEMM over the flattened batch.
        const k = a.shape[a.rank - 1]!;
        const n = d.shape[d.rank - 1]!;
        db = F.gemm(F.reshape(a, [-1, k]), F.reshape(d, [-1, n]), { transA: true });
      } else db = unbroadcast(F.matmul(F.transposeLast(a), d), b);
    }
    return [da, db];
  },

  Gemm: ({ node, x, dy, needs }) => {
    const [a, b, cIn] = [x[0]!, x[1]!, x[2]];
    const alpha = (node.attrs.alpha as { value: number } | undefined)?.value ?? 1;
    const beta = (node.attrs.beta as { value: number } | undefined)?.value ?? 1;
    const tA = node.attrs.transA === 1;
    const tB = node.attrs.transB === 1;
    const d = dy[0]!;
    // With A' = op(A), B' = op(B): dA' = α·d·B'ᵀ, dB' = α·A'ᵀ·d.
    const da = needs[0]
      ? tA
        ? F.gemm(b, d, { transA: tB, transB: true, alpha })
        : F.gemm(d, b, { transB: !tB, alpha })
      : undefined;
    const db = needs[1]
      ? tB
        ? F.gemm(d, a, { transA: true, transB: tA, alpha })
        : F.gemm(a, d, { transA: !tA, alpha })
      : undefined;
    const dc = cIn && needs[2] ? unbroadcast(F.mul(d, beta), cIn) : undefined;
    return [da, db, dc];
  },

  Transpose: ({ g, node, dy }) => {
    const perm = attrInts(node, 'perm')!;
    const d = dy[0]!;
    // Linear layers store W [out, in] and multiply by Wᵀ, so their weight gradient arrives here as
    // Gemm(x, dy, transA); (xᵀ·dy)ᵀ = dyᵀ·x is the same Gemm with operands swapped, without a copy.
    const src = g.producerOf(d.name);
    if (
      perm.length === 2 &&
      perm[0] === 1 &&
      src?.op === 'Gemm' &&
      src.inputs.length === 2 &&
      src.attrs.transA === 1 &&
      src.attrs.transB === 0 &&
      (src.attrs.alpha as { value: number }).value === 1
    )
      return [F.gemm(g.value(src.inputs[1]!), g.value(src.inputs[0]!), { transA: true })];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [F.transpose(d, inv)];
  },
  Reshape: ({ x, dy }) => [F.reshapeLike(dy[0]!, x[0]!), undefined],
  Unsqueeze: ({ x, dy }) => [F.reshapeLike(dy[0]!, x[0]!), undefined],
  Squeeze: ({ x, dy }) => [F.reshapeLike(dy[0]!, x[0]!), undefined],
  Expand: ({ x, dy }) => [unbroadcast(dy[0]!, x[0]!), undefined],

  Concat: ({ node, x, dy }) => {
    const axis = node.attrs.axis as number;
    const parts = x.map((t) => t!);
    return F.split(
      dy[0]!,
      axis,
      parts.map((t) => t.shape[axis]!),
    );
  },
  Split: ({ node, y, dy }) => {
    const parts = y.map((t, i) => dy[i] ?? F.zerosLike(t));
    return [F.concat(parts, node.attrs.axis as number), undefined];
  },

  Slice: ({ g, x, dy }) => {
    const input = x[0]!;
    const starts = ints(g, x[1]!.name);
    const ends = ints(g, x[2]!.name);
    const axes = x[3] ? ints(g, x[3].name) : starts.map((_, i) => i);
    const steps = x[4] ? ints(g, x[4].name) : starts.map(() => 1);
    if (steps.some((s) => s !== 1)) throw new GraphError('Slice gradient: only step 1 is supported');
    const before: Tensor[] = [];
    const after: Tensor[] = [];
    for (let i = 0; i < input.rank; i++) {
      const k = axes.indexOf(i);
      if (k < 0) {
        before.push(g.ints([0]));
        after.push(g.ints([0]));
        continue;
      }
      const d = input.shape[i]!;
      const dimT = typeof d === 'number' ? undefined : F.shapeOf(input);
      const dimOf = (): Tensor =>
        g.node(
          'Slice',
          [dimT!, g.ints([i]), g.ints([i + 1]), g.ints([0])],
          {},
          [{ dtype: 'int64', shape: [1] }],
          {
            noGrad: true,
          },
        )[0]!;
      const s = starts[k]!;
      const e = ends[k]!;
      if (typeof d === 'number') {
        const lo = Math.min(Math.max(s < 0 ? s + d : s, 0), d);
        const hi = Math.min(Math.max(e < 0 ? e + d : e, lo), d);
        before.push(g.ints([lo]));
        after.push(g.ints([d - hi]));
      } else {
        before.push(s >= 0 ? g.ints([s]) : F.add(dimOf(), g.ints([s])));
        after.push(
          e >= Number.MAX_SAFE_INTEGER ? g.ints([0]) : e < 0 ? g.ints([-e]) : F.sub(dimOf(), g.ints([e])),
        );
      }
    }
    const pads = F.concat([...before, ...after], 0);
    return [F.pad(dy[0]!, pads, input.shape)];
  },

  Gather: ({ node, x, dy }) => {
    const [data, idx] = [x[0]!, x[1]!];
    const axis = node.attrs.axis as number;
    const d = dy[0]!;
    const idx64 = F.unsqueeze(idx.dtype === 'int64' ? idx : F.cast(idx, 'int64'), [-1]);
    if (axis === 0) return [F.scatterNDAdd(F.zerosLike(data), idx64, d), undefined];
    // Move the gathered axis to the front, scatter there, move it back.
    const rest = [...Array(data.rank).keys()].filter((i) => i !== axis);
    const dataPerm = [axis, ...rest];
    const r = idx.rank;
    const dyPerm = [
      ...Array.from({ length: r }, (_, i) => axis + i),
      ...Array.from({ length: axis }, (_, i) => i),
      ...Array.from({ length: data.rank - axis - 1 }, (_, i) => axis + r + i),
    ];
    const dataT = F.transpose(data, dataPerm);
    const scattered = F.scatterNDAdd(F.zerosLike(dataT), idx64, F.transpose(d, dyPerm));
    return [
      F.transpose(
        scattered,
        dataPerm.map((_, i) => dataPerm.indexOf(i)),
      ),
      undefined,
    ];
  },
  GatherElements: ({ node, x, dy }) => [
    F.scatterElementsAdd(F.zerosLike(x[0]!), x[1]!, dy[0]!, node.attrs.axis as number),
    undefined,
  ],

  ReduceSum: (c) => [F.expandLike(keepDims(c, c.dy[0]!), c.x[0]!), undefined],
  ReduceMean: (c) => {
    const x = c.x[0]!;
    const axes = reducedAxesOf(c);
    const count = countOf(
      c.g,
      axes.map((a) => x.shape[a]!),
    );
    return [F.expandLike(F.div(keepDims(c, c.dy[0]!), count), x)];
  },
  ReduceMax: (c) => reduceExtremum(c),
  ReduceMin: (c) => reduceExtremum(c),
  ReduceLogSumExp: (c) => {
    const x = c.x[0]!;
    const yk = keepDims(c, c.y[0]!);
    return [F.mul(keepDims(c, c.dy[0]!), F.exp(F.sub(x, yk)))];
  },

  Softmax: ({ node, y, dy }) => {
    const axis = node.attrs.axis as number;
    const inner = F.reduceSum(F.mul(dy[0]!, y[0]!), [axis], true);
    return [F.mul(y[0]!, F.sub(dy[0]!, inner))];
  },
  LogSoftmax: ({ node, y, dy }) => {
    const axis = node.attrs.axis as number;
    return [F.sub(dy[0]!, F.mul(F.exp(y[0]!), F.reduceSum(dy[0]!, [axis], true)))];
  },

  LayerNormalization: ({ x, y, dy, needs }) => {
    const [input, gamma, beta] = [x[0]!, x[1]!, x[2]];
    const [mean, invStd] = [y[1]!, y[2]!];
    const d = dy[0]!;
    const xhat = F.mul(F.sub(input, mean), invStd);
    const lead = [...Array(input.rank - 1).keys()];
    const dxhat = F.mul(d, gamma);
    const dx = needs[0]
      ? F.mul(
          invStd,
          F.sub(
            F.sub(dxhat, F.reduceMean(dxhat, [-1], true)),
            F.mul(xhat, F.reduceMean(F.mul(dxhat, xhat), [-1], true)),
          ),
        )
      : undefined;
    const dgamma = needs[1] ? F.reduceSum(F.mul(d, xhat), lead) : undefined;
    const dbeta = beta && needs[2] ? F.reduceSum(d, lead) : undefined;
    return [dx, dgamma, dbeta];
  },

  Dropout: ({ g, x, y, dy }) => {
    const ratio = g.constants.get(x[1]!.name);
    const p = ratio ? Number((ratio.data as Float32Array)[0]) : 0.5;
    return [F.mul(F.mul(dy[0]!, F.cast(y[1]!, 'float32')), 1 / (1 - p)), undefined, undefined];
  },

  Conv: ({ node, x, dy, needs }) => {
    const [input, w, b] = [x[0]!, x[1]!, x[2]];
    const d = dy[0]!;
    const groups = (node.attrs.group as number | undefined) ?? 1;
    const strides = attrInts(node, 'strides') as [number, number];
    const pads = attrInts(node, 'pads')!;
    const dil = attrInts(node, 'dilations') as [number, number];
    const opts = {
      stride: strides,
      padding: [pads[0]!, pads[1]!] as [number, number],
      dilation: dil,
      groups,
    };
    const dx = needs[0] ? F.convTranspose2d(d, w, input.shape, opts) : undefined;
    let dw: Tensor | undefined;
    if (needs[1]) {
      if (groups !== 1) throw new GraphError('Conv gradient w.r.t. grouped weights is not supported');
      if (!isStatic(w.shape)) throw new GraphError('Conv gradient: weight shape must be static');
      // dW[o,c,i,j] = Σ_n,y,x dy[n,o,y,x]·x[n,c,y·s+i·dil,…]: a conv of x (channels as batch) by dy.
      const xT = F.transpose(input, [1, 0, 2, 3]);
      const dyT = F.transpose(d, [1, 0, 2, 3]);
      const full = F.conv2d(xT, dyT, undefined, {
        stride: dil,
        padding: opts.padding,
        dilation: strides,
      });
      const [, , kh, kw] = w.shape as number[];
      const cropped =
        full.shape[2] === kh && full.shape[3] === kw
          ? full
          : F.slice(full, [
              { axis: 2, start: 0, end: kh! },
              { axis: 3, start: 0, end: kw! },
            ]);
      dw = F.transpose(cropped, [1, 0, 2, 3]);
    }
    const db = b && needs[2] ? F.reduceSum(d, [0, 2, 3]) : undefined;
    return [dx, dw, db];
  },
};

function reduceExtremum(c: VjpContext): (Tensor | undefined)[] {
  const x = c.x[0]!;
  const yk = keepDims(c, c.y[0]!);
  const mask = F.cast(F.equal(x, yk), 'float32');
  const share = F.div(mask, F.reduceSum(mask, reducedAxesOf(c), true));
  return [F.mul(share, keepDims(c, c.dy[0]!))];
}

export function vjpRule(op: string): VjpRule | undefined {
  return rules[op];
}

export const differentiableOps = (): string[] => Object.keys(rules).sort();
