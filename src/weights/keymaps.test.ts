import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromFloat32, toFloat32, type SafeTensor } from '../engine/safetensors.ts';
import {
  applyKeyMap,
  applyTransform,
  concatTensors,
  formatLoadReport,
  HF_BERT,
  HF_CLIP_VISION,
  KeyMapError,
  kepMap,
  OPENAI_CLIP_VISUAL,
  TIMM_SWIN,
  TIMM_VIT,
} from './keymaps.ts';

// A tensor of the given shape whose values are `seed + 0, 1, 2, …`.
function t(shape: number[], seed = 0): SafeTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return fromFloat32(
    Float32Array.from({ length: n }, (_, i) => seed + i),
    shape,
  );
}
const vals = (x: SafeTensor | undefined): number[] => [...toFloat32(x!)];
const sd = (entries: [string, number[]][]): Map<string, SafeTensor> =>
  new Map(entries.map(([k, s], i) => [k, t(s, 100 * i)]));
const shapes = (entries: [string, number[]][]): Map<string, number[]> => new Map(entries);

// kep's ViT names for a 1-block ViT with width D = 4, 4 patches, head to 3.
const D = 4;
const VIT: [string, number[]][] = [
  ['patch_embed.proj.weight', [D, 3, 2, 2]],
  ['cls_token', [1, 1, D]],
  ['pos_embed', [1, 5, D]],
  ['norm_pre.weight', [D]],
  ['norm_pre.bias', [D]],
  ['blocks.0.norm1.weight', [D]],
  ['blocks.0.norm1.bias', [D]],
  ['blocks.0.attn.qkv.weight', [3 * D, D]],
  ['blocks.0.attn.qkv.bias', [3 * D]],
  ['blocks.0.attn.proj.weight', [D, D]],
  ['blocks.0.attn.proj.bias', [D]],
  ['blocks.0.norm2.weight', [D]],
  ['blocks.0.norm2.bias', [D]],
  ['blocks.0.mlp.fc1.weight', [2 * D, D]],
  ['blocks.0.mlp.fc1.bias', [2 * D]],
  ['blocks.0.mlp.fc2.weight', [D, 2 * D]],
  ['blocks.0.mlp.fc2.bias', [D]],
  ['norm.weight', [D]],
  ['norm.bias', [D]],
  ['head.weight', [3, D]],
];

function clipVisual(prefix: string): [string, number[]][] {
  const r = `${prefix}transformer.resblocks.0.`;
  return [
    [`${prefix}conv1.weight`, [D, 3, 2, 2]],
    [`${prefix}class_embedding`, [D]],
    [`${prefix}positional_embedding`, [5, D]],
    [`${prefix}ln_pre.weight`, [D]],
    [`${prefix}ln_pre.bias`, [D]],
    [`${r}ln_1.weight`, [D]],
    [`${r}ln_1.bias`, [D]],
    [`${r}attn.in_proj_weight`, [3 * D, D]],
    [`${r}attn.in_proj_bias`, [3 * D]],
    [`${r}attn.out_proj.weight`, [D, D]],
    [`${r}attn.out_proj.bias`, [D]],
    [`${r}ln_2.weight`, [D]],
    [`${r}ln_2.bias`, [D]],
    [`${r}mlp.c_fc.weight`, [2 * D, D]],
    [`${r}mlp.c_fc.bias`, [2 * D]],
    [`${r}mlp.c_proj.weight`, [D, 2 * D]],
    [`${r}mlp.c_proj.bias`, [D]],
    [`${prefix}ln_post.weight`, [D]],
    [`${prefix}ln_post.bias`, [D]],
    [`${prefix}proj`, [D, 3]],
  ];
}

const BERT: [string, number[]][] = [
  ['embeddings.word_embeddings.weight', [10, D]],
  ['embeddings.position_embeddings.weight', [6, D]],
  ['embeddings.token_type_embeddings.weight', [2, D]],
  ['embeddings.LayerNorm.weight', [D]],
  ['embeddings.LayerNorm.bias', [D]],
  ...['query', 'key', 'value'].flatMap((x): [string, number[]][] => [
    [`encoder.layer.0.attention.self.${x}.weight`, [D, D]],
    [`encoder.layer.0.attention.self.${x}.bias`, [D]],
  ]),
  ['encoder.layer.0.attention.output.dense.weight', [D, D]],
  ['encoder.layer.0.attention.output.dense.bias', [D]],
  ['encoder.layer.0.attention.output.LayerNorm.weight', [D]],
  ['encoder.layer.0.attention.output.LayerNorm.bias', [D]],
  ['encoder.layer.0.intermediate.dense.weight', [2 * D, D]],
  ['encoder.layer.0.intermediate.dense.bias', [2 * D]],
  ['encoder.layer.0.output.dense.weight', [D, 2 * D]],
  ['encoder.layer.0.output.dense.bias', [D]],
  ['encoder.layer.0.output.LayerNorm.weight', [D]],
  ['encoder.layer.0.output.LayerNorm.bias', [D]],
  ['pooler.dense.weight', [D, D]],
  ['pooler.dense.bias', [D]],
];

describe('transforms', () => {
  it('transpose, unsqueeze, reshape, split and concat move the right elements', () => {
    const m = t([2, 3]);
    const tr = applyTransform(m, { op: 'transpose' });
    assert.deepEqual(tr.shape, [3, 2]);
    assert.deepEqual(vals(tr), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(applyTransform(m, { op: 'unsqueeze', axis: 0 }).shape, [1, 2, 3]);
    assert.deepEqual(applyTransform(m, { op: 'reshape', shape: [3, -1] }).shape, [3, 2]);
    assert.throws(() => applyTransform(m, { op: 'reshape', shape: [4, -1] }), /cannot reshape/);
    const s = applyTransform(m, { op: 'split', axis: 1, parts: 3, index: 1 });
    assert.deepEqual(s.shape, [2, 1]);
    assert.deepEqual(vals(s), [1, 4]);
    const c = concatTensors([t([1, 2], 0), t([2, 2], 10)], 0);
    assert.deepEqual(c.shape, [3, 2]);
    assert.deepEqual(vals(c), [0, 1, 10, 11, 12, 13]);
    assert.deepEqual(vals(concatTensors([t([2, 1], 0), t([2, 2], 10)], 1)), [0, 10, 11, 1, 12, 13]);
  });
});

describe('key maps', () => {
  it('OpenAI CLIP visual → kep ViT, with or without the visual. prefix; the text tower is ignored', () => {
    for (const prefix of ['visual.', '']) {
      const src = sd(clipVisual(prefix));
      if (prefix) {
        src.set('transformer.resblocks.0.ln_1.weight', t([D]));
        src.set('positional_embedding', t([7, D]));
        src.set('logit_scale', t([]));
      }
      const { tensors, report } = applyKeyMap(src, OPENAI_CLIP_VISUAL, shapes(VIT), { strict: true });
      assert.equal(report.loaded, VIT.length);
      assert.equal(report.ignored.length, prefix ? 3 : 0);
      assert.deepEqual(tensors.get('cls_token')!.shape, [1, 1, D]);
      assert.deepEqual(vals(tensors.get('cls_token')), vals(src.get(`${prefix}class_embedding`)!));
      assert.deepEqual(tensors.get('pos_embed')!.shape, [1, 5, D]);
      // proj [D, out] becomes head.weight [out, D]: element (o, d) = proj[d][o].
      const proj = vals(src.get(`${prefix}proj`));
      const head = vals(tensors.get('head.weight'));
      assert.equal(head[1 * D + 2], proj[2 * 3 + 1]);
      assert.deepEqual(
        vals(tensors.get('blocks.0.attn.qkv.weight')),
        vals(src.get(`${prefix}transformer.resblocks.0.attn.in_proj_weight`)),
      );
    }
  });

  it('Hugging Face CLIP vision: q, k, v concatenated into qkv', () => {
    const L = 'vision_model.encoder.layers.0.';
    const src = sd([
      ['vision_model.embeddings.patch_embedding.weight', [D, 3, 2, 2]],
      ['vision_model.embeddings.class_embedding', [D]],
      ['vision_model.embeddings.position_embedding.weight', [5, D]],
      ['vision_model.embeddings.position_ids', [1, 5]],
      ['vision_model.pre_layrnorm.weight', [D]],
      ['vision_model.pre_layrnorm.bias', [D]],
      [`${L}layer_norm1.weight`, [D]],
      [`${L}layer_norm1.bias`, [D]],
      ...['q', 'k', 'v'].flatMap((x): [string, number[]][] => [
        [`${L}self_attn.${x}_proj.weight`, [D, D]],
        [`${L}self_attn.${x}_proj.bias`, [D]],
      ]),
      [`${L}self_attn.out_proj.weight`, [D, D]],
      [`${L}self_attn.out_proj.bias`, [D]],
      [`${L}layer_norm2.weight`, [D]],
      [`${L}layer_norm2.bias`, [D]],
      [`${L}mlp.fc1.weight`, [2 * D, D]],
      [`${L}mlp.fc1.bias`, [2 * D]],
      [`${L}mlp.fc2.weight`, [D, 2 * D]],
      [`${L}mlp.fc2.bias`, [D]],
      ['vision_model.post_layernorm.weight', [D]],
      ['vision_model.post_layernorm.bias', [D]],
      ['visual_projection.weight', [3, D]],
      ['text_model.embeddings.token_embedding.weight', [10, D]],
    ]);
    const { tensors, report } = applyKeyMap(src, HF_CLIP_VISION, shapes(VIT), { strict: true });
    assert.equal(report.loaded, VIT.length);
    assert.deepEqual(report.ignored.sort(), [
      'text_model.embeddings.token_embedding.weight',
      'vision_model.embeddings.position_ids',
    ]);
    const qkv = vals(tensors.get('blocks.0.attn.qkv.bias'));
    assert.deepEqual(
      qkv,
      ['q', 'k', 'v'].flatMap((x) => vals(src.get(`${L}self_attn.${x}_proj.bias`))),
    );
  });

  it('timm ViT: identity; BiomedCLIP open_clip tower (visual.trunk + visual.head.proj)', () => {
    const plain = applyKeyMap(sd(VIT.map(([k, s]) => [`module.${k}`, s])), TIMM_VIT, shapes(VIT), {
      strict: true,
    });
    assert.equal(plain.report.loaded, VIT.length);
    const biomed = sd([
      ...VIT.filter(([k]) => k !== 'head.weight' && !k.startsWith('norm_pre')).map(
        ([k, s]): [string, number[]] => [`visual.trunk.${k}`, s],
      ),
      ['visual.head.proj.weight', [3, D]],
      ['text.transformer.embeddings.word_embeddings.weight', [10, D]],
      ['logit_scale', []],
    ]);
    const expected = shapes(VIT.filter(([k]) => !k.startsWith('norm_pre')));
    const r = applyKeyMap(biomed, TIMM_VIT, expected, { strict: true });
    assert.equal(r.report.loaded, expected.size);
    assert.deepEqual(vals(r.tensors.get('head.weight')), vals(biomed.get('visual.head.proj.weight')));
    assert.equal(r.report.ignored.length, 2);
  });

  it('Hugging Face BERT: bert. prefix, gamma/beta, cls heads and position_ids ignored', () => {
    const src = sd([
      ...BERT.map(([k, s]): [string, number[]] => [
        `bert.${k.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta')}`,
        s,
      ]),
      ['bert.embeddings.position_ids', [1, 6]],
      ['cls.predictions.bias', [10]],
    ]);
    const { tensors, report } = applyKeyMap(src, HF_BERT, shapes(BERT), { strict: true });
    assert.equal(report.loaded, BERT.length);
    assert.equal(report.ignored.length, 2);
    assert.deepEqual(
      vals(tensors.get('embeddings.LayerNorm.weight')),
      vals(src.get('bert.embeddings.LayerNorm.gamma')),
    );
    // Without the prefix the cls heads are still ignored by pattern.
    const bare = sd([...BERT, ['cls.predictions.bias', [10]]]);
    assert.equal(applyKeyMap(bare, HF_BERT, shapes(BERT), { strict: true }).report.ignored.length, 1);
  });

  it('timm Swin / CTransPath: identity with the conv stem; buffers ignored', () => {
    const names: [string, number[]][] = [
      ['patch_embed.proj.0.weight', [8, 3, 3, 3]],
      ['patch_embed.proj.1.weight', [8]],
      ['patch_embed.proj.3.weight', [D, 8, 3, 3]],
      ['layers.0.blocks.0.attn.relative_position_bias_table', [169, 2]],
      ['layers.0.blocks.0.attn.qkv.weight', [3 * D, D]],
      ['layers.0.downsample.reduction.weight', [2 * D, 4 * D]],
      ['norm.weight', [2 * D]],
    ];
    const src = sd([
      ...names.map(([k, s]): [string, number[]] => [`model.${k}`, s]),
      ['model.layers.0.blocks.0.attn.relative_position_index', [49, 49]],
      ['model.layers.0.blocks.1.attn_mask', [4, 49, 49]],
    ]);
    const { report } = applyKeyMap(src, TIMM_SWIN, shapes(names), { strict: true });
    assert.equal(report.loaded, names.length);
    assert.equal(report.ignored.length, 2);
  });

  it('KEP checkpoints: module., visual., visual_head., text.bert_model., text.mlp_embed., knowledge.*, logit_scale', () => {
    const src = sd([
      ...clipVisual('module.visual.'),
      ['module.visual_head.0.weight', [8, 3]],
      ['module.visual_head.0.bias', [8]],
      ['module.visual_head.2.weight', [8, 8]],
      ['module.visual_head.2.bias', [8]],
      ...BERT.map(([k, s]): [string, number[]] => [`module.text.bert_model.${k}`, s]),
      ['module.text.bert_model.embeddings.position_ids', [1, 6]],
      ...BERT.map(([k, s]): [string, number[]] => [`module.knowledge.bert_model.${k}`, s]),
      ['module.knowledge.mlp_embed.0.weight', [8, D]],
      ['module.text.mlp_embed.0.weight', [8, D]],
      ['module.text.mlp_embed.0.bias', [8]],
      ['module.text.mlp_embed.2.weight', [8, 8]],
      ['module.text.mlp_embed.2.bias', [8]],
      ['module.logit_scale', []],
    ]);
    const expected = shapes([
      ...VIT.map(([k, s]): [string, number[]] => [`image.${k}`, s]),
      ['image_head.0.weight', [8, 3]],
      ['image_head.0.bias', [8]],
      ['image_head.2.weight', [8, 8]],
      ['image_head.2.bias', [8]],
      ...BERT.map(([k, s]): [string, number[]] => [`text.${k}`, s]),
      ['text_head.0.weight', [8, D]],
      ['text_head.0.bias', [8]],
      ['text_head.2.weight', [8, 8]],
      ['text_head.2.bias', [8]],
      ['logit_scale', []],
    ]);
    const { tensors, report } = applyKeyMap(src, kepMap(OPENAI_CLIP_VISUAL), expected, { strict: true });
    assert.equal(report.loaded, expected.size);
    // An inference model has no knowledge tower: S2's frozen copy is reported, not refused.
    assert.equal(report.ignored.length, 1 + BERT.length + 1);
    assert.ok(report.ignored.includes('module.text.bert_model.embeddings.position_ids'));
    assert.ok(report.ignored.includes('module.knowledge.mlp_embed.0.weight (not in this model)'));
    assert.deepEqual(tensors.get('image.cls_token')!.shape, [1, 1, D]);
    assert.deepEqual(vals(tensors.get('text_head.2.bias')), vals(src.get('module.text.mlp_embed.2.bias')));

    // A model with the knowledge tower (S2 resuming from a released save) loads it by name.
    const withKnowledge = new Map([
      ...expected,
      ...BERT.map(([k, s]): [string, number[]] => [`knowledge.${k}`, s]),
      ['knowledge_head.0.weight', [8, D]],
    ]);
    const s2 = applyKeyMap(src, kepMap(OPENAI_CLIP_VISUAL), withKnowledge, { strict: true });
    assert.equal(s2.report.loaded, withKnowledge.size);
  });

  it('KEP checkpoints: the text tower is text.bert_model., not text.bert.', () => {
    const src = sd(BERT.map(([k, s]): [string, number[]] => [`text.bert.${k}`, s]));
    const expected = shapes(BERT.map(([k, s]): [string, number[]] => [`text.${k}`, s]));
    assert.throws(
      () => applyKeyMap(src, kepMap(OPENAI_CLIP_VISUAL), expected, { strict: true }),
      /unexpected [1-9]/,
    );
  });
});

describe('load report', () => {
  const src = sd([
    ['blocks.0.norm1.weight', [D]],
    ['blocks.0.norm1.bias', [D + 1]],
    ['extra.weight', [2]],
  ]);
  const expected = shapes([
    ['blocks.0.norm1.weight', [D]],
    ['blocks.0.norm1.bias', [D]],
    ['norm.weight', [D]],
  ]);

  it('non-strict loads what matches and reports missing, unexpected and mismatched keys', () => {
    const { tensors, report } = applyKeyMap(src, TIMM_VIT, expected, { source: 'ckpt.pt' });
    assert.deepEqual([...tensors.keys()], ['blocks.0.norm1.weight']);
    assert.deepEqual(report.missing, ['norm.weight']);
    assert.deepEqual(report.unexpected, ['extra.weight → extra.weight']);
    assert.deepEqual(report.mismatched, [
      { name: 'blocks.0.norm1.bias', from: 'blocks.0.norm1.bias', expected: [D], got: [D + 1] },
    ]);
    const text = formatLoadReport(report);
    assert.match(
      text,
      /^ckpt\.pt \(timm-vit\): loaded 1, missing 1, unexpected 1, shape mismatches 1, ignored 0/,
    );
    assert.match(text, /blocks\.0\.norm1\.bias \(from blocks\.0\.norm1\.bias\): expected \[4\], got \[5\]/);
  });

  it('strict mode throws with the report, naming the file and listing at most maxListed names', () => {
    const many = new Map(src);
    for (let i = 0; i < 30; i++) many.set(`junk.${i}`, t([1]));
    assert.throws(
      () => applyKeyMap(many, TIMM_VIT, expected, { strict: true, source: 'ckpt.pt', maxListed: 5 }),
      (err: unknown) => {
        assert.ok(err instanceof KeyMapError);
        assert.match(err.message, /^ckpt\.pt \(timm-vit\)/);
        assert.match(err.message, /… and 26 more/);
        assert.equal(err.report.unexpected.length, 31);
        return true;
      },
    );
  });

  it('a transform that does not fit is reported as a shape mismatch', () => {
    const bad = sd([['proj', [2, 3, 4]]]);
    const { report } = applyKeyMap(bad, OPENAI_CLIP_VISUAL, shapes([['head.weight', [3, 2]]]));
    assert.equal(report.mismatched.length, 1);
    assert.match(report.mismatched[0]!.from, /transpose needs a 2-D tensor/);
    assert.deepEqual(report.missing, []);
  });
});
