// What a done marker records about each output it vouches for, and the cheap re-check of it: the
// size always, the checksum only when the modification time moved (a file rewritten, restored or
// damaged in place), so a rerun over thousands of complete outputs costs a stat per file.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const fileDigestSchema = z.object({
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mtimeMs: z.number(),
});
export type FileDigest = z.infer<typeof fileDigestSchema>;

/** SHA-256 of a file, read in 1 MiB pieces (outputs can be large; nothing is held whole). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function digestFile(path: string): FileDigest {
  const st = statSync(path);
  return { size: st.size, sha256: sha256File(path), mtimeMs: Math.round(st.mtimeMs) };
}

/** Why `path` no longer matches its record ("missing", "corrupt (…)"), or undefined when it does. */
export function digestProblem(path: string, want: FileDigest): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return 'not a file';
  if (st.size !== want.size) return `corrupt (${st.size} bytes; the done marker recorded ${want.size})`;
  if (Math.round(st.mtimeMs) === want.mtimeMs) return undefined;
  try {
    if (sha256File(path) !== want.sha256) return 'corrupt (its checksum differs from the done marker)';
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  }
  return undefined;
}
