import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from './build.ts';
import { exportChunks, parseSamples, samples } from './export.ts';
import { ATTRIBUTE_KINDS } from './schema.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/', import.meta.url));

describe('export', () => {
  const tree = buildTree(FIXTURES);
  const total = ATTRIBUTE_KINDS.reduce((s, k) => s + tree.build.counts.attributes[k], 0);

  it('writes one JSON object per attribute: text, label (disease id), kind, tissue, source', () => {
    const text = [...exportChunks(tree, 'jsonl')].join('');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, total);
    for (const line of lines) {
      const o = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(Object.keys(o), ['text', 'label', 'kind', 'tissue', 'source']);
      assert.ok(ATTRIBUTE_KINDS.includes(o['kind'] as never));
    }
    assert.deepEqual(JSON.parse(lines.find((l) => l.includes('"Lung Adenocarcinoma"')) ?? '{}'), {
      text: 'Lung Adenocarcinoma',
      label: 'ONCOTREE:LUAD',
      kind: 'name',
      tissue: 'LUNG',
      // The sorted unique provenance sources, so that a split can hold a source out.
      source: 'do-humando+ncit-disease+oncotree',
    });
    const parsed = parseSamples(text, 's.jsonl');
    assert.equal(parsed.length, total);
    assert.ok(parsed.some((s) => s.source === 'ncit-disease' && s.kind === 'histology'));
    // Files written before the source field still read.
    assert.deepEqual(parseSamples('{"text":"a","label":"X:1","kind":"name","tissue":"T"}\n', 'old.jsonl'), [
      { text: 'a', label: 'X:1', kind: 'name', tissue: 'T' },
    ]);
  });

  it('filters by kind', () => {
    const names = [...samples(tree, ['name'])];
    assert.equal(names.length, tree.build.counts.diseases);
    assert.ok(names.every((s) => s.kind === 'name'));
  });

  it('quotes CSV fields that need it', () => {
    const csv = [...exportChunks(tree, 'csv', ['synonym'])].join('');
    const rows = csv.split('\r\n');
    assert.equal(rows[0], 'text,label,kind,tissue,source');
    assert.ok(
      rows.includes('"epithelial neoplasm, malignant",DOID:305,synonym,OTHER,do-ncit-subset+ncit-disease'),
    );
    assert.equal(rows.length - 2, tree.build.counts.attributes.synonym);
  });

  it('gives the diseases with their texts as one JSON array', () => {
    const list = JSON.parse([...exportChunks(tree, 'json')].join('')) as {
      id: string;
      tissue: string;
      texts: Record<string, string[]>;
    }[];
    assert.equal(list.length, tree.build.counts.diseases);
    const luad = list.find((d) => d.id === 'ONCOTREE:LUAD');
    assert.equal(luad?.tissue, 'LUNG');
    assert.equal(luad?.texts['histology']?.length, 3);
  });

  it('rejects a sample line that breaks the format, naming the line', () => {
    assert.throws(
      () =>
        parseSamples(
          '{"text":"a","label":"X:1","kind":"name","tissue":"T"}\n{"text":"a","label":"X:1","kind":"gross","tissue":"T"}\n',
          'x.jsonl',
        ),
      /x\.jsonl:2:/,
    );
  });
});
