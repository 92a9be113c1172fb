// One runtime settings object for everything that runs graphs: which execution provider, how many
// intra-op threads, how hard ONNX Runtime optimises a graph, and how many image-decoding workers
// feed it. Commands build it once from their flags (`--threads`, `--device`) and pass it down; every
// session is created from it (src/engine/runtime.ts compile's RuntimeOptions).
import { z } from 'zod';
import { PRECISIONS } from './quantize.ts';
import { type RuntimeOptions, setRuntimeDefaults } from './runtime.ts';

export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];
export const OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

export const runtimeSettingsSchema = z.strictObject({
  /** Intra-op threads per session (default: ONNX Runtime's choice, all physical cores). */
  threads: z.number().int().positive().optional(),
  /** Execution provider: 'cuda' needs onnxruntime-node's CUDA build (docs/engine.md). */
  device: z.enum(DEVICES).optional(),
  /** Graph optimisation level; 'all' unless an optimiser problem is being chased. */
  optimization: z.enum(OPTIMIZATION_LEVELS).optional(),
  /** Arithmetic of inference sessions built with their weights (models that embed); training
   * graphs always run in fp32. */
  precision: z.enum(PRECISIONS).optional(),
  /** Image-decoding worker threads (data loaders; default: theirs). */
  workers: z.number().int().nonnegative().optional(),
});
export type RuntimeSettings = z.infer<typeof runtimeSettingsSchema>;

/** The session options of a settings object (what compile() and the Trainer take). */
export function runtimeOptions(s: RuntimeSettings = {}): RuntimeOptions {
  return {
    ...(s.threads ? { threads: s.threads } : {}),
    ...(s.device && s.device !== 'cpu' ? { executionProvider: s.device } : {}),
    ...(s.optimization && s.optimization !== 'all' ? { optimization: s.optimization } : {}),
    ...(s.precision && s.precision !== 'fp32' ? { precision: s.precision } : {}),
  };
}

/** Settings every session of this process starts from (a command's `--device`, `--threads`). */
export function applyRuntimeDefaults(s: RuntimeSettings): void {
  // Precision is a model's choice (ModelSource.precision), never a process default: training
  // graphs compiled under it would be refused.
  const { precision: _, ...rest } = s;
  setRuntimeDefaults(runtimeOptions(rest));
}
