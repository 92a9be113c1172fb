import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseSssom } from './sssom.ts';
import { sourceError } from './testing.ts';

const text = (name: string) =>
  readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');

describe('SSSOM reader', () => {
  it('reads the metadata block, the curie map and the rows by column name with file lines', () => {
    const t = parseSssom(text('sources/mondo/mondo_hasdbxref_oncotree.sssom.tsv'), 'x.tsv');
    assert.equal(t.metadata['license'], 'https://creativecommons.org/publicdomain/zero/1.0/');
    assert.match(t.metadata['mapping_set_version'] ?? '', /2099-01-01/);
    assert.equal(
      t.curieMap['ONCOTREE'],
      'http://purl.obolibrary.org/obo/mondo/mappings/unknown_prefix/ONCOTREE/',
    );
    assert.deepEqual(t.mappings[0], {
      subject: 'MONDO:0005061',
      subjectLabel: 'lung adenocarcinoma',
      predicate: 'oboInOwl:hasDbXref',
      object: 'ONCOTREE:LUAD',
      objectLabel: '',
      justification: 'semapv:ManualMappingCuration',
      line: 9,
    });
  });

  it('names file, line and field of malformed tables', () => {
    const curie = sourceError(() => parseSssom(text('mondo/bad-curie.sssom.tsv'), 'bad-curie.sssom.tsv'));
    assert.deepEqual([curie.file, curie.line, curie.field], ['bad-curie.sssom.tsv', 9, 'object_id']);
    assert.match(curie.reason, /CURIE.*"C2923"/);
    const columns = sourceError(() => parseSssom(text('mondo/bad-columns.sssom.tsv'), 'b.tsv'));
    assert.deepEqual([columns.line, columns.field], [6, 'object_label']);
    assert.match(columns.reason, /expected 6 tab-separated fields, found 5/);
    const meta = sourceError(() => parseSssom(text('mondo/bad-metadata.sssom.tsv'), 'b.tsv'));
    assert.deepEqual([meta.line, meta.field], [3, '(metadata)']);
    const missing = sourceError(() => parseSssom(text('mondo/bad-missing-column.sssom.tsv'), 'b.tsv'));
    assert.deepEqual([missing.line, missing.field], [3, 'mapping_justification']);
  });

  it('rejects a prefix the curie map does not declare', () => {
    const t = text('sources/mondo/mondo_exactmatch_doid.sssom.tsv').replace('DOID:3910', 'XDOID:3910');
    const e = sourceError(() => parseSssom(t, 'd.tsv'));
    assert.equal(e.field, 'object_id');
    assert.match(e.reason, /prefix "XDOID"/);
  });
});
