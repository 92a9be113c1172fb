import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { corpusFilesIn, readCorpusFile } from './corpus.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-corpus-'));

test('paragraphs are the non-blank lines of .txt and .txt.gz files', () => {
  writeFileSync(join(dir, 'a.txt'), 'First paragraph.\n\n  Second one.  \r\n');
  writeFileSync(join(dir, 'b.txt.gz'), gzipSync('Compressed text.\n'));
  writeFileSync(join(dir, 'notes.md'), 'ignored');
  assert.deepEqual(readCorpusFile(join(dir, 'a.txt')).paragraphs, ['First paragraph.', 'Second one.']);
  assert.deepEqual(readCorpusFile(join(dir, 'b.txt.gz')).paragraphs, ['Compressed text.']);
  assert.deepEqual(corpusFilesIn(dir), [join(dir, 'a.txt'), join(dir, 'b.txt.gz')]);
});

test('bad corpus files are refused with their name (and line)', () => {
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '\n  \n');
  assert.throws(
    () => readCorpusFile(empty),
    (e: Error) => e.message.startsWith(`${empty}: no text`),
  );
  const missing = join(dir, 'missing.txt');
  assert.throws(
    () => readCorpusFile(missing),
    (e: Error) => e.message.startsWith(`${missing}: cannot read`),
  );
  const folder = join(dir, 'folder.txt');
  mkdirSync(folder);
  assert.throws(
    () => readCorpusFile(folder),
    (e: Error) => e.message.startsWith(`${folder}: cannot read`),
  );
  const badGz = join(dir, 'bad.txt.gz');
  writeFileSync(badGz, 'not gzip');
  assert.throws(
    () => readCorpusFile(badGz),
    (e: Error) => e.message.startsWith(`${badGz}: not valid gzip`),
  );
  const latin1 = join(dir, 'latin1.txt');
  writeFileSync(latin1, Buffer.from([0x6f, 0x6b, 0x0a, 0x63, 0x61, 0x66, 0xe9, 0x0a]));
  assert.throws(
    () => readCorpusFile(latin1),
    (e: Error) => e.message.startsWith(`${latin1}:2: not valid UTF-8`),
  );
  const binary = join(dir, 'binary.txt');
  writeFileSync(binary, Buffer.from([0x61, 0x00, 0x62]));
  assert.throws(() => readCorpusFile(binary), /binary\.txt: contains NUL bytes/);
  assert.throws(() => readCorpusFile(join(dir, 'notes.md')), /notes\.md: a corpus file must end in \.txt/);
  const huge = join(dir, 'long.txt');
  writeFileSync(huge, `${'x'.repeat(100_001)}\n`);
  assert.throws(() => readCorpusFile(huge), /long\.txt:1: a paragraph of 100001 characters/);
  const none = join(dir, 'none');
  mkdirSync(none);
  assert.throws(() => corpusFilesIn(none), /none: no \.txt or \.txt\.gz files/);
});
