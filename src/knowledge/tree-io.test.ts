import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from './build.ts';
import { SourceError } from './errors.ts';
import { loadTree, parseTree, saveTree, serialiseTree } from './tree-io.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/', import.meta.url));

describe('tree files', () => {
  const tree = buildTree(FIXTURES);
  const dir = mkdtempSync(join(tmpdir(), 'kep-tree-io-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trip: save, load, save gives the same bytes', () => {
    const a = join(dir, 'a.json');
    saveTree(a, tree);
    const loaded = loadTree(a);
    assert.deepEqual(loaded, tree);
    assert.equal(serialiseTree(loaded), readFileSync(a, 'utf8'));
  });

  it('writes one disease per line', () => {
    const lines = serialiseTree(tree).split('\n');
    const diseaseLines = lines.filter(
      (l) => l.startsWith('{"id":"ONCOTREE:') || l.startsWith('{"id":"DOID:') || l.startsWith('{"id":"NCIT:'),
    );
    assert.equal(diseaseLines.length, tree.build.counts.diseases);
  });

  it('points at the line and field of an invalid tree', () => {
    const text = serialiseTree(tree).replace('"kind":"cytology"', '"kind":"cytologie"');
    let err: unknown;
    try {
      parseTree(text, 'bad.json');
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof SourceError);
    const line = text.split('\n').findIndex((l) => l.includes('"cytologie"')) + 1;
    assert.equal(err.line, line);
    assert.match(err.field, /^tissues\[\d+\]\.diseases\[\d+\]\.attributes\[\d+\]\.kind$/);
  });

  it('checks the structure beyond the types: parents, names, counts', () => {
    const t = structuredClone(tree);
    const d = t.tissues[1]?.diseases[0];
    assert.ok(d);
    d.parent = 'DOID:nowhere';
    assert.throws(() => parseTree(JSON.stringify(t), 'p.json'), /parent DOID:nowhere is not in the tree/);
    const u = structuredClone(tree);
    u.build.counts.diseases += 1;
    assert.throws(() => parseTree(JSON.stringify(u), 'c.json'), /do not match the tree/);
  });

  it('refuses to write an invalid tree and leaves nothing behind', () => {
    const t = structuredClone(tree);
    t.build.counts.tissues = 99;
    const out = join(dir, 'invalid.json');
    assert.throws(() => saveTree(out, t), /refusing to write an invalid tree/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('invalid')),
      [],
    );
  });
});
