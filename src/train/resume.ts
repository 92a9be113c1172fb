// Resuming a run folder is refused, before anything in it changes, when the settings given now
// build a model whose parameters do not fit the folder's newest checkpoint (another image size,
// another embedding width, another loss with other towers…). Only the checkpoint's header is read.
// The message names the parameters that do not fit, the settings that differ from those the run
// was started with, and how to start a new run instead.
import { basename, join } from 'node:path';
import { latestCheckpoint } from '../engine/checkpoint.ts';
import type { Graph } from '../engine/graph.ts';
import { readSafetensorsHeader } from '../engine/safetensors.ts';

export class ResumeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResumeRefusedError';
  }
}

/** Parameter name → shape of what a model builder puts into a graph. */
export function parameterShapes(g: Graph): Map<string, readonly number[]> {
  return new Map([...g.params.values()].map((p) => [p.name, p.shape]));
}

const show = (v: unknown): string => (v === undefined ? '(unset)' : JSON.stringify(v));

/** "imageSize 64 (the run's: 32)" for each top-level setting that differs. */
export function settingDifferences(
  now: Record<string, unknown>,
  recorded: Record<string, unknown>,
  flags: Record<string, string> = {},
): string[] {
  const keys = [...new Set([...Object.keys(now), ...Object.keys(recorded)])];
  return keys
    .filter((k) => JSON.stringify(now[k]) !== JSON.stringify(recorded[k]))
    .map((k) => `${flags[k] ?? k} ${show(now[k])} (the run's: ${show(recorded[k])})`);
}

export interface ResumeCheck {
  outDir: string;
  /** What the settings given now build. */
  expected: ReadonlyMap<string, readonly number[]>;
  /** The settings given now. */
  settings: Record<string, unknown>;
  /** The settings the run was started with; default: the `config` its checkpoint's meta records. */
  recorded?: Record<string, unknown>;
  /** Command-line spellings of setting names ("imageSize" → "--image-size"). */
  flags?: Record<string, string>;
}

export function checkResume(c: ResumeCheck): void {
  const found = latestCheckpoint(join(c.outDir, 'checkpoints'));
  if (!found) return;
  const { tensors, metadata } = readSafetensorsHeader(found.path);
  const problems: string[] = [];
  for (const [name, shape] of c.expected) {
    const saved = tensors.get(name);
    if (!saved) problems.push(`${name} is not in the checkpoint`);
    else if (saved.shape.join(',') !== shape.join(','))
      problems.push(
        `${name} is [${saved.shape.join(', ')}] there, [${shape.join(', ')}] with these settings`,
      );
  }
  if (problems.length === 0) return;
  let recorded = c.recorded;
  if (!recorded) {
    try {
      const meta = JSON.parse(metadata['kep.meta'] ?? '{}') as { config?: Record<string, unknown> };
      recorded = meta.config;
    } catch {
      recorded = undefined;
    }
  }
  const differs = recorded ? settingDifferences(c.settings, recorded, c.flags) : [];
  const shown =
    problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  throw new ResumeRefusedError(
    `${c.outDir}: cannot resume this run with these settings: its checkpoint ${basename(found.path)} does not fit them (${shown}). ` +
      (differs.length > 0
        ? `Settings that differ from the run's: ${differs.join('; ')}. `
        : 'The settings the run was started with are not recorded. ') +
      `Resume with the run's settings, or start a new run in another folder (--out). Nothing in ${c.outDir} was changed.`,
  );
}
