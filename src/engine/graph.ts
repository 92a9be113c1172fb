// A model is plain data: nodes (ONNX op, inputs, outputs, attributes), typed values with static
// shapes (symbolic dims allowed), parameters with initialisers, and small constants. Ops are built
// through functions in ops/ that check shapes here, at build time, so a bad graph fails with the
// op and the shapes named instead of deep inside ONNX Runtime.
import type { DType } from './dtype.ts';
import { type Dim, type Shape, canonicalDim, dimEqual, isStatic, showShape, symbolsOf } from './shape.ts';
import type { Initializer } from './init.ts';

export type ConstArray = Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export interface ConstData {
  dtype: DType;
  shape: number[];
  data: ConstArray;
}

export type AttrValue =
  | number
  | number[]
  | string
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: ConstData };

/** Marks a number attribute as FLOAT (plain numbers are INT). */
export const float = (value: number): AttrValue => ({ kind: 'float', value });
export const floats = (value: number[]): AttrValue => ({ kind: 'floats', value });

export interface GraphNode {
  name: string;
  op: string;
  domain: string;
  inputs: string[]; // '' for an omitted optional input
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Initializer;
  trainable: boolean;
  /** Decoupled weight decay applies (by convention: weights of rank ≥ 2, not biases or norms). */
  decay: boolean;
}

export class GraphError extends Error {
  override name = 'GraphError';
}

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}${showShape(this.shape)}`;
  }
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Tensor[] = [];
  readonly params = new Map<string, ParamSpec>();
  readonly constants = new Map<string, ConstData>();
  readonly outputs = new Map<string, Tensor>();
  /** Values with no gradient flowing through them (stop-gradient, integer plumbing). */
  readonly noGrad = new Set<string>();
  private readonly values = new Map<string, Tensor>();
  private readonly producers = new Map<string, number>();
  private readonly scopes: string[] = [];
  private readonly constCache = new Map<string, Tensor>();
  private readonly symCache = new Map<string, Tensor>();
  private counter = 0;

  constructor(readonly name = 'kep') {}

  /** Prefix node and parameter names created inside fn, e.g. "encoder.layer.3". */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  qualified(name: string): string {
    return [...this.scopes, name].filter((part) => part !== '').join('.');
  }

  value(name: string): Tensor {
    const v = this.values.get(name);
    if (!v) throw new GraphError(`no value named "${name}" in graph ${this.name}`);
    return v;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  producerOf(name: string): GraphNode | undefined {
    const i = this.producers.get(name);
    return i === undefined ? undefined : this.nodes[i];
  }

  private register(name: string, dtype: DType, shape: readonly Dim[]): Tensor {
    if (this.values.has(name)) throw new GraphError(`duplicate value name "${name}" in graph ${this.name}`);
    const t = new Tensor(this, name, dtype, shape.map(canonicalDim));
    this.values.set(name, t);
    return t;
  }

  private fresh(base: string): string {
    let name: string;
    do name = this.qualified(`${base}_${this.counter++}`);
    while (this.values.has(name));
    return name;
  }

  input(name: string, dtype: DType, shape: readonly Dim[]): Tensor {
    const t = this.register(name, dtype, shape);
    this.inputs.push(t);
    return t;
  }

  param(
    localName: string,
    shape: number[],
    init: Initializer,
    opts: { trainable?: boolean; decay?: boolean } = {},
  ): Tensor {
    const name = this.qualified(localName);
    if (shape.some((d) => !Number.isInteger(d) || d <= 0))
      throw new GraphError(`parameter ${name}: shape ${showShape(shape)} must be positive integers`);
    const t = this.register(name, 'float32', shape);
    this.params.set(name, {
      name,
      shape,
      init,
      trainable: opts.trainable ?? true,
      decay: opts.decay ?? shape.length >= 2,
    });
    return t;
  }

  /** A constant tensor; small ones with equal content are shared. */
  constant(data: ConstData, hint = 'const'): Tensor {
    const small = data.data.length <= 64;
    const key = small
      ? `${data.dtype}|${data.shape.join(',')}|${Array.from(data.data as ArrayLike<unknown>).join(',')}`
      : '';
    if (small) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.fresh(hint);
    const t = this.register(name, data.dtype, data.shape);
    this.constants.set(name, data);
    this.noGrad.add(name);
    if (small) this.constCache.set(key, t);
    return t;
  }

  scalar(value: number, dtype: DType = 'float32'): Tensor {
    return this.constant(constOf(dtype, [], [value]), 'scalar');
  }

  ints(values: readonly number[]): Tensor {
    return this.constant(constOf('int64', [values.length], values), 'ints');
  }

  /** Append a node; shapes and dtypes of its outputs are given by the caller's inference. */
  node(
    op: string,
    inputs: readonly (Tensor | undefined)[],
    attrs: Record<string, AttrValue>,
    outputs: readonly { dtype: DType; shape: readonly Dim[] }[],
    opts: { domain?: string; noGrad?: boolean } = {},
  ): Tensor[] {
    for (const t of inputs)
      if (t && t.graph !== this) throw new GraphError(`${op}: input ${t.name} belongs to another graph`);
    const name = this.fresh(op);
    const outs = outputs.map((o, i) =>
      this.register(outputs.length === 1 ? name : `${name}:${i}`, o.dtype, o.shape),
    );
    this.producers.set(name, this.nodes.length);
    for (const o of outs) this.producers.set(o.name, this.nodes.length);
    this.nodes.push({
      name,
      op,
      domain: opts.domain ?? '',
      inputs: inputs.map((t) => t?.name ?? ''),
      outputs: outs.map((o) => o.name),
      attrs,
    });
    if (opts.noGrad) for (const o of outs) this.noGrad.add(o.name);
    return outs;
  }

  /** Name a graph output. The same tensor may be exposed under several names. */
  output(name: string, t: Tensor): void {
    if (this.outputs.has(name)) throw new GraphError(`duplicate output "${name}" in graph ${this.name}`);
    this.outputs.set(name, t);
  }

  /** The runtime value of a symbolic dimension as an int64 [1] tensor, read from a graph input's shape. */
  symDim(dim: Dim): Tensor {
    if (typeof dim === 'number') return this.ints([dim]);
    const key = canonicalDim(dim) as string;
    const cached = this.symCache.get(key);
    if (cached) return cached;
    let result: Tensor | undefined;
    const syms = symbolsOf(key);
    if (syms.length === 1 && syms[0] === key) {
      for (const inp of this.inputs) {
        const axis = inp.shape.findIndex((d) => d === key);
        if (axis < 0) continue;
        const [shape] = this.node(
          'Shape',
          [inp],
          { start: axis, end: axis + 1 },
          [{ dtype: 'int64', shape: [1] }],
          {
            noGrad: true,
          },
        );
        result = shape;
        break;
      }
      if (!result) throw new GraphError(`symbolic dimension "${key}" is not a dimension of any graph input`);
    } else {
      // A product such as "batch*seq": multiply its factors at runtime.
      const factors = key.split('*');
      for (const f of factors) {
        const part = /^\d+$/.test(f) ? this.ints([Number(f)]) : this.symDim(f);
        result = result
          ? this.node('Mul', [result, part], {}, [{ dtype: 'int64', shape: [1] }], { noGrad: true })[0]
          : part;
      }
    }
    this.symCache.set(key, result as Tensor);
    return result as Tensor;
  }

  /** An int64 shape tensor for dims that may be symbolic. */
  shapeTensor(dims: readonly Dim[]): Tensor {
    if (isStatic(dims)) return this.ints(dims);
    const parts = dims.map((d) => this.symDim(d));
    return this.node('Concat', parts, { axis: 0 }, [{ dtype: 'int64', shape: [dims.length] }], {
      noGrad: true,
    })[0]!;
  }

  trainableParams(): ParamSpec[] {
    return [...this.params.values()].filter((p) => p.trainable);
  }

  /** Mark parameters (by exact name or prefix ending in ".") as frozen. */
  freeze(...patterns: string[]): void {
    for (const p of this.params.values())
      if (patterns.some((pat) => p.name === pat || (pat.endsWith('.') && p.name.startsWith(pat))))
        p.trainable = false;
  }
}

export function constOf(dtype: DType, shape: number[], values: ArrayLike<number>): ConstData {
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n)
    throw new GraphError(`constant of shape ${showShape(shape)} needs ${n} values, got ${values.length}`);
  let data: ConstArray;
  switch (dtype) {
    case 'float32':
      data = Float32Array.from(values);
      break;
    case 'int64':
      data = BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
      break;
    case 'int32':
      data = Int32Array.from(values);
      break;
    case 'bool':
      data = Uint8Array.from(values, (v) => (v ? 1 : 0));
      break;
    case 'float16':
      throw new GraphError('float16 constants are not supported; build in float32 and Cast');
  }
  return { dtype, shape, data };
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEqual(d, b[i] as Dim));
}
