// The tokenizer against Hugging Face's own Rust tokenizer: every expectation in
// fixtures/wordpiece-cases.json was written by scripts/fixtures/tokenizer_fixtures.ts from
// `tokenizers` (the Rust core behind BertTokenizerFast), on sentences from ../shared/data's captions,
// prompts and Disease Ontology definitions plus hand-written edge cases.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BertTokenizer, TokenizerFileError } from './wordpiece.ts';

const FIX = path.join(import.meta.dirname, 'fixtures');
const VOCAB = path.join(FIX, 'vocab.txt');
const JSON_FILE = path.join(FIX, 'tokenizer.json');

interface Case {
  source: 'shared' | 'own';
  text: string;
  tokens?: string;
  ids: string;
  ids16: string;
  mask16: string;
  decoded?: string;
  casedIds?: string;
  keepAccentsIds?: string;
}
interface Fixture {
  oracle: string;
  vocabSize: number;
  cases: Case[];
  batch: {
    texts: string[];
    longest32: { ids: string[]; mask: string[] };
    fixed24: { ids: string[]; mask: string[] };
  };
}
const fixture = JSON.parse(readFileSync(path.join(FIX, 'wordpiece-cases.json'), 'utf8')) as Fixture;
const nums = (s: string) => (s === '' ? [] : s.split(' ').map(Number));
const digits = (s: string) => [...s].map(Number);
const label = (c: Case) => JSON.stringify(c.text.length > 70 ? c.text.slice(0, 70) + '…' : c.text);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'kep-text-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('BertTokenizer matches Hugging Face tokenizers', () => {
  const fromVocab = BertTokenizer.fromVocabFile(VOCAB);
  const fromJson = BertTokenizer.fromTokenizerJson(JSON_FILE);

  it('has enough reference sentences from the shared data', () => {
    assert.ok(fixture.cases.filter((c) => c.source === 'shared').length >= 200);
    assert.equal(fromVocab.vocabSize, fixture.vocabSize);
    assert.equal(fromJson.vocabSize, fixture.vocabSize);
  });

  for (const [name, tok] of [
    ['vocab.txt', fromVocab],
    ['tokenizer.json', fromJson],
  ] as const) {
    it(`gives the reference ids for every sentence (${name})`, () => {
      let checked = 0;
      for (const c of fixture.cases) {
        assert.deepEqual(tok.encode(c.text, { truncation: false }).ids, nums(c.ids), label(c));
        const t = tok.encode(c.text, { maxLength: 16, padding: 'max_length' });
        assert.deepEqual(t.ids, nums(c.ids16), `${label(c)} truncated/padded to 16`);
        assert.deepEqual(t.mask, digits(c.mask16), `${label(c)} mask`);
        checked++;
      }
      assert.equal(checked, fixture.cases.length);
    });
  }

  it('gives the reference tokens and decodes', () => {
    for (const c of fixture.cases) {
      if (c.tokens !== undefined)
        assert.deepEqual(['[CLS]', ...fromVocab.tokenize(c.text), '[SEP]'], c.tokens.split(' '), label(c));
      if (c.decoded !== undefined) {
        assert.equal(fromVocab.decode(nums(c.ids)), c.decoded, label(c));
        assert.equal(fromJson.decode(nums(c.ids)), c.decoded, label(c));
      }
    }
  });

  it('follows the cased and keep-accents settings', () => {
    const cased = BertTokenizer.fromVocabFile(VOCAB, { doLowerCase: false });
    const keep = BertTokenizer.fromVocabFile(VOCAB, { stripAccents: false });
    const casedJson = BertTokenizer.fromTokenizerJson(JSON_FILE, { doLowerCase: false, stripAccents: false });
    for (const c of fixture.cases.filter((c) => c.casedIds !== undefined)) {
      assert.deepEqual(cased.encode(c.text, { truncation: false }).ids, nums(c.casedIds!), label(c));
      assert.deepEqual(casedJson.encode(c.text, { truncation: false }).ids, nums(c.casedIds!), label(c));
      assert.deepEqual(keep.encode(c.text, { truncation: false }).ids, nums(c.keepAccentsIds!), label(c));
    }
  });

  it('batches into int64 [batch, seq] tensors like the reference', () => {
    const { texts, longest32, fixed24 } = fixture.batch;
    for (const [ref, opts] of [
      [longest32, { maxLength: 32, padding: 'longest' }],
      [fixed24, { maxLength: 24, padding: 'max_length' }],
    ] as const) {
      const b = fromJson.encodeBatch(texts, opts);
      const width = nums(ref.ids[0]!).length;
      assert.deepEqual(b.shape, [texts.length, width]);
      assert.deepEqual([...b.ids].map(Number), ref.ids.flatMap(nums));
      assert.deepEqual([...b.mask].map(Number), ref.mask.flatMap(digits));
    }
  });
});

describe('BertTokenizer behaviour', () => {
  const tok = BertTokenizer.fromVocabFile(VOCAB);

  it('pads single texts only on request and refuses impossible lengths', () => {
    const e = tok.encode('tumor', { maxLength: 8 });
    assert.equal(e.ids.length, e.mask.length);
    assert.ok(e.ids.length < 8);
    assert.deepEqual(tok.encode('tumor', { maxLength: 8, padding: 'longest' }), e);
    assert.throws(() => tok.encode('tumor', { maxLength: 1 }), /no room for the special tokens/);
    assert.deepEqual(tok.encode('tumor', { addSpecialTokens: false, truncation: false }).ids, [
      tok.vocab.get('tumor'),
    ]);
  });

  it('truncates to modelMaxLength by default', () => {
    const long = 'carcinoma '.repeat(600);
    assert.equal(tok.encode(long).ids.length, 512);
    assert.equal(tok.encode(long, { truncation: false }).ids.length, 602);
  });

  it('refuses a ragged batch without padding and unknown ids when decoding', () => {
    assert.throws(() => tok.encodeBatch(['a', 'a b c'], { padding: false }), /row lengths differ/);
    const same = tok.encodeBatch(['a b', 'b a'], { padding: false });
    assert.deepEqual(same.shape, [2, 4]);
    assert.throws(() => tok.decode([tok.vocabSize + 5]), /not in the vocabulary/);
    assert.equal(
      tok.decode(tok.encode('tumor cells').ids, { skipSpecialTokens: false }),
      '[CLS] tumor cells [SEP]',
    );
  });
});

describe('loading', () => {
  it('reads a Hugging Face folder with tokenizer_config.json', () => {
    const dir = mkdtempSync(path.join(tmp, 'bert-folder-'));
    writeFileSync(path.join(dir, 'vocab.txt'), readFileSync(VOCAB));
    writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify({ do_lower_case: true, model_max_length: 1e30 }),
    );
    const base = BertTokenizer.fromFolder(dir);
    assert.equal(base.modelMaxLength, 512);
    const c = fixture.cases.find((c) => c.casedIds !== undefined)!;
    assert.deepEqual(base.encode(c.text, { truncation: false }).ids, nums(c.ids));

    writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        do_lower_case: false,
        strip_accents: false,
        model_max_length: 64,
        unk_token: { content: '[UNK]' },
      }),
    );
    const cased = BertTokenizer.fromFolder(dir);
    assert.equal(cased.modelMaxLength, 64);
    assert.deepEqual(cased.encode(c.text, { truncation: false }).ids, nums(c.casedIds!));

    // tokenizer.json wins over vocab.txt; the config's casing still applies, as in transformers.
    writeFileSync(path.join(dir, 'tokenizer.json'), readFileSync(JSON_FILE));
    writeFileSync(path.join(dir, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n');
    const viaJson = BertTokenizer.fromFolder(dir);
    assert.equal(viaJson.vocabSize, fixture.vocabSize);
    assert.deepEqual(viaJson.encode(c.text, { truncation: false }).ids, nums(c.casedIds!));
  });

  it('names the file in every error', () => {
    const missing = path.join(tmp, 'nope', 'vocab.txt');
    assert.throws(
      () => BertTokenizer.fromVocabFile(missing),
      (e: unknown) => {
        assert.ok(e instanceof TokenizerFileError);
        assert.equal(e.file, missing);
        assert.match(e.message, /vocab\.txt: file not found/);
        return true;
      },
    );

    const noCls = path.join(tmp, 'no-cls.txt');
    writeFileSync(noCls, '[PAD]\n[UNK]\n[SEP]\nword\n');
    assert.throws(
      () => BertTokenizer.fromVocabFile(noCls),
      /no-cls\.txt: the vocabulary has no class token "\[CLS\]"/,
    );
    const noPad = path.join(tmp, 'no-pad.txt');
    writeFileSync(noPad, '[UNK]\n[CLS]\n[SEP]\nword\n');
    assert.throws(() => BertTokenizer.fromVocabFile(noPad), /no-pad\.txt: .*padding token "\[PAD\]"/);
    const empty = path.join(tmp, 'empty.txt');
    writeFileSync(empty, '');
    assert.throws(() => BertTokenizer.fromVocabFile(empty), /empty\.txt: empty vocabulary/);

    const good = JSON.parse(readFileSync(JSON_FILE, 'utf8')) as Record<string, Record<string, unknown>>;
    const bad = (name: string, doc: unknown, pattern: RegExp) => {
      const f = path.join(tmp, name);
      writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
      assert.throws(
        () => BertTokenizer.fromTokenizerJson(f),
        (e: unknown) => {
          assert.ok(e instanceof TokenizerFileError, String(e));
          assert.equal(e.file, f);
          assert.match(e.message, pattern);
          return true;
        },
      );
    };
    bad('truncated.json', '{"model": {', /truncated\.json: not valid JSON/);
    bad('bpe.json', { ...good, model: { ...good.model, type: 'BPE' } }, /bpe\.json: model\.type: /);
    bad(
      'novocab.json',
      { ...good, model: { ...good.model, vocab: undefined } },
      /novocab\.json: model\.vocab: /,
    );
    bad(
      'badid.json',
      { ...good, model: { ...good.model, vocab: { '[UNK]': -1 } } },
      /badid\.json: model\.vocab\.\[UNK\]/,
    );
    bad(
      'metaspace.json',
      { ...good, pre_tokenizer: { type: 'Metaspace' } },
      /metaspace\.json: pre_tokenizer\.type/,
    );
    bad(
      'nounk.json',
      { ...good, model: { ...good.model, unk_token: '<unk>' } },
      /nounk\.json: .*unknown token "<unk>"/,
    );

    const emptyDir = mkdtempSync(path.join(tmp, 'empty-'));
    assert.throws(() => BertTokenizer.fromFolder(emptyDir), /no tokenizer\.json or vocab\.txt/);
    const badConfigDir = mkdtempSync(path.join(tmp, 'badcfg-'));
    writeFileSync(path.join(badConfigDir, 'tokenizer_config.json'), '{"do_lower_case": "yes"}');
    assert.throws(() => BertTokenizer.fromFolder(badConfigDir), /tokenizer_config\.json: do_lower_case: /);
  });
});
