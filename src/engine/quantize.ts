// int8 inference: a rewrite of an inference graph's ModelProto (weights as initializers) that
// replaces the linear layers of its transformer blocks by ONNX Runtime's fused int8 contrib ops.
//
// Written here rather than calling onnxruntime's Python quantiser because kep never runs Python in
// the product path, and because the pass only has to know kep's own graph shapes: a linear layer is
// MatMul(x, Transpose(W [out, in], perm [1, 0])) followed by Add(bias), and the transformer blocks'
// parameters carry a block index in their names ("blocks.3.mlp.fc1.weight", "encoder.layer.5.…",
// "layers.2.blocks.1.…"). Weights are quantised symmetrically per output channel; activations are
// quantised by the kernel at run time (calibration-free). LayerNorm, Softmax, GELU, attention's
// activation×activation products, stems and heads stay fp32.
//
// Kernels (com.microsoft domain, CPU execution provider of onnxruntime-node 1.30):
// - 'dynamic': DynamicQuantizeMatMul: activations per tensor (uint8, asymmetric), weights int8
//   per output channel; MLAS's u8s8 GEMM.
// - 'blockwise': MatMulNBits with bits 8 and accuracy_level 4: weights per output channel and
//   K-block, activations quantised to int8 per row and K-block inside the kernel.
// Which one is faster, and by how much, is measured in BENCHMARKS.md (int8 section).
import type { onnx as P } from 'onnx-proto';
import type { Graph } from './graph.ts';
import {
  type GraphModel,
  type SerializeOptions,
  type SerializedGraph,
  encodeModel,
  graphToModel,
} from './onnx.ts';

export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

export type Int8Kernel = 'dynamic' | 'blockwise';

export interface QuantizeOptions {
  kernel?: Int8Kernel;
  /**
   * Weight bits for 'dynamic' (7 or 8). 7 keeps products of uint8 activations and int8 weights
   * inside the int16 pair sums of AVX2's vpmaddubsw, which would otherwise saturate on CPUs
   * without VNNI.
   */
  weightBits?: 7 | 8;
  /** K-block length for 'blockwise' (a power of two ≥ 16 that divides K; else the largest that does). */
  blockSize?: number;
  /** Which weights (by parameter name) to quantise; default: the transformer blocks' (inNumberedBlock). */
  select?: (paramName: string) => boolean;
}

export const DEFAULT_KERNEL: Int8Kernel = 'dynamic';
/** 8-bit weights cost ViT-B's embeddings cosine 0.973 to fp32 on AVX2 without VNNI (saturation); 7 bits 0.998. */
export const DEFAULT_WEIGHT_BITS = 7;

/**
 * Parameters of the repeated transformer blocks: timm's "blocks.N.", Hugging Face's "layer.N.",
 * Swin's "layers.N." (its patch merging included). Heads such as KEP's "image_head.0." are not blocks.
 */
export const inNumberedBlock = (name: string): boolean => /(^|\.)(blocks|layer|layers)\.\d+\./.test(name);

export interface QuantizeReport {
  kernel: Int8Kernel;
  quantized: string[];
  /** MatMuls by a parameter that stayed fp32 (outside the selection). */
  kept: string[];
}

const CONTRIB = 'com.microsoft';
const ONNX_FLOAT = 1;
const ONNX_UINT8 = 2;
const ONNX_INT8 = 3;

/** The graph's inference model with weights as initializers, its block linears in int8. */
export function quantizeGraph(
  graph: Graph,
  paramData: ReadonlyMap<string, Float32Array>,
  opts: QuantizeOptions & Omit<SerializeOptions, 'paramData'> = {},
): SerializedGraph & { report: QuantizeReport } {
  const m = graphToModel(graph, { ...opts, paramData });
  const report = quantizeModel(m, opts);
  return { ...encodeModel(m), report };
}

interface Linear {
  matmul: P.INodeProto;
  transpose: P.INodeProto | undefined;
  weight: string;
  /** The weight as [out, in] rows. */
  rows: Float32Array;
  out: number;
  in: number;
  bias: { add: P.INodeProto; name: string } | undefined;
}

/** Rewrites m in place; returns what it did. */
export function quantizeModel(m: GraphModel, opts: QuantizeOptions = {}): QuantizeReport {
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  const select = opts.select ?? inNumberedBlock;
  const g = m.model.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const report: QuantizeReport = { kernel, quantized: [], kept: [] };
  const replaced = new Map<P.INodeProto, P.INodeProto>();
  for (const lin of findLinears(g, inits)) {
    if (!select(lin.weight)) {
      report.kept.push(lin.weight);
      continue;
    }
    const out = lin.bias ? lin.bias.add.output![0]! : lin.matmul.output![0]!;
    const x = lin.matmul.input![0]!;
    const node =
      kernel === 'dynamic'
        ? dynamicMatMul(g, lin, x, out, opts.weightBits ?? DEFAULT_WEIGHT_BITS)
        : blockwiseMatMul(g, lin, x, out, opts.blockSize ?? 128);
    replaced.set(lin.matmul, node);
    if (lin.bias) replaced.set(lin.bias.add, REMOVED);
    report.quantized.push(lin.weight);
  }
  g.node = (g.node ?? []).flatMap((n) => {
    const r = replaced.get(n);
    return r === undefined ? [n] : r === REMOVED ? [] : [r];
  });
  pruneDead(g, new Set(m.outputs));
  if (report.quantized.length) {
    const imports = m.model.opsetImport ?? [];
    if (!imports.some((o) => o.domain === CONTRIB)) imports.push({ domain: CONTRIB, version: 1 });
    m.model.opsetImport = imports;
  }
  return report;
}

const REMOVED: P.INodeProto = { opType: 'removed' };

function findLinears(g: P.IGraphProto, inits: Map<string, P.ITensorProto>): Linear[] {
  const nodes = g.node ?? [];
  const producer = new Map<string, P.INodeProto>();
  const consumers = new Map<string, P.INodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name!));
  const found: Linear[] = [];
  for (const mm of nodes) {
    if (mm.opType !== 'MatMul' || (mm.domain ?? '') !== '') continue;
    const w = resolveWeight(mm.input![1]!, inits, producer);
    if (!w) continue;
    const y = mm.output![0]!;
    const next = consumers.get(y) ?? [];
    let bias: Linear['bias'];
    if (next.length === 1 && !graphOutputs.has(y) && next[0]!.opType === 'Add') {
      const other = next[0]!.input!.find((i) => i !== y);
      const b = other === undefined ? undefined : inits.get(other);
      if (b && b.dims?.length === 1 && Number(b.dims[0]) === w.out && b.dataType === ONNX_FLOAT)
        bias = { add: next[0]!, name: other! };
    }
    found.push({ matmul: mm, ...w, bias });
  }
  return found;
}

/** The weight behind a MatMul's B: a float initializer [in, out], or Transpose(W [out, in]). */
function resolveWeight(
  b: string,
  inits: Map<string, P.ITensorProto>,
  producer: Map<string, P.INodeProto>,
): Pick<Linear, 'transpose' | 'weight' | 'rows' | 'out' | 'in'> | undefined {
  const direct = inits.get(b);
  if (direct) {
    if (direct.dataType !== ONNX_FLOAT || direct.dims?.length !== 2) return undefined;
    const [k, n] = direct.dims.map(Number) as [number, number];
    return { transpose: undefined, weight: b, rows: transpose2d(floatData(direct), k, n), out: n, in: k };
  }
  const t = producer.get(b);
  if (!t || t.opType !== 'Transpose') return undefined;
  const perm = t.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
  const w = inits.get(t.input![0]!);
  if (!w || w.dataType !== ONNX_FLOAT || w.dims?.length !== 2 || perm?.join() !== '1,0') return undefined;
  const [n, k] = w.dims.map(Number) as [number, number];
  return { transpose: t, weight: w.name!, rows: floatData(w), out: n, in: k };
}

function floatData(t: P.ITensorProto): Float32Array {
  const raw = t.rawData!;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** Symmetric per-channel scales of `groups` consecutive runs of `len` values, as int8 codes. */
export function quantizeSymmetric(
  values: Float32Array,
  len: number,
  qmax: number,
): { codes: Int8Array; scales: Float32Array } {
  const groups = values.length / len;
  const codes = new Int8Array(values.length);
  const scales = new Float32Array(groups);
  for (let gi = 0; gi < groups; gi++) {
    let amax = 0;
    for (let i = gi * len; i < (gi + 1) * len; i++) amax = Math.max(amax, Math.abs(values[i]!));
    const scale = amax > 0 ? amax / qmax : 1;
    scales[gi] = scale;
    for (let i = gi * len; i < (gi + 1) * len; i++)
      codes[i] = Math.max(-qmax, Math.min(qmax, Math.round(values[i]! / scale)));
  }
  return { codes, scales };
}

function addInit(
  g: P.IGraphProto,
  name: string,
  dims: number[],
  dataType: number,
  data: ArrayBufferView,
): void {
  // A weight shared by several MatMuls (tied weights) is quantised once.
  if ((g.initializer ?? []).some((t) => t.name === name)) return;
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  g.initializer = [...(g.initializer ?? []), { name, dims, dataType, rawData }];
}

function dynamicMatMul(g: P.IGraphProto, lin: Linear, x: string, out: string, bits: number): P.INodeProto {
  const { codes, scales } = quantizeSymmetric(lin.rows, lin.in, bits === 7 ? 63 : 127);
  // DynamicQuantizeMatMul takes B as [K, N] (int8) and per-column scales.
  const b = new Int8Array(codes.length);
  for (let n = 0; n < lin.out; n++)
    for (let k = 0; k < lin.in; k++) b[k * lin.out + n] = codes[n * lin.in + k]!;
  const base = `${lin.weight}.int8`;
  addInit(g, base, [lin.in, lin.out], ONNX_INT8, b);
  addInit(g, `${base}.scale`, [lin.out], ONNX_FLOAT, scales);
  // Symmetric weights: no zero point input (measured 4 % faster than zeros, same outputs).
  const inputs = [x, base, `${base}.scale`];
  if (lin.bias) inputs.push('', lin.bias.name);
  return {
    name: `${lin.matmul.name}_int8`,
    opType: 'DynamicQuantizeMatMul',
    domain: CONTRIB,
    input: inputs,
    output: [out],
  };
}

function blockwiseMatMul(g: P.IGraphProto, lin: Linear, x: string, out: string, want: number): P.INodeProto {
  let block = want;
  while (block > 16 && lin.in % block !== 0) block /= 2;
  const kBlocks = Math.ceil(lin.in / block);
  // Pad each row to whole blocks; the padding's codes are zero and its activations do not exist.
  const padded = new Float32Array(lin.out * kBlocks * block);
  for (let n = 0; n < lin.out; n++)
    padded.set(lin.rows.subarray(n * lin.in, (n + 1) * lin.in), n * kBlocks * block);
  const { codes, scales } = quantizeSymmetric(padded, block, 127);
  // MatMulNBits stores unsigned codes; without zero_points the zero point is 2^(bits-1) = 128.
  const b = new Uint8Array(codes.length);
  for (let i = 0; i < codes.length; i++) b[i] = codes[i]! + 128;
  const base = `${lin.weight}.q8`;
  addInit(g, base, [lin.out, kBlocks, block], ONNX_UINT8, b);
  addInit(g, `${base}.scale`, [lin.out, kBlocks], ONNX_FLOAT, scales);
  const inputs = [x, base, `${base}.scale`];
  if (lin.bias) inputs.push('', '', lin.bias.name); // zero_points, g_idx omitted
  const attr = (name: string, i: number): P.IAttributeProto => ({ name, type: 2, i });
  return {
    name: `${lin.matmul.name}_q8`,
    opType: 'MatMulNBits',
    domain: CONTRIB,
    input: inputs,
    output: [out],
    attribute: [
      attr('K', lin.in),
      attr('N', lin.out),
      attr('bits', 8),
      attr('block_size', block),
      attr('accuracy_level', 4),
    ],
  };
}

/** Drops nodes whose outputs nothing uses, then initializers nothing reads. */
function pruneDead(g: P.IGraphProto, outputs: Set<string>): void {
  const needed = new Set(outputs);
  const nodes = g.node ?? [];
  const keep: P.INodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const inp of n.input ?? []) if (inp) needed.add(inp);
  }
  g.node = keep.reverse();
  g.initializer = (g.initializer ?? []).filter((t) => needed.has(t.name!));
}
