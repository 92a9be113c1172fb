import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeModelFile } from '../embed/model-folder.ts';
import { getModel } from '../models/registry.ts';
import { modelSpecSchema, withImageSize } from '../models/spec.ts';
import { knowledgeConfigSchema, knowledgeEncoderSpec } from '../train/knowledge.ts';
import { kep } from './testing.ts';

test('kep models spec NAME --json prints the registry spec in full', () => {
  const r = kep(['models', 'spec', 'kep-16', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const spec = JSON.parse(r.stdout) as unknown;
  assert.deepEqual(spec, getModel('kep-16'));
  assert.ok(modelSpecSchema.safeParse(spec).success);
});

test('kep models spec DIR prints the spec a model folder stores, not the registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-spec-'));
  const base = getModel('kep-tiny');
  if (base.kind !== 'kep') throw new Error('kep-tiny is a KEP model');
  // As `kep train vlp --image-size 48` writes it: another size, its own text tower and tokenizer.
  const spec = withImageSize(
    {
      ...base,
      config: { ...base.config, text: { ...base.config.text, vocabSize: 321 } },
      tokenizer: { maxLength: 20, vocabulary: 'vocab.txt', pooling: 'mean', lowerCase: true },
    },
    48,
  );
  writeModelFile(dir, { spec, origin: 'test' });
  const r = kep(['models', 'spec', dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const file = JSON.parse(readFileSync(join(dir, 'kep-model.json'), 'utf8')) as { spec: unknown };
  assert.deepEqual(JSON.parse(r.stdout), file.spec);
  assert.deepEqual(file.spec, spec);
});

test('kep models spec DIR of a knowledge encoder folder written before specs derives it from its settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-spec-s1-'));
  const config = knowledgeConfigSchema.parse({
    layers: 1,
    hidden: 16,
    heads: 2,
    intermediate: 32,
    embedDim: 8,
  });
  writeFileSync(
    join(dir, 'vocab.txt'),
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b'].join('\n') + '\n',
  );
  writeFileSync(
    join(dir, 'encoder.json'),
    JSON.stringify({ format: 'kep-knowledge-encoder/1', config, vocab: 'vocab.txt' }),
  );
  const r = kep(['models', 'spec', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), knowledgeEncoderSpec(config, 7));
});
