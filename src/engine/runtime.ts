// ONNX Runtime sessions for engine graphs. Sessions for graphs whose parameters are inputs (all
// training graphs) depend only on the graph's structure, so they are cached by a hash of its bytes.
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type { Graph } from './graph.ts';
import { type SerializeOptions, type SerializedGraph, serializeGraph } from './onnx.ts';
import { type Precision, type QuantizeOptions, quantizeGraph } from './quantize.ts';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Intra-op threads (default: ONNX Runtime's choice, all physical cores). */
  threads?: number;
  executionProvider?: ExecutionProvider;
  /** 'all' unless debugging an optimiser problem. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * 'int8' quantises the linear layers of the transformer blocks (quantize.ts); it needs the
   * weights, so only graphs compiled with `paramData` (inference sessions) take it.
   */
  precision?: Precision;
  /**
   * ONNX Runtime's CPU memory arena (default on). Off, tensors go to malloc and back as their
   * lifetimes end: a KEP-16 training step peaked at 8.19 GiB instead of 9.24 (batch 4), since the
   * arena's size classes keep freed blocks it cannot reuse for other shapes.
   */
  memoryArena?: boolean;
  /** Fine control of the int8 rewrite (kernel, weight bits); defaults are the measured best. */
  quantize?: QuantizeOptions;
}

export type Feeds = Record<string, ort.Tensor>;

export class CompiledGraph {
  /** Holders of this (possibly shared, cached) session; it is released when the last lets go. */
  refs = 1;
  constructor(
    readonly session: ort.InferenceSession,
    readonly serialized: SerializedGraph,
    readonly createMs: number,
    private readonly cacheKey = '',
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length)
      throw new Error(`missing inputs: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
    const result = outputs
      ? await this.session.run(feeds, outputs as string[])
      : await this.session.run(feeds);
    return result as Record<string, ort.Tensor>;
  }

  async release(): Promise<void> {
    if (--this.refs > 0) return;
    if (this.cacheKey) cache.delete(this.cacheKey);
    await this.session.release();
  }
}

export function availableProviders(): ExecutionProvider[] {
  const names = ort.listSupportedBackends().map((b) => b.name);
  return names.includes('cuda') ? ['cpu', 'cuda'] : ['cpu'];
}

function sessionOptions(opts: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const ep = opts.executionProvider ?? 'cpu';
  if (ep === 'cuda' && !availableProviders().includes('cuda'))
    throw new Error(
      'the CUDA execution provider is not installed: reinstall with `npm install --onnxruntime-node-install=cuda12` (CUDA 12, cuDNN 9)',
    );
  return {
    executionProviders: ep === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    enableCpuMemArena: opts.memoryArena ?? true,
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
  };
}

const cache = new Map<string, Promise<CompiledGraph>>();

let defaults: RuntimeOptions = {};

/** Process-wide defaults under every session's own options: the command line's `--device` (and
 * any setting a library user wants everywhere) reaches every session, however deep it is made. */
export function setRuntimeDefaults(d: RuntimeOptions): void {
  defaults = { ...d };
}

export async function compile(
  graph: Graph,
  ser: SerializeOptions = {},
  own: RuntimeOptions = {},
): Promise<CompiledGraph> {
  const opts: RuntimeOptions = { ...defaults, ...own };
  const serialized = serializeFor(graph, ser, opts);
  const cacheable = !ser.paramData;
  const key = cacheable
    ? createHash('sha256').update(serialized.bytes).update(JSON.stringify(opts)).digest('hex')
    : '';
  const hit = cacheable ? cache.get(key) : undefined;
  if (hit) {
    const compiled = await hit;
    compiled.refs++;
    return compiled;
  }
  const created = (async () => {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(serialized.bytes, sessionOptions(opts));
    return new CompiledGraph(session, serialized, performance.now() - t0, key);
  })();
  if (cacheable) {
    cache.set(key, created);
    created.catch(() => cache.delete(key));
  }
  return created;
}

function serializeFor(graph: Graph, ser: SerializeOptions, opts: RuntimeOptions): SerializedGraph {
  if ((opts.precision ?? 'fp32') === 'fp32') return serializeGraph(graph, ser);
  // The CUDA provider has no kernel for DynamicQuantizeMatMul: ONNX Runtime would quietly run those
  // nodes on the CPU and copy every activation across, slower than either path alone.
  if (opts.executionProvider === 'cuda')
    throw new Error(
      `graph ${graph.name}: precision int8 is a CPU path (ONNX Runtime's CUDA provider has no int8 kernels for it); use --precision fp32 with --device cuda`,
    );
  if (!ser.paramData)
    throw new Error(
      `graph ${graph.name}: precision int8 needs the weights (paramData); training graphs run in fp32`,
    );
  return quantizeGraph(graph, ser.paramData, { ...ser, ...opts.quantize });
}

export function clearSessionCache(): void {
  cache.clear();
}

export { ort };
