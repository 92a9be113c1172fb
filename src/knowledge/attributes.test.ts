import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttributeSet } from './attributes.ts';
import { cleanText, nameKey, textKey } from './normalise.ts';

const p = (source: string, ref = 'r') => ({ source, ref, licence: 'CC0-1.0' });

describe('text keys', () => {
  it('ignore case, punctuation and spacing; names also ignore NOS', () => {
    assert.equal(textKey('Hemangioendothelioma, malignant'), textKey('hemangioendothelioma  MALIGNANT.'));
    assert.notEqual(textKey('B-cell lymphoma'), textKey('T-cell lymphoma'));
    assert.equal(nameKey('Breast Invasive Carcinoma, NOS'), nameKey('breast invasive carcinoma'));
    assert.equal(
      cleanText('A cancer that is located_in the lung, 5_mm  deep'),
      'A cancer that is located in the lung, 5 mm deep',
    );
  });
});

describe('AttributeSet', () => {
  it('merges equal texts case- and punctuation-insensitively and keeps every provenance', () => {
    const s = new AttributeSet();
    assert.equal(s.add('synonym', 'Hemangiosarcoma', p('do-ncit-subset')), true);
    assert.equal(s.add('synonym', 'hemangiosarcoma.', p('do-2016')), false);
    assert.equal(s.add('synonym', 'HEMANGIOSARCOMA', p('do-2016')), false);
    const [a] = s.list();
    assert.equal(a?.text, 'Hemangiosarcoma');
    assert.deepEqual(
      a?.provenance.map((x) => x.source),
      ['do-ncit-subset', 'do-2016'],
    );
  });

  it('drops a synonym equal to the name, keeping its provenance, and lets a name outrank a synonym', () => {
    const s = new AttributeSet();
    s.add('synonym', 'lung adenocarcinoma', p('do-2016'));
    s.add('name', 'Lung Adenocarcinoma', p('oncotree'));
    s.add('definition', 'lung adenocarcinoma', p('x'));
    assert.deepEqual(
      s.list().map((a) => [a.kind, a.text, a.provenance.length]),
      [
        ['name', 'Lung Adenocarcinoma', 2],
        ['definition', 'lung adenocarcinoma', 1],
      ],
    );
  });

  it('orders attributes by kind, then text, and provenance by source order', () => {
    const s = new AttributeSet();
    s.add('cytology', 'b', p('do-2016'));
    s.add('synonym', 'z', p('do-2016'));
    s.add('synonym', 'a', p('do-2016', 'x2'));
    s.add('synonym', 'a', p('oncotree', 'x1'));
    s.add('name', 'n', p('oncotree'));
    assert.deepEqual(
      s.list().map((a) => `${a.kind}:${a.text}:${a.provenance.map((x) => x.source).join('+')}`),
      ['name:n:oncotree', 'synonym:a:oncotree+do-2016', 'synonym:z:do-2016', 'cytology:b:do-2016'],
    );
  });
});
