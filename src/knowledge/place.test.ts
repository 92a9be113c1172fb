import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineageTissue, siteTissue } from './anatomy.ts';
import type { DoTerm } from './do-terms.ts';
import { placeDoTerms } from './place.ts';

function term(id: string, label: string, parents: string[] = [], location?: string): DoTerm {
  return {
    id,
    label,
    labelProvenance: { source: 'do-humando', ref: `${id} label`, licence: 'CC0-1.0' },
    parents: parents.map((p) => ({ parent: p, file: 'f', line: 1, field: 'is_a' })),
    ncit: [],
    umls: [],
    icdo: [],
    synonyms: [],
    definitions: [],
    restrictions: location
      ? [{ relation: 'disease has location', fillers: [location], alternatives: false }]
      : [],
  };
}

const TISSUES = new Set([
  'LUNG',
  'UTERUS',
  'SOFT_TISSUE',
  'BRAIN',
  'SKIN',
  'LYMPH',
  'BLADDER',
  'KIDNEY',
  'OTHER',
]);

describe('anatomy', () => {
  it('maps anatomy labels and names to tissues, earliest and longest mention first', () => {
    assert.equal(siteTissue('body of uterus')?.tissue, 'UTERUS');
    assert.equal(siteTissue('renal pelvis urothelial carcinoma')?.tissue, 'BLADDER');
    assert.equal(siteTissue('renal cell carcinoma')?.tissue, 'KIDNEY');
    assert.equal(siteTissue('bone marrow failure')?.tissue, 'MYELOID');
    assert.equal(siteTissue('peritoneal mesothelioma')?.tissue, 'PERITONEUM');
    assert.equal(siteTissue('retroperitoneal leiomyosarcoma')?.tissue, 'SOFT_TISSUE');
    assert.equal(siteTissue('cervical lymph node metastasis')?.tissue, 'LYMPH');
    assert.equal(siteTissue('leiomyosarcoma'), undefined);
    assert.equal(siteTissue('vulvar melanoma', new Set(['SKIN'])), undefined);
    assert.equal(lineageTissue('nodular basal cell carcinoma')?.tissue, 'SKIN');
    assert.equal(lineageTissue('diffuse large B-cell lymphoma')?.tissue, 'LYMPH');
  });
});

describe('placeDoTerms', () => {
  const terms = new Map(
    [
      term('D:cancer', 'cancer'),
      term('D:lms', 'leiomyosarcoma', ['D:cancer']),
      term('D:ulms', 'uterine corpus leiomyosarcoma', ['D:lms']),
      term('D:vlms', 'leiomyosarcoma of the uterine body', ['D:lms'], 'body of uterus'),
      term('D:elms', 'epithelioid leiomyosarcoma', ['D:lms']),
      term('D:lung', 'lung cancer', ['D:cancer'], 'lung'),
      term('D:luad', 'adenocarcinoma of the respiratory tract', ['D:lung']),
      term('D:mucinous', 'mucinous adenocarcinoma', ['D:luad']),
      term('D:gbm', 'glioblastoma', ['D:cancer']),
      term('D:carcinoma', 'carcinoma', ['D:cancer']),
      term('D:dlbcl', 'diffuse large B-cell lymphoma', ['D:cancer']),
    ].map((t) => [t.id, t]),
  );
  // OncoTree files leiomyosarcoma under Soft Tissue and its "Malignant Tumor" (= DO cancer) under CNS/Brain.
  const joined = new Map([
    ['D:lms', { tissue: 'SOFT_TISSUE', code: 'LMS' }],
    ['D:cancer', { tissue: 'BRAIN', code: 'MT' }],
  ]);
  const placed = placeDoTerms(terms, joined, TISSUES);
  const where = (id: string) => {
    const p = placed.get(id);
    return p ? `${p.tissue} by ${p.placedBy}` : 'unplaced';
  };

  it('uses the OncoTree join first, then the location axiom, then a site in the name', () => {
    assert.equal(where('D:lms'), 'SOFT_TISSUE by oncotree LMS');
    assert.equal(where('D:vlms'), "UTERUS by location 'body of uterus'");
    assert.equal(where('D:ulms'), "UTERUS by name 'uterine'");
    assert.equal(where('D:luad'), "LUNG by name 'respiratory tract'");
  });

  it('inherits from the nearest placed ancestor', () => {
    assert.equal(where('D:mucinous'), 'LUNG by ancestor D:luad');
  });

  it('does not inherit from a class whose descendants lie mostly elsewhere', () => {
    // leiomyosarcoma's own-evidence descendants are both in Uterus: it is not pure Soft Tissue.
    assert.equal(where('D:elms'), "SOFT_TISSUE by family 'leiomyosarcoma'");
    // "cancer" is joined to a CNS/Brain type but its placed descendants are everywhere.
    assert.equal(where('D:gbm'), "BRAIN by family 'glioblastoma'");
    assert.equal(where('D:dlbcl'), "LYMPH by family 'b cell'");
    assert.equal(where('D:carcinoma'), 'unplaced');
  });
});
