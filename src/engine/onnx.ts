// Graph → ONNX ModelProto bytes, through the onnx-proto package (protobufjs static code for
// onnx.proto), so the files are real ONNX that any runtime or onnx.checker reads.
//
// Opset: 17 (IR version 8) — the first with LayerNormalization, supported by ONNX Runtime ≥ 1.14,
// onnxruntime-web and PyTorch's exporter. Every op the engine emits is a standard ai.onnx op at
// this opset; see docs/engine.md for the list.
// onnx-proto is CommonJS, so ESM sees only its default export; types come through a type import.
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { ONNX_DTYPE } from './dtype.ts';
import type { AttrValue, ConstData, Graph, Tensor } from './graph.ts';
import type { Dim } from './shape.ts';

export const OPSET = 17;
export const IR_VERSION = 8;

export interface SerializeOptions {
  /** Parameters become initializers with this data (a portable model) or, when absent, graph inputs. */
  paramData?: ReadonlyMap<string, Float32Array>;
  /** Which of graph.outputs to emit (default: all). */
  outputs?: readonly string[];
  docString?: string;
}

export interface SerializedGraph {
  bytes: Uint8Array;
  inputs: { name: string; dtype: string; shape: readonly Dim[] }[];
  outputs: string[];
}

export interface GraphModel {
  model: P.IModelProto;
  inputs: SerializedGraph['inputs'];
  outputs: string[];
}

export function serializeGraph(graph: Graph, opts: SerializeOptions = {}): SerializedGraph {
  return encodeModel(graphToModel(graph, opts));
}

export function encodeModel(m: GraphModel): SerializedGraph {
  return { bytes: onnxProto.onnx.ModelProto.encode(m.model).finish(), inputs: m.inputs, outputs: m.outputs };
}

/** The ModelProto of a graph, before encoding (quantize.ts rewrites it). */
export function graphToModel(graph: Graph, opts: SerializeOptions = {}): GraphModel {
  const outputNames = opts.outputs ?? [...graph.outputs.keys()];
  const outputs = outputNames.map((name) => {
    const t = graph.outputs.get(name);
    if (!t) throw new Error(`graph ${graph.name} has no output "${name}"`);
    return [name, t] as const;
  });

  // Keep only the nodes the requested outputs depend on.
  const needed = new Set(outputs.map(([, t]) => t.name));
  const keep: boolean[] = new Array(graph.nodes.length).fill(false);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    keep[i] = true;
    for (const inp of n.inputs) if (inp) needed.add(inp);
  }
  // An output's value produced by a node takes the output's name (saving a copy per output,
  // which matters when a train step returns every parameter); inputs and initializers, or a value
  // exposed twice, go through an Identity.
  const rename = new Map<string, string>();
  for (const [name, t] of outputs)
    if (name !== t.name && !rename.has(t.name) && graph.producerOf(t.name) && !graph.outputs.has(t.name))
      rename.set(t.name, name);
  const r = (v: string): string => rename.get(v) ?? v;
  const nodes: P.INodeProto[] = graph.nodes
    .filter((_, i) => keep[i])
    .map((n) => ({
      name: n.name,
      opType: n.op,
      domain: n.domain,
      input: n.inputs.map(r),
      output: n.outputs.map(r),
      attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
    }));
  for (const [name, t] of outputs)
    if (r(t.name) !== name)
      nodes.push({ name: `output_${name}`, opType: 'Identity', input: [r(t.name)], output: [name] });

  const initializer: P.ITensorProto[] = [];
  for (const [name, c] of graph.constants) if (needed.has(name)) initializer.push(tensorProto(name, c));

  const inputs: Tensor[] = graph.inputs.filter((t) => needed.has(t.name));
  const params = [...graph.params.values()].filter((p) => needed.has(p.name));
  for (const p of params) {
    const data = opts.paramData?.get(p.name);
    if (opts.paramData && !data) throw new Error(`no data for parameter ${p.name}`);
    if (data) initializer.push(tensorProto(p.name, { dtype: 'float32', shape: p.shape, data }));
    else inputs.push(graph.value(p.name));
  }

  const model: P.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'kep',
    opsetImport: [{ domain: '', version: OPSET }],
    docString: opts.docString ?? '',
    graph: {
      name: graph.name,
      node: nodes,
      initializer,
      input: inputs.map((t) => valueInfo(t.name, t)),
      output: outputs.map(([name, t]) => valueInfo(name, t)),
    },
  };
  return {
    model,
    inputs: inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    outputs: outputNames.slice(),
  };
}

function valueInfo(name: string, t: Tensor): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[t.dtype],
        shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function tensorProto(name: string, c: ConstData): P.ITensorProto {
  const bytes = new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  return { name, dims: c.shape, dataType: ONNX_DTYPE[c.dtype], rawData: bytes };
}

function attribute(name: string, v: AttrValue): P.IAttributeProto {
  const T = onnxProto.onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  switch (v.kind) {
    case 'float':
      return { name, type: T.FLOAT, f: v.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: v.value };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorProto('', v.value) };
  }
}
