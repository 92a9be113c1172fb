import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readSubClassOfAxioms } from './do-axioms.ts';
import { readHumanDoTsv, readNciInDoTsv } from './do-reports.ts';
import { mergeDoTerms, type DoInputs } from './do-terms.ts';
import { SourceError } from './errors.ts';
import { parseObo } from './obo.ts';

const DOID = fileURLToPath(new URL('./fixtures/sources/doid/', import.meta.url));
const read = (p: string) => readFileSync(`${DOID}${p}`, 'utf8');

function fixtureInputs(override: Partial<Record<'humanDo' | 'ncit' | 'cancer', string>> = {}): DoInputs {
  const obo = (
    source: 'do-ncit-subset' | 'do-cancer-slim' | 'do-rare-slim' | 'do-2016',
    file: string,
    text?: string,
  ) => ({
    source,
    licence: 'CC0-1.0',
    doc: parseObo(text ?? read(file), file),
  });
  return {
    humanDo: {
      source: 'do-humando',
      file: 'HumanDO.tsv',
      licence: 'CC0-1.0',
      rows: readHumanDoTsv(override.humanDo ?? read('current/HumanDO.tsv'), 'HumanDO.tsv'),
    },
    nciMap: {
      file: 'NCIinDO.tsv',
      licence: 'CC0-1.0',
      rows: readNciInDoTsv(read('current/NCIinDO.tsv'), 'NCIinDO.tsv'),
    },
    axioms: {
      file: 'axioms.tsv',
      licence: 'CC0-1.0',
      rows: readSubClassOfAxioms(read('current/DO-subClassOf-anonymous.tsv'), 'axioms.tsv'),
    },
    current: [
      obo('do-ncit-subset', 'current/NCIthesaurus.obo', override.ncit),
      obo('do-cancer-slim', 'current/DO_cancer_slim.obo', override.cancer),
      obo('do-rare-slim', 'current/DO_rare_slim.obo'),
    ],
    historical: obo('do-2016', '2016-09-01/doid.obo'),
  };
}

describe('mergeDoTerms', () => {
  const terms = mergeDoTerms(fixtureInputs());

  it('has one record per current term, none for obsolete ones', () => {
    assert.equal(terms.size, 21);
    assert.equal(terms.has('DOID:0000001'), false);
    assert.equal(terms.has('DOID:1000'), false);
  });

  it('joins parents from HumanDO.tsv labels and OBO is_a, without duplicates', () => {
    assert.deepEqual(
      terms.get('DOID:3910')?.parents.map((e) => [e.parent, e.field]),
      [['DOID:3908', 'subClassOf']],
    );
    // The root "disease" is not a term; a parent outside the release is dropped.
    assert.deepEqual(
      terms.get('DOID:162')?.parents.map((e) => e.parent),
      ['DOID:14566'],
    );
  });

  it('collects codes from xrefs and NCIinDO.tsv', () => {
    const luad = terms.get('DOID:3910');
    assert.deepEqual(luad?.ncit, ['C2923', 'C3512']);
    assert.deepEqual(luad?.umls, ['C0152013']);
    assert.deepEqual(luad?.icdo, ['8140/3']);
    assert.deepEqual(terms.get('DOID:3907')?.ncit, ['C3493']);
  });

  it('prefers current definitions and keeps the 2016 one only as a fallback', () => {
    const luad = terms.get('DOID:3910');
    assert.deepEqual(
      luad?.definitions.map((d) => [d.current, d.provenance.source]),
      [
        [true, 'do-ncit-subset'],
        [true, 'do-cancer-slim'],
        [false, 'do-2016'],
      ],
    );
    const mel = terms.get('DOID:8923');
    assert.deepEqual(
      mel?.definitions.map((d) => d.current),
      [false],
    );
  });

  it('fills synonyms from 2016, including a merged term’s name through alt_id', () => {
    const texts = terms.get('DOID:3910')?.synonyms.map((s) => `${s.text} (${s.provenance.source})`);
    assert.ok(texts?.includes('pulmonary adenocarcinoma (do-2016)'));
    assert.ok(texts?.includes('bronchial adenocarcinoma (do-2016)'));
    assert.equal(terms.get('DOID:8923')?.umls[0], 'C0151779');
  });

  it('attaches the axioms', () => {
    assert.equal(terms.get('DOID:1324')?.restrictions[0]?.fillers[0], 'lung');
  });

  it('refuses a cycle in the hierarchy, naming the file, line and field of the edge that closes it', () => {
    const cyclic = read('current/NCIthesaurus.obo').replace(
      'id: DOID:162\nname: cancer\n',
      'id: DOID:162\nname: cancer\nis_a: DOID:3910 ! lung adenocarcinoma\n',
    );
    let err: unknown;
    try {
      mergeDoTerms(fixtureInputs({ ncit: cyclic }));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof SourceError);
    // The search visits terms in id order, so the edge reported is fixed: DOID:3908's parent in
    // HumanDO.tsv (line 6), which closes DOID:1324 → DOID:162 → DOID:3910 → DOID:3908 → DOID:1324.
    assert.equal(
      err.message,
      'HumanDO.tsv:6: field "subClassOf": cycle in the disease hierarchy: DOID:1324 → DOID:162 → DOID:3910 → DOID:3908 → DOID:1324' +
        ' (DOID:1324 → DOID:162 at HumanDO.tsv:5; DOID:162 → DOID:3910 at current/NCIthesaurus.obo:9;' +
        ' DOID:3910 → DOID:3908 at HumanDO.tsv:7; DOID:3908 → DOID:1324 at HumanDO.tsv:6)',
    );
    // The injected edge is among those listed, at its own line.
    assert.equal(cyclic.split('\n')[8], 'is_a: DOID:3910 ! lung adenocarcinoma');
    assert.match(read('current/HumanDO.tsv').split('\n')[5] ?? '', /^"DOID:3908"\t.*\t"lung cancer"$/);
  });

  it('refuses a parent label that names no term', () => {
    const bad = read('current/HumanDO.tsv').replace(
      '"DOID:305"\t"carcinoma"\t"cancer"',
      '"DOID:305"\t"carcinoma"\t"cancr"',
    );
    assert.throws(
      () => mergeDoTerms(fixtureInputs({ humanDo: bad })),
      /HumanDO\.tsv:4: field "subClassOf": parent "cancr"/,
    );
  });
});
