import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readSubClassOfAxioms, parseRestrictions } from './do-axioms.ts';
import { readHumanDoTsv, readNciInDoTsv } from './do-reports.ts';
import { parseTsv } from './tsv.ts';
import { sourceError } from './testing.ts';

const CURRENT = fileURLToPath(new URL('./fixtures/sources/doid/current/', import.meta.url));

describe('parseTsv', () => {
  it('unquotes fields and keeps line numbers', () => {
    const t = parseTsv('a\tb\n"x ""y"""\tz\n\n1\t2\n', 't.tsv', ['a']);
    assert.deepEqual(
      t.rows.map((r) => [r.line, r.fields['a'], r.fields['b']]),
      [
        [2, 'x "y"', 'z'],
        [4, '1', '2'],
      ],
    );
  });
  it('names a missing column and a short row', () => {
    assert.equal(sourceError(() => parseTsv('a\tb\n', 't.tsv', ['c'])).field, 'c');
    const e = sourceError(() => parseTsv('a\tb\nonly\n', 't.tsv', ['a']));
    assert.equal(e.line, 2);
    assert.match(e.reason, /expected 2 tab-separated fields, found 1/);
  });
});

describe('HumanDO.tsv and NCIinDO.tsv', () => {
  it('reads ids, labels and parent labels', () => {
    const rows = readHumanDoTsv(readFileSync(`${CURRENT}HumanDO.tsv`, 'utf8'), 'HumanDO.tsv');
    assert.equal(rows.length, 21);
    assert.deepEqual(rows[4], {
      id: 'DOID:3908',
      label: 'lung non-small cell carcinoma',
      parentLabel: 'lung cancer',
      line: 6,
    });
  });
  it('reads NCIt codes, several per term', () => {
    const rows = readNciInDoTsv(readFileSync(`${CURRENT}NCIinDO.tsv`, 'utf8'), 'NCIinDO.tsv');
    assert.deepEqual(rows[1]?.ncit, ['C3512', 'C2923']);
  });
  it('rejects a malformed id or code with its line and field', () => {
    const e = sourceError(() =>
      readHumanDoTsv('id\tlabel\tsubClassOf\n"DOID:1"\t"a"\t""\n"162"\t"b"\t"a"\n', 'h.tsv'),
    );
    assert.deepEqual([e.line, e.field], [3, 'id']);
    const n = sourceError(() =>
      readNciInDoTsv('id\tlabel\txrefs\n"DOID:1"\t"a"\t"NCI:C1, MESH:D1"\n', 'n.tsv'),
    );
    assert.deepEqual([n.line, n.field], [2, 'xrefs']);
  });
});

describe('subClassOf axioms', () => {
  it('finds every relation and filler of a Manchester expression', () => {
    assert.deepEqual(parseRestrictions("'disease has location' some lung"), [
      { relation: 'disease has location', fillers: ['lung'], alternatives: false },
    ]);
    assert.deepEqual(
      parseRestrictions("'derives from' some ('epithelial cell' and (has_origin some gland))"),
      [
        { relation: 'derives from', fillers: ['epithelial cell'], alternatives: false },
        { relation: 'has_origin', fillers: ['gland'], alternatives: false },
      ],
    );
    assert.deepEqual(parseRestrictions("'disease has location' some ('zone of skin' or lung)"), [
      { relation: 'disease has location', fillers: ['zone of skin', 'lung'], alternatives: true },
    ]);
    assert.deepEqual(parseRestrictions("cancer and ('derives from' some 'epithelial cell')"), [
      { relation: 'derives from', fillers: ['epithelial cell'], alternatives: false },
    ]);
    assert.deepEqual(parseRestrictions("'has allergic trigger' some diphenylmethane-4,4'-diisocyanate"), [
      {
        relation: 'has allergic trigger',
        fillers: ["diphenylmethane-4,4'-diisocyanate"],
        alternatives: false,
      },
    ]);
  });
  it('reads the report, one disease a line, alternatives split on "|"', () => {
    const rows = readSubClassOfAxioms(
      readFileSync(`${CURRENT}DO-subClassOf-anonymous.tsv`, 'utf8'),
      'axioms.tsv',
    );
    const lusc = rows.find((r) => r.id === 'DOID:3907');
    assert.deepEqual(
      lusc?.restrictions.map((r) => `${r.relation}: ${r.fillers.join(',')}`),
      ['derives from: squamous epithelial cell', 'disease has location: lung'],
    );
  });
  it('rejects unbalanced brackets and quotes with line and column name', () => {
    const text = "ID\tLABEL\tSubClass Of [ANON]\nDOID:1\ta\t'derives from' some ('x' and y\n";
    const e = sourceError(() => readSubClassOfAxioms(text, 'ax.tsv'));
    assert.deepEqual([e.file, e.line, e.field], ['ax.tsv', 2, 'SubClass Of [ANON]']);
    assert.match(e.reason, /unbalanced/);
    assert.match(
      sourceError(() =>
        readSubClassOfAxioms("ID\tLABEL\tSubClass Of [ANON]\nDOID:1\ta\t'derives from some x\n", 'ax.tsv'),
      ).reason,
      /unterminated/,
    );
  });
});
