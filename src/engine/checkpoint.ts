// A training checkpoint is one safetensors file: parameters under their own names, AdamW moments as
// `optimizer.m.<name>` / `optimizer.v.<name>`, and in the metadata the format version, the optimiser
// step and free JSON (`kep.meta`) for whatever else a resumed run needs. Plain safetensors, so Python
// tools can open it too.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  fromFloat32,
  numel,
  readSafetensors,
  readSafetensorsHeader,
  toFloat32,
  writeSafetensors,
  type SafeDType,
  type SafeTensor,
} from './safetensors.ts';

export const CHECKPOINT_FORMAT = 'kep-checkpoint/1';
const FORMAT_KEY = 'kep.format';
const STEP_KEY = 'kep.step';
const META_KEY = 'kep.meta';
const OPTIMIZER_PREFIX = 'optimizer.';
const MOMENTS = { m: 'optimizer.m.', v: 'optimizer.v.' } as const;

export interface ParamTensor {
  shape: number[];
  data: Float32Array;
}

export interface OptimizerState {
  step: number;
  /** AdamW first and second moments of the parameters the optimiser updates (frozen ones have
   * none), each with its parameter's element count; m and v cover the same names. */
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export interface CheckpointState {
  params: Map<string, ParamTensor>;
  optimizer?: OptimizerState;
  /** Free JSON (config, epoch, data-order seed, RNG state...). Stored with JSON.stringify, so
   * undefined values and functions are dropped and NaN becomes null. */
  meta?: Record<string, unknown>;
}

/** A checkpoint that is readable safetensors but not a consistent kep checkpoint. */
export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

export function saveCheckpoint(path: string, state: CheckpointState): void {
  function fail(detail: string): never {
    throw new CheckpointError(path, detail);
  }
  const tensors = new Map<string, SafeTensor>();
  function add(name: string, data: Float32Array, shape: number[]): void {
    if (!(data instanceof Float32Array)) fail(`tensor "${name}" is not a Float32Array`);
    if (data.length !== numel(shape)) {
      fail(`tensor "${name}" has ${data.length} values, shape [${shape}] needs ${numel(shape)}`);
    }
    tensors.set(name, fromFloat32(data, shape));
  }
  for (const [name, { shape, data }] of state.params) {
    if (name.startsWith(OPTIMIZER_PREFIX)) {
      fail(`parameter "${name}": the prefix "${OPTIMIZER_PREFIX}" is reserved`);
    }
    add(name, data, shape);
  }

  const metadata: Record<string, string> = { [FORMAT_KEY]: CHECKPOINT_FORMAT };
  if (state.optimizer) {
    const { step } = state.optimizer;
    if (!Number.isSafeInteger(step) || step < 0) fail(`optimizer step ${step} is not a non-negative integer`);
    metadata[STEP_KEY] = String(step);
    const { m, v } = state.optimizer;
    for (const name of new Set([...m.keys(), ...v.keys()])) {
      const param = state.params.get(name);
      if (!param) fail(`tensor "${m.has(name) ? MOMENTS.m : MOMENTS.v}${name}" has no parameter "${name}"`);
      for (const [prefix, moments] of [
        [MOMENTS.m, m],
        [MOMENTS.v, v],
      ] as const) {
        const data = moments.get(name);
        if (!data) {
          fail(`tensor "${prefix}${name}" is missing for parameter "${name}" (it has the other moment)`);
        }
        add(prefix + name, data, param.shape);
      }
    }
  }
  if (state.meta !== undefined) {
    try {
      metadata[META_KEY] = JSON.stringify(state.meta);
    } catch (err) {
      fail(`meta is not JSON-serialisable: ${(err as Error).message}`);
    }
  }
  writeSafetensors(path, tensors, metadata);
}

interface Layout {
  params: Set<string>;
  /** Parameters with optimiser moments. */
  optimized: Set<string>;
  step: number | undefined;
  meta: Record<string, unknown> | undefined;
}

/** Checks names, dtypes, shapes and metadata: everything but the bytes, so a header is enough. */
function checkLayout(
  path: string,
  tensors: Map<string, { dtype: SafeDType; shape: number[] }>,
  metadata: Record<string, string>,
): Layout {
  function fail(detail: string): never {
    throw new CheckpointError(path, detail);
  }
  const format = metadata[FORMAT_KEY];
  if (format === undefined) fail(`not a kep checkpoint (no "${FORMAT_KEY}" in the metadata)`);
  if (format !== CHECKPOINT_FORMAT) {
    fail(`unsupported checkpoint format "${format}" (expected "${CHECKPOINT_FORMAT}")`);
  }

  let step: number | undefined;
  const stepText = metadata[STEP_KEY];
  if (stepText !== undefined) {
    step = /^\d+$/.test(stepText) ? Number(stepText) : NaN;
    if (!Number.isSafeInteger(step)) fail(`"${STEP_KEY}" is ${JSON.stringify(stepText)}, not a step number`);
  }
  let meta: Record<string, unknown> | undefined;
  const metaText = metadata[META_KEY];
  if (metaText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(metaText);
    } catch (err) {
      fail(`"${META_KEY}" is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      fail(`"${META_KEY}" is not a JSON object`);
    }
    meta = parsed as Record<string, unknown>;
  }

  const params = new Set<string>();
  const moments: [string, string][] = [];
  for (const [name, { dtype }] of tensors) {
    if (dtype !== 'F32') fail(`tensor "${name}" is ${dtype}; checkpoints hold F32 only`);
    const prefix = Object.values(MOMENTS).find((p) => name.startsWith(p));
    if (prefix) moments.push([name, name.slice(prefix.length)]);
    else if (name.startsWith(OPTIMIZER_PREFIX)) fail(`tensor "${name}" is not a known optimizer tensor`);
    else params.add(name);
  }
  if (step === undefined && moments.length > 0) {
    fail(`optimizer moments present but no "${STEP_KEY}" in the metadata`);
  }
  for (const [name, param] of moments) {
    if (!params.has(param)) fail(`tensor "${name}" has no parameter "${param}"`);
  }
  const optimized = new Set(moments.map(([, param]) => param));
  for (const name of optimized) {
    for (const prefix of Object.values(MOMENTS)) {
      const moment = tensors.get(prefix + name);
      const shape = tensors.get(name)!.shape;
      if (!moment) {
        fail(`tensor "${prefix}${name}" is missing for parameter "${name}" (it has the other moment)`);
      }
      if (moment.shape.length !== shape.length || moment.shape.some((d, i) => d !== shape[i])) {
        fail(`tensor "${prefix}${name}" has shape [${moment.shape}] but parameter "${name}" has [${shape}]`);
      }
    }
  }
  return { params, optimized, step, meta };
}

/** Loads and validates a checkpoint; parameter and moment arrays are fresh, unshared buffers. */
export function loadCheckpoint(path: string): CheckpointState {
  const { tensors, metadata } = readSafetensors(path);
  const { params: names, optimized, step, meta } = checkLayout(path, tensors, metadata);
  const f32 = (name: string): Float32Array => toFloat32(tensors.get(name)!);
  const state: CheckpointState = {
    params: new Map([...names].map((name) => [name, { shape: tensors.get(name)!.shape, data: f32(name) }])),
  };
  if (step !== undefined) {
    state.optimizer = {
      step,
      m: new Map([...optimized].map((name) => [name, f32(MOMENTS.m + name)])),
      v: new Map([...optimized].map((name) => [name, f32(MOMENTS.v + name)])),
    };
  }
  if (meta !== undefined) state.meta = meta;
  return state;
}

// ---------------------------------------------------------------------------------------------------
// A directory of checkpoints for resumable training: step-000123.safetensors, newest = highest step.

const STEP_FILE = /^step-(\d+)\.safetensors$/;

export function checkpointPath(dir: string, step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`checkpoint step ${step} is not a non-negative integer`);
  }
  return join(dir, `step-${String(step).padStart(6, '0')}.safetensors`);
}

export interface FoundCheckpoint {
  path: string;
  step: number;
}

/** Step files in `dir`, newest first; none when the directory does not exist. */
function stepFiles(dir: string): FoundCheckpoint[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .flatMap((name) => {
      const match = STEP_FILE.exec(name);
      return match ? [{ path: join(dir, name), step: Number(match[1]) }] : [];
    })
    .sort((a, b) => b.step - a.step);
}

// Complete = the header is valid, accounts for exactly the file's size, and describes a consistent
// checkpoint. Only the header is read, so this is cheap however large the file.
function completeness(path: string): Error | undefined {
  try {
    const { tensors, metadata } = readSafetensorsHeader(path);
    checkLayout(path, tensors, metadata);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export interface ScanOptions {
  /** Told about each step file passed over as incomplete or corrupt, so a caller can log it. */
  onSkip?: (path: string, error: Error) => void;
}

/** The highest-step complete checkpoint in `dir`, or undefined when there is none. */
export function latestCheckpoint(dir: string, opts: ScanOptions = {}): FoundCheckpoint | undefined {
  for (const found of stepFiles(dir)) {
    const problem = completeness(found.path);
    if (!problem) return found;
    opts.onSkip?.(found.path, problem);
  }
  return undefined;
}

/**
 * Deletes step files older than the `keep` newest complete checkpoints; returns the deleted paths.
 * Corrupt files newer than those are left for inspection, and nothing is deleted unless `keep`
 * complete checkpoints exist, so pruning can never remove the last good one.
 */
export function pruneCheckpoints(dir: string, keep: number, opts: ScanOptions = {}): string[] {
  if (!Number.isSafeInteger(keep) || keep < 1) {
    throw new RangeError(`pruneCheckpoints: keep must be >= 1, got ${keep}`);
  }
  const files = stepFiles(dir);
  let kept = 0;
  let index = 0;
  for (; index < files.length && kept < keep; index++) {
    const problem = completeness(files[index]!.path);
    if (problem) opts.onSkip?.(files[index]!.path, problem);
    else kept++;
  }
  if (kept < keep) return [];
  const doomed = files.slice(index).map((f) => f.path);
  for (const path of doomed) rmSync(path, { force: true });
  return doomed;
}
