import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeStaleTemps, writeFileAtomic } from './atomic.ts';
import { describeError, ensureDir, fileSystemError } from './fs-errors.ts';

const errno = (code: string, syscall: string, path?: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: something, ${syscall}${path ? ` '${path}'` : ''}`), {
    code,
    errno: -1,
    syscall,
    ...(path ? { path } : {}),
  });

test('errno errors are restated with the path, the action and the real cause', () => {
  const cases: [NodeJS.ErrnoException, string, RegExp][] = [
    [
      errno('EROFS', 'open', '/mnt/ro/x'),
      'write',
      /^\/mnt\/ro\/x: cannot write: read-only file system \(EROFS\)$/,
    ],
    // A write through a descriptor names no file: the caller's path is used.
    [
      errno('ENOSPC', 'write'),
      'write',
      /^\/out\/emb\.safetensors: cannot write: no space left on the device \(ENOSPC\)$/,
    ],
    [errno('EACCES', 'open', '/root/x'), 'write', /^\/root\/x: cannot write: permission denied \(EACCES\)$/],
  ];
  for (const [err, action, want] of cases)
    assert.match((fileSystemError(err, '/out/emb.safetensors', action) as Error).message, want);
  assert.match(describeError(errno('ENOSPC', 'write', '/d/f')), /\/d\/f: cannot write: no space left/);
  const plain = new Error('not a file-system error');
  assert.equal(fileSystemError(plain, '/x', 'write'), plain);
});

test('a folder that cannot be made says which existing path is in the way and why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-fserr-'));
  writeFileSync(join(dir, 'file'), 'x');
  assert.throws(
    () => ensureDir(join(dir, 'file', 'sub', 'deeper')),
    (e: Error) =>
      e.message ===
      `${join(dir, 'file', 'sub', 'deeper')}: cannot create the folder: ${join(dir, 'file')}: not a folder (ENOTDIR)`,
  );
  assert.throws(
    () => writeFileAtomic(join(dir, 'file', 'out.json'), '{}'),
    /file: cannot create the folder: not a folder \(ENOTDIR\)/,
  );
});

test('removeStaleTemps removes the temporaries of dead writers only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-stale-'));
  // pid 2^22 + 1 exceeds Linux's pid_max, so no process has it.
  const dead = `.ckpt.safetensors.${2 ** 22 + 1}.1700000000000.tmp`;
  const live = `.ckpt.safetensors.${process.pid}.1700000000000.tmp`;
  const other = `.summary.json.${2 ** 22 + 1}.1700000000000.tmp`;
  for (const f of [dead, live, other, 'keep.txt']) writeFileSync(join(dir, f), 'x');
  assert.deepEqual(removeStaleTemps(dir, 'ckpt.safetensors'), [join(dir, dead)]);
  assert.deepEqual(removeStaleTemps(dir), [join(dir, other)]);
  assert.deepEqual(readdirSync(dir).sort(), [live, 'keep.txt'].sort());
});
