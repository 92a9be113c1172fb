import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';

test('writeFileAtomic writes chunks and leaves no temp file behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-atomic-'));
  const path = join(dir, 'sub', 'out.bin');
  writeFileAtomic(path, ['ab', new Uint8Array([99, 100])]);
  assert.equal(readFileSync(path, 'utf8'), 'abcd');
  writeFileAtomic(path, 'new');
  assert.equal(readFileSync(path, 'utf8'), 'new');
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['out.bin']);
});

test('writeFileAtomic keeps the old file when writing fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-atomic-'));
  const path = join(dir, 'out.txt');
  writeFileAtomic(path, 'old');
  function* failing(): Generator<string> {
    yield 'partial';
    throw new Error('disk on fire');
  }
  assert.throws(() => writeFileAtomic(path, failing()), /disk on fire/);
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['out.txt']);
});
