import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fromFloat32, writeSafetensors } from '../engine/safetensors.ts';
import { readEmbeddings, writeEmbeddings } from './embeddings-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-embfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('embeddings round-trip with their row names and provenance', () => {
  const p = join(dir, 'e.safetensors');
  const e = {
    kind: 'texts' as const,
    items: ['a "quoted", text', 'ünïcode'],
    embeddings: new Float32Array([0.6, 0.8, 1, 0]),
    dim: 2,
    model: 'kep-16',
    source: 'w.pt',
    untrained: false,
    precision: 'int8' as const,
    unreadable: [],
  };
  writeEmbeddings(p, e);
  assert.deepEqual(readEmbeddings(p), e);
  // Files written before the field existed (and writers that leave it out) read as fp32.
  writeEmbeddings(p, { ...e, precision: undefined });
  assert.equal(readEmbeddings(p).precision, 'fp32');
  assert.throws(() => writeEmbeddings(p, { ...e, dim: 3 }), /4 values for 2 rows of dimension 3/);
});

test('other safetensors files are refused with the reason', () => {
  const p = join(dir, 'other.safetensors');
  writeSafetensors(p, { w: fromFloat32(new Float32Array(4), [2, 2]) }, { format: 'pt' });
  assert.throws(() => readEmbeddings(p), /other\.safetensors: not a kep embeddings file \(metadata format/);
  const q = join(dir, 'rows.safetensors');
  writeSafetensors(
    q,
    { embeddings: fromFloat32(new Float32Array(4), [2, 2]) },
    {
      format: 'kep-embeddings/1',
      kind: 'images',
      model: 'm',
      source: 's',
      untrained: 'true',
      items: '["only one"]',
    },
  );
  assert.throws(() => readEmbeddings(q), /metadata "items" must list 2 strings/);
});
