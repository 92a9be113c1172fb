// The KEP authors' released checkpoints load strictly (scripts/fixtures/kep_checkpoints.py):
// - full size: the key sets and shapes of KEP-16, KEP-32 and KEP-CTP, in the three containers their
//   code writes (training save with DDP prefix and knowledge tower, a transformers < 4.31 save with
//   position_ids, the inference folder's bare state dict), map onto kep's models with nothing missing,
//   unexpected or misshapen;
// - small models of the same layouts, saved by torch in those containers, give PyTorch's embeddings
//   through the loading paths of `kep export onnx` and `kep embed` (≤ 1e-4).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Graph } from '../engine/graph.ts';
import { compile, ort } from '../engine/runtime.ts';
import { type SafeTensor, readSafetensors, toFloat32 } from '../engine/safetensors.ts';
import { loadEntryModel } from '../embed/model.ts';
import { type KepConfig, encodeImage, encodeText, logitScale } from '../models/kep.ts';
import { type ModelEntry, getModel } from '../models/registry.ts';
import { swinConfigs } from '../models/swin.ts';
import { applyKeyMap } from '../weights/keymaps.ts';
import { keyMapNamed, parameterValues } from '../weights/model-weights.ts';
import { loadTowerWeights } from './models.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/kep-checkpoints/', import.meta.url));
const VARIANTS = ['kep-16', 'kep-32', 'kep-ctp'] as const;
const CONTAINERS = ['epoch_30.pt', 'epoch_30_position_ids.pt', 'pytorch_model.bin'] as const;

/** kep's parameter names and shapes for a KEP config: inference towers, or S2's model with the
 * frozen knowledge tower. */
function expectedParams(cfg: KepConfig, size: number, knowledge: boolean): Map<string, number[]> {
  const g = new Graph('expected');
  encodeImage(g, g.input('pixels', 'float32', ['batch', 3, size, size]), cfg);
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'int64', ['batch', 'seq']);
  encodeText(g, ids, mask, cfg, 'text');
  if (knowledge) encodeText(g, ids, mask, cfg, 'knowledge');
  logitScale(g, cfg);
  return new Map([...g.params.values()].map((p) => [p.name, [...p.shape]]));
}

describe('full-size released key sets', () => {
  const keys = JSON.parse(readFileSync(join(FIXTURES, 'keys.json'), 'utf8')) as Record<
    string,
    Record<string, number[]>
  >;
  // Shape-only tensors: views of one zero buffer (the maps only transpose CLIP's small `proj`).
  const zeros = new Uint8Array(30522 * 768 * 4);
  const tensor = (shape: number[]): SafeTensor => ({
    dtype: 'F32',
    shape,
    data: zeros.subarray(0, shape.reduce((a, b) => a * b, 1) * 4),
  });
  const containers: Record<(typeof CONTAINERS)[number], (k: string) => string | undefined> = {
    'epoch_30.pt': (k) => `module.${k}`,
    'epoch_30_position_ids.pt': (k) => k,
    'pytorch_model.bin': (k) => (k.startsWith('knowledge.') ? undefined : k),
  };
  for (const variant of VARIANTS) {
    for (const container of CONTAINERS) {
      test(`${variant} ${container} loads strictly`, () => {
        const entry = getModel(variant);
        assert.equal(entry.kind, 'kep');
        if (entry.kind !== 'kep') return;
        const sd = new Map<string, SafeTensor>();
        for (const [k, shape] of Object.entries(keys[variant]!)) {
          const name = containers[container](k);
          if (name) sd.set(name, tensor(shape));
          if (container === 'epoch_30_position_ids.pt' && k.endsWith('embeddings.position_embeddings.weight'))
            sd.set(k.replace('position_embeddings.weight', 'position_ids'), tensor([1, shape[0]!]));
        }
        const map = keyMapNamed(entry.keyMap);
        const size = entry.preprocess.size;
        const inference = applyKeyMap(sd, map, expectedParams(entry.config, size, false), { strict: true });
        assert.equal(inference.report.unexpected.length, 0);
        if (container !== 'pytorch_model.bin') {
          // S2 resuming from a training save: the knowledge tower loads into kep's by name.
          const s2 = expectedParams(entry.config, size, true);
          const { report } = applyKeyMap(sd, map, s2, { strict: true });
          assert.equal(report.loaded, s2.size);
        }
      });
    }
  }
});

// The small layouts of the fixture script, as kep configs.
const BERT = {
  vocabSize: 300,
  hidden: 32,
  layers: 2,
  heads: 2,
  intermediate: 64,
  maxPositions: 16,
  typeVocabSize: 2,
  eps: 1e-12,
};
const VIT = { imageSize: 32, patchSize: 16, channels: 3, dim: 32, depth: 2, heads: 2, mlpDim: 128 };
const SMALL: Record<(typeof VARIANTS)[number], KepConfig['image']> = {
  'kep-32': {
    kind: 'vit',
    config: { ...VIT, eps: 1e-5, numClasses: 24, headBias: false, patchBias: false, preNorm: true },
  },
  'kep-16': { kind: 'vit', config: { ...VIT, eps: 1e-6, numClasses: 24, headBias: false } },
  'kep-ctp': { kind: 'swin', config: swinConfigs['swin-tiny-test'] },
};

function smallEntry(variant: (typeof VARIANTS)[number]): ModelEntry {
  const real = getModel(variant);
  if (real.kind !== 'kep') throw new Error(`${variant} is a KEP model`);
  return {
    ...real,
    name: `${variant}-small`,
    config: { image: SMALL[variant], text: BERT, embedDim: 16, initialScale: 25 },
    preprocess: { ...real.preprocess, size: 32 },
    tokenizer: { ...real.tokenizer, maxLength: 16 },
  };
}

function reference(variant: string): Map<string, Float32Array> {
  const file = readSafetensors(join(FIXTURES, variant, 'reference.safetensors'));
  return new Map(
    [...file.tensors].filter(([k]) => k.startsWith('result.')).map(([k, t]) => [k, toFloat32(t)]),
  );
}

function pixels(): Float32Array {
  return Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.01));
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: size`);
  let max = 0;
  for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
  assert.ok(max <= 1e-4, `${what}: max abs difference ${max.toExponential(2)} > 1e-4`);
}

/** A vocabulary in which "w<i>" is token i, so texts reproduce the fixture's token ids. */
function vocabFile(dir: string): string {
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  for (let i = tokens.length; i < BERT.vocabSize; i++) tokens.push(`w${i}`);
  const path = join(dir, 'vocab.txt');
  writeFileSync(path, `${tokens.join('\n')}\n`);
  return path;
}
const TEXTS = ['w101 w7 w250 w88 w299', 'w5 w6 w7 w8 w9 w10'];

describe('released layouts reproduce PyTorch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-checkpoints-'));
  const vocab = vocabFile(dir);
  for (const variant of VARIANTS) {
    for (const container of CONTAINERS) {
      test(`${variant} ${container}: export towers and embed match PyTorch`, async () => {
        const entry = smallEntry(variant);
        const weights = join(FIXTURES, variant, container);
        const want = reference(variant);
        const log: string[] = [];
        const { graphs, values } = await loadTowerWeights(entry, {
          weights,
          strict: true,
          log: (l) => log.push(l),
        });
        assert.match(log.join('\n'), /missing 0, unexpected 0, shape mismatches 0/);
        const image = graphs.find((t) => t.tower === 'image')!.graph;
        const session = await compile(image, { paramData: values, outputs: ['embedding'] });
        const out = await session.run({ pixels: new ort.Tensor('float32', pixels(), [2, 3, 32, 32]) });
        await session.release();
        assertClose(out.embedding!.data as Float32Array, want.get('result.image')!, 'export: image');

        const model = await loadEntryModel(entry, { name: entry.name, weights, vocab });
        try {
          assertClose(await model.embedImages(pixels(), 2), want.get('result.image')!, 'embed: image');
          assertClose(await model.embedTexts(TEXTS), want.get('result.text')!, 'embed: text');
        } finally {
          await model.release();
        }
      });
    }
  }

  test('a training save resumes the frozen knowledge tower with its own weights', async () => {
    const entry = smallEntry('kep-16');
    if (entry.kind !== 'kep') return;
    const g = new Graph('s2');
    const ids = g.input('ids', 'int64', ['batch', 'seq']);
    const mask = g.input('mask', 'int64', ['batch', 'seq']);
    g.output('embedding', encodeText(g, ids, mask, entry.config, 'knowledge'));
    // Only the knowledge tower is asked for here, so the other towers' tensors are left out (non-strict).
    const { values, report } = await parameterValues(g, {
      weights: join(FIXTURES, 'kep-16', 'epoch_30.pt'),
      keyMap: 'kep-vit',
      strict: false,
    });
    assert.equal(report!.missing.length, 0);
    const session = await compile(g, { paramData: values, outputs: ['embedding'] });
    const idsT = [2, 101, 7, 250, 88, 299, 3, 0, 2, 5, 6, 7, 8, 9, 10, 3].map(BigInt);
    const maskT = [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1].map(BigInt);
    const out = await session.run({
      ids: new ort.Tensor('int64', BigInt64Array.from(idsT), [2, 8]),
      mask: new ort.Tensor('int64', BigInt64Array.from(maskT), [2, 8]),
    });
    await session.release();
    assertClose(
      out.embedding!.data as Float32Array,
      reference('kep-16').get('result.knowledge')!,
      'knowledge',
    );
  });
});
