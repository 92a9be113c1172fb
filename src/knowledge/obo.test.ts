import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseObo } from './obo.ts';
import { sourceError } from './testing.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/doid/', import.meta.url));

describe('parseObo', () => {
  const doc = parseObo(readFileSync(`${FIXTURES}current/NCIthesaurus.obo`, 'utf8'), 'NCIthesaurus.obo');

  it('reads the header and every [Term]', () => {
    assert.equal(doc.header.formatVersion, '1.2');
    assert.equal(doc.header.dataVersion, 'doid/releases/2099-01-01/subsets/NCIthesaurus.obo');
    assert.equal(doc.terms.length, 10);
  });

  it('reads names, definitions, synonyms with scope and type, xrefs, is_a without the comment, alt_id', () => {
    const luad = doc.terms.find((t) => t.id === 'DOID:3910');
    assert.ok(luad);
    assert.equal(luad.name, 'lung adenocarcinoma');
    assert.match(luad.def?.text ?? '', /^A lung non-small cell carcinoma that derives_from epithelial cells/);
    assert.deepEqual(
      luad.synonyms.map((s) => [s.text, s.scope]),
      [
        ['adenocarcinoma of the lung', 'EXACT'],
        ['Adenocarcinoma of lung', 'EXACT'],
        ['lung cancer', 'BROAD'],
        ['bronchogenic adenocarcinoma', 'RELATED'],
      ],
    );
    assert.deepEqual(luad.xrefs, ['NCI:C3512', 'UMLS_CUI:C0152013', 'ICDO:8140/3']);
    assert.deepEqual(
      luad.isA.map((e) => e.id),
      ['DOID:3908'],
    );
    assert.deepEqual(luad.altIds, ['DOID:9999']);
    const nsclc = doc.terms.find((t) => t.id === 'DOID:3908');
    assert.equal(nsclc?.synonyms[0]?.type, 'OMO:0003012');
  });

  it('marks obsolete terms', () => {
    assert.equal(doc.terms.find((t) => t.id === 'DOID:0000001')?.obsolete, true);
    assert.equal(doc.terms.find((t) => t.id === 'DOID:162')?.obsolete, false);
  });

  it('unescapes quoted text', () => {
    const d = parseObo('[Term]\nid: X:1\nname: a\ndef: "Say \\"hi\\" \\: now" [url:http\\://x]\n', 'e.obo');
    assert.equal(d.terms[0]?.def?.text, 'Say "hi" : now');
  });

  const broken: [string, string, number, string, RegExp][] = [
    ['no id', '[Term]\nname: a\n', 1, 'id', /without an id/],
    ['no name', '[Term]\nid: X:1\ndef: "d" []\n', 1, 'name', /has no name/],
    [
      'unterminated definition',
      '[Term]\nid: X:1\nname: a\ndef: "never closed []\n',
      4,
      'def',
      /double quotes/,
    ],
    ['definition without xrefs', '[Term]\nid: X:1\nname: a\ndef: "d"\n', 4, 'def', /\[xrefs\]/],
    ['synonym without scope', '[Term]\nid: X:1\nname: a\nsynonym: "b" []\n', 4, 'synonym', /scope/],
    [
      'synonym with a bad scope',
      '[Term]\nid: X:1\nname: a\nsynonym: "b" SIMILAR []\n',
      4,
      'synonym',
      /scope/,
    ],
    ['line without a tag', '[Term]\nid: X:1\nname: a\nthis line has no tag\n', 4, 'Term tag', /tag: value/],
    ['bad stanza header', '[Term\nid: X:1\n', 1, 'stanza', /malformed stanza header/],
    ['unknown stanza', '[Thing]\nid: X:1\n', 1, 'stanza', /malformed stanza header/],
    [
      'duplicate term',
      '[Term]\nid: X:1\nname: a\n\n[Term]\nid: X:1\nname: b\n',
      5,
      'id',
      /duplicate \[Term\] X:1 \(first at line 1\)/,
    ],
    ['two names', '[Term]\nid: X:1\nname: a\nname: b\n', 4, 'name', /only one "name"/],
    ['empty is_a', '[Term]\nid: X:1\nname: a\nis_a: ! nothing\n', 4, 'is_a', /needs a term id/],
  ];
  for (const [what, text, line, field, reason] of broken) {
    it(`rejects a broken stanza: ${what}, naming file, line and field`, () => {
      const e = sourceError(() => parseObo(text, 'broken.obo'));
      assert.equal(e.file, 'broken.obo');
      assert.equal(e.line, line);
      assert.equal(e.field, field);
      assert.match(e.reason, reason);
      assert.ok(e.message.startsWith(`broken.obo:${line}: field "${field}"`), e.message);
    });
  }
});
