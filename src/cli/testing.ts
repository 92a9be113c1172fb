// The shared harness of the command-line reliability tests: run `kep` as a user does (bin/kep.js in
// a child process), assert its exit status and a named message, assert that the output it gives a
// user is clean (no stack trace, no bare errno, no ONNX Runtime text), and assert that a folder it
// must not touch is byte-for-byte what it was.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface KepResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/kep.js with `args` (a 5-minute ceiling: a hang is a failure, not a stuck suite). */
export function kep(args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): KepResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], {
    encoding: 'utf8',
    cwd: opts.cwd ?? ROOT,
    timeout: opts.timeoutMs ?? 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What must never reach a user: a JavaScript stack, a bare errno message, ONNX Runtime's own text. */
const UNCLEAN: [RegExp, string][] = [
  [/^\s+at .+(:\d+:\d+\)?|\(native\))$/m, 'a stack trace'],
  [/\bE[A-Z]{2,}: [a-z]/, 'a bare errno message'],
  [/ONNXRuntimeError|onnxruntime::|\[E:onnxruntime/, 'an ONNX Runtime message'],
];

export interface Expectation {
  status: number;
  /** Each must match stderr (the messages kep writes for people). */
  stderr?: RegExp | RegExp[];
  stdout?: RegExp | RegExp[];
}

/** Asserts the exit status and messages of a run, and that its output is clean (see UNCLEAN). */
export function expectKep(r: KepResult, want: Expectation): void {
  const context = `\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout.slice(0, 2000)}`;
  assert.equal(r.status, want.status, `exit status${context}`);
  for (const re of [want.stderr ?? []].flat()) assert.match(r.stderr, re, `stderr${context}`);
  for (const re of [want.stdout ?? []].flat()) assert.match(r.stdout, re, `stdout${context}`);
  for (const [re, what] of UNCLEAN)
    assert.doesNotMatch(`${r.stderr}\n${r.stdout}`, re, `the output shows ${what}${context}`);
}

/** Every entry under `dir` (relative path → SHA-256 of the bytes, or the link target); {} if absent. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const key = relative(dir, p);
      if (st.isSymbolicLink()) out[key] = `link → ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[`${key}/`] = 'folder';
        walk(p);
      } else out[key] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** Runs `fn` and asserts that nothing under `dir` was created, changed or removed. */
export function expectUnchanged<T>(dir: string, fn: () => T): T {
  const before = treeDigest(dir);
  const result = fn();
  assert.deepEqual(treeDigest(dir), before, `${dir} changed`);
  return result;
}

/** `kep train knowledge --config` settings of a test-sized encoder (seconds per run, one thread). */
export const TINY_KNOWLEDGE_SETTINGS = {
  layers: 1,
  hidden: 32,
  heads: 2,
  intermediate: 64,
  embedDim: 16,
  vocabSize: 300,
  p: 8,
  k: 3,
  evalEvery: 4,
  checkpointEvery: 2,
  warmup: 1,
  threads: 1,
} as const;
