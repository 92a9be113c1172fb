// One entry point for every weight file kep reads: safetensors, torch.save files (.pt/.pth/.bin/.ckpt),
// and Hugging Face / open_clip model folders (single or sharded).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { readSafetensors } from '../engine/safetensors.ts';
import { CheckpointError, readTorchCheckpoint, type StateDict, type TorchLoadOptions } from './torch.ts';

export interface LoadedStateDict {
  tensors: StateDict;
  /** What was read: the file, or the folder. */
  source: string;
  format: 'safetensors' | 'torch-zip' | 'torch-legacy';
  /** The files read, in order (several for a sharded folder). */
  files: string[];
  /** config.json of a model folder, validated only as a JSON object. */
  config?: Record<string, unknown>;
  /** Torch files: the dict the tensors came from ("" for the top level), per file. */
  container?: string;
  /** Torch files: a description of each top-level entry of the first file. */
  topLevel?: Record<string, string>;
  /** Torch files: non-tensor entries of the state dict, left out. */
  skipped?: string[];
  /** safetensors metadata (first file). */
  metadata?: Record<string, string>;
}

// Weight files of a model folder, in order of preference: safetensors first (no pickle at all).
// open_clip's hub folders (BiomedCLIP) use the open_clip_* names.
const FOLDER_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'open_clip_model.safetensors',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
  'open_clip_pytorch_model.bin',
];

const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});
const ConfigSchema = z.record(z.string(), z.unknown());

function readJson<T>(path: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CheckpointError(path, `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 5)
      .map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message)
      .join('; ');
    throw new CheckpointError(path, detail);
  }
  return parsed.data;
}

async function loadFile(path: string, opts: TorchLoadOptions): Promise<LoadedStateDict> {
  if (path.endsWith('.safetensors')) {
    const { tensors, metadata } = readSafetensors(path);
    return { tensors, source: path, format: 'safetensors', files: [path], metadata };
  }
  const ckpt = await readTorchCheckpoint(path, opts);
  return {
    tensors: ckpt.tensors,
    source: path,
    format: ckpt.format === 'zip' ? 'torch-zip' : 'torch-legacy',
    files: [path],
    container: ckpt.container,
    topLevel: ckpt.topLevel,
    skipped: ckpt.skipped,
  };
}

async function loadSharded(index: string, opts: TorchLoadOptions): Promise<LoadedStateDict> {
  const { weight_map } = readJson(index, IndexSchema);
  const dir = dirname(index);
  const shards = [...new Set(Object.values(weight_map))];
  const tensors: StateDict = new Map();
  let first: LoadedStateDict | undefined;
  for (const shard of shards) {
    // Shard names come from the file: keep them inside the folder.
    if (basename(shard) !== shard)
      throw new CheckpointError(index, `shard name "${shard}" is not a plain file name`);
    const part = await loadFile(join(dir, shard), opts);
    first ??= part;
    for (const [name, t] of part.tensors) {
      if (tensors.has(name)) throw new CheckpointError(index, `tensor "${name}" appears in two shards`);
      if (weight_map[name] !== shard) {
        throw new CheckpointError(
          index,
          `tensor "${name}" is in ${shard} but the index puts it in ${weight_map[name] ?? 'no shard'}`,
        );
      }
      tensors.set(name, t);
    }
  }
  const missing = Object.keys(weight_map).filter((k) => !tensors.has(k));
  if (missing.length) {
    throw new CheckpointError(
      index,
      `${missing.length} tensors listed in the index are in no shard: ${missing.slice(0, 5).join(', ')}`,
    );
  }
  return {
    ...(first ?? { format: index.includes('.safetensors') ? 'safetensors' : 'torch-zip' }),
    tensors,
    source: index,
    files: shards.map((s) => join(dir, s)),
  };
}

/**
 * Reads a state dict from a `.safetensors` file, a `torch.save` file (`.pt`, `.pth`, `.bin`, `.ckpt`,
 * zip or legacy layout), a sharded `*.index.json`, or a Hugging Face / open_clip model folder.
 * Torch pickles are read with an allow-list of globals and never executed (see ./torch.ts).
 */
export async function loadStateDict(path: string, opts: TorchLoadOptions = {}): Promise<LoadedStateDict> {
  const full = resolve(path);
  if (!existsSync(full)) throw new CheckpointError(path, 'no such file or folder');
  if (statSync(full).isDirectory()) {
    const file = FOLDER_FILES.find((f) => existsSync(join(full, f)));
    if (!file) {
      throw new CheckpointError(path, `model folder has none of ${FOLDER_FILES.join(', ')}`);
    }
    const configPath = join(full, 'config.json');
    const config = existsSync(configPath) ? readJson(configPath, ConfigSchema) : undefined;
    const loaded = await loadStateDict(join(full, file), opts);
    return { ...loaded, source: path, ...(config ? { config } : {}) };
  }
  if (full.endsWith('.index.json')) return loadSharded(full, opts);
  return loadFile(full, opts);
}
