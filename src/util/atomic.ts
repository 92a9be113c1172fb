// Every file kep writes goes through here: write beside the target, fsync, then rename, so a reader
// (or a resumed run) sees either the old file or the new one, never half of one. A writer killed
// mid-write leaves its temporary file behind; `removeStaleTemps` clears those at the next run's start.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { ensureDir, fileSystemError } from './fs-errors.ts';

export type Chunk = string | Uint8Array;

/** The temporary name a writer in this process uses for `path` (pid in it: see removeStaleTemps). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

export function writeFileAtomic(path: string, data: Chunk | Iterable<Chunk>): void {
  ensureDir(dirname(path));
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw fileSystemError(err, path, 'write');
  }
  try {
    const chunks = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    // A write through a descriptor names no file (ENOSPC, EDQUOT): the target is named here.
    throw fileSystemError(err, path, 'write');
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fileSystemError(err, path, 'replace');
  }
}

/** `.NAME.PID.TIME.tmp`, as tempPathFor and the features writer name their files. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files in `dir` left by writers that died (their process is gone); those of
 * live processes are left alone, so two runs sharing a folder do not break each other's writes.
 * With `target`, only the temporaries of that file name. Returns the removed paths.
 */
export function removeStaleTemps(dir: string, target?: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || (target !== undefined && m[1] !== target) || processAlive(Number(m[2]))) continue;
    try {
      rmSync(join(dir, name), { force: true });
      removed.push(join(dir, name));
    } catch (err) {
      throw fileSystemError(err, join(dir, name), 'remove the stale temporary file');
    }
  }
  return removed;
}
