// Tables from a source checkpoint's parameter names to kep's, with per-key transforms, and the report
// of what did not line up.
//
// A map is data: prefixes to strip, rules `from → to` over dotted names with placeholders ({i} matches
// one name segment, {rest*} one or more), optional transforms per rule, many-to-one concatenations, and
// names to ignore. The first matching rule wins. Adjusting a map for a checkpoint with a slightly
// different layout means editing a table, not code.
import { DTYPE_BYTES, numel, type SafeTensor } from '../engine/safetensors.ts';
import type { StateDict } from './torch.ts';

export type Transform =
  /** [a, b] → [b, a] (e.g. CLIP's `proj`, stored [in, out], to a Linear weight [out, in]). */
  | { op: 'transpose' }
  /** Insert a dimension of 1 (e.g. CLIP's class embedding [D] → cls_token [1, 1, D]). */
  | { op: 'unsqueeze'; axis: number }
  /** A new shape of the same size; one entry may be -1. */
  | { op: 'reshape'; shape: number[] }
  /** Part `index` of `parts` equal chunks along `axis` (one source tensor feeding several targets). */
  | { op: 'split'; axis: number; parts: number; index: number };

export interface KeyRule {
  from: string;
  to: string;
  transforms?: Transform[];
}

/** Several source tensors concatenated into one (e.g. separate q, k, v projections → fused qkv). */
export interface ConcatRule {
  from: string[];
  to: string;
  axis: number;
}

export interface KeyMap {
  name: string;
  /** Removed wherever a name starts with them, repeatedly (DataParallel's `module.`, Lightning's `model.`). */
  strip?: string[];
  /**
   * Alternative prefixes of the part of the checkpoint this map reads, most specific first; the first
   * that some name starts with is used and removed, and names without it are reported as ignored
   * (a whole CLIP checkpoint read for its visual tower ignores the text tower). "" means none.
   */
  prefixes?: string[];
  rules: KeyRule[];
  concat?: ConcatRule[];
  /** Patterns of source names (after prefix handling) dropped and reported as ignored. */
  ignore?: string[];
  /**
   * Patterns of kep names that only some models have (KEP's frozen knowledge tower exists in S2's
   * training model, not in inference models): when the model does not expect such a name, the tensor
   * is reported as ignored rather than unexpected, so one map loads training and inference saves.
   */
  optional?: string[];
}

// ---------------------------------------------------------------------------------------------------
// Tables

const IDENTITY: KeyRule = { from: '{name*}', to: '{name*}' };

/** timm ViT names, also BiomedCLIP's open_clip tower (`visual.trunk.*` + `visual.head.proj`). */
export const TIMM_VIT: KeyMap = {
  name: 'timm-vit',
  strip: ['module.', 'model.'],
  prefixes: ['visual.', ''],
  rules: [{ from: 'trunk.{name*}', to: '{name*}' }, { from: 'head.proj.{p}', to: 'head.{p}' }, IDENTITY],
  ignore: ['trunk.head.{x*}', 'trunk.fc_norm.{x*}'],
};

/** OpenAI CLIP's visual tower (as in OpenAI's and open_clip's state dicts) → kep ViT (timm names). */
export const OPENAI_CLIP_VISUAL: KeyMap = {
  name: 'openai-clip-visual',
  strip: ['module.'],
  prefixes: ['visual.', ''],
  rules: [
    { from: 'conv1.weight', to: 'patch_embed.proj.weight' },
    {
      from: 'class_embedding',
      to: 'cls_token',
      transforms: [
        { op: 'unsqueeze', axis: 0 },
        { op: 'unsqueeze', axis: 0 },
      ],
    },
    { from: 'positional_embedding', to: 'pos_embed', transforms: [{ op: 'unsqueeze', axis: 0 }] },
    { from: 'ln_pre.{p}', to: 'norm_pre.{p}' },
    { from: 'transformer.resblocks.{i}.ln_1.{p}', to: 'blocks.{i}.norm1.{p}' },
    { from: 'transformer.resblocks.{i}.attn.in_proj_weight', to: 'blocks.{i}.attn.qkv.weight' },
    { from: 'transformer.resblocks.{i}.attn.in_proj_bias', to: 'blocks.{i}.attn.qkv.bias' },
    { from: 'transformer.resblocks.{i}.attn.out_proj.{p}', to: 'blocks.{i}.attn.proj.{p}' },
    { from: 'transformer.resblocks.{i}.ln_2.{p}', to: 'blocks.{i}.norm2.{p}' },
    { from: 'transformer.resblocks.{i}.mlp.c_fc.{p}', to: 'blocks.{i}.mlp.fc1.{p}' },
    { from: 'transformer.resblocks.{i}.mlp.c_proj.{p}', to: 'blocks.{i}.mlp.fc2.{p}' },
    { from: 'ln_post.{p}', to: 'norm.{p}' },
    { from: 'proj', to: 'head.weight', transforms: [{ op: 'transpose' }] },
  ],
};

/** Hugging Face transformers' CLIPVisionModel / CLIPModel names → kep ViT (q, k, v fused into qkv). */
export const HF_CLIP_VISION: KeyMap = {
  name: 'hf-clip-vision',
  strip: ['module.'],
  prefixes: [''],
  rules: [
    { from: 'vision_model.embeddings.patch_embedding.weight', to: 'patch_embed.proj.weight' },
    {
      from: 'vision_model.embeddings.class_embedding',
      to: 'cls_token',
      transforms: [
        { op: 'unsqueeze', axis: 0 },
        { op: 'unsqueeze', axis: 0 },
      ],
    },
    {
      from: 'vision_model.embeddings.position_embedding.weight',
      to: 'pos_embed',
      transforms: [{ op: 'unsqueeze', axis: 0 }],
    },
    { from: 'vision_model.pre_layrnorm.{p}', to: 'norm_pre.{p}' },
    { from: 'vision_model.encoder.layers.{i}.layer_norm1.{p}', to: 'blocks.{i}.norm1.{p}' },
    { from: 'vision_model.encoder.layers.{i}.self_attn.out_proj.{p}', to: 'blocks.{i}.attn.proj.{p}' },
    { from: 'vision_model.encoder.layers.{i}.layer_norm2.{p}', to: 'blocks.{i}.norm2.{p}' },
    { from: 'vision_model.encoder.layers.{i}.mlp.{fc}.{p}', to: 'blocks.{i}.mlp.{fc}.{p}' },
    { from: 'vision_model.post_layernorm.{p}', to: 'norm.{p}' },
    { from: 'visual_projection.weight', to: 'head.weight' },
  ],
  concat: ['weight', 'bias'].map((p) => ({
    from: ['q', 'k', 'v'].map((x) => `vision_model.encoder.layers.{i}.self_attn.${x}_proj.${p}`),
    to: `blocks.{i}.attn.qkv.${p}`,
    axis: 0,
  })),
  ignore: [
    'vision_model.embeddings.position_ids',
    'text_model.{x*}',
    'text_projection.weight',
    'logit_scale',
  ],
};

const BERT_RULES: KeyRule[] = [
  // Checkpoints converted from TensorFlow BERT name LayerNorm parameters gamma/beta.
  { from: '{m*}.LayerNorm.gamma', to: '{m*}.LayerNorm.weight' },
  { from: '{m*}.LayerNorm.beta', to: '{m*}.LayerNorm.bias' },
  IDENTITY,
];
const BERT_IGNORE = ['embeddings.position_ids', 'cls.{x*}'];

/** Hugging Face BERT (BertModel / BertForPreTraining / BiomedBERT) → kep BERT (HF names without `bert.`). */
export const HF_BERT: KeyMap = {
  name: 'hf-bert',
  strip: ['module.'],
  prefixes: ['bert.', ''],
  rules: BERT_RULES,
  ignore: BERT_IGNORE,
};

/** timm Swin and CTransPath (its conv stem is `patch_embed.proj.{0,1,3,4…}`): timm names as they are. */
export const TIMM_SWIN: KeyMap = {
  name: 'timm-swin',
  strip: ['module.', 'model.'],
  prefixes: [''],
  rules: [IDENTITY],
  // Buffers recomputed from the config rather than loaded; BatchNorm's step counter (CTransPath's
  // conv stem) plays no part in inference.
  ignore: ['{x*}.relative_position_index', '{x*}.attn_mask', '{x*}.num_batches_tracked'],
};

/** Rules of `map` moved under `from` in the source and `to` in kep's names. */
function nest(
  map: KeyMap,
  from: string,
  to: string,
): { rules: KeyRule[]; ignore: string[]; concat: ConcatRule[] } {
  return {
    rules: map.rules.map((r) => ({ ...r, from: from + r.from, to: to + r.to })),
    ignore: (map.ignore ?? []).map((p) => from + p),
    concat: (map.concat ?? []).map((c) => ({ ...c, from: c.from.map((f) => from + f), to: to + c.to })),
  };
}

/** kep's names for the parts of a KEP model. */
export const KEP_PREFIXES = {
  image: 'image.',
  imageHead: 'image_head.',
  text: 'text.',
  textHead: 'text_head.',
  /** S2's frozen copy of the S1 text tower (src/models/kep.ts encodeText(…, 'knowledge')). */
  knowledge: 'knowledge.',
  knowledgeHead: 'knowledge_head.',
};

/**
 * The KEP authors' checkpoints (MAGIC-AI4Med/KEP; their code loads strictly, so its classes fix the
 * names): `visual.` image backbone (open_clip's CLIP ViT for KEP-32, BiomedCLIP's `trunk.`/`head.proj`
 * for KEP-16, CTransPath for KEP-CTP), `visual_head.{0,2}` image head (Linear→GELU→Linear),
 * `text.bert_model.` the Hugging Face BertModel of PATH_BERT, `text.mlp_embed.{0,2}` its head,
 * `logit_scale`; training saves also hold S2's frozen knowledge tower as `knowledge.bert_model.` /
 * `knowledge.mlp_embed.` (loaded into a model that has one, ignored by inference models), and files
 * written with transformers < 4.31 carry `…embeddings.position_ids` buffers. All possibly under DDP's
 * `module.`. No released file names the text tower `text.bert.` (an earlier guess of ours), so that
 * spelling is not accepted. The backbone table is a parameter so another layout is one argument away.
 */
export function kepMap(backbone: KeyMap = OPENAI_CLIP_VISUAL): KeyMap {
  const image = nest(backbone, 'visual.', KEP_PREFIXES.image);
  const text = nest(HF_BERT, 'text.bert_model.', KEP_PREFIXES.text);
  const knowledge = nest(HF_BERT, 'knowledge.bert_model.', KEP_PREFIXES.knowledge);
  return {
    name: `kep(${backbone.name})`,
    strip: ['module.'],
    prefixes: [''],
    rules: [
      { from: 'visual_head.{name*}', to: `${KEP_PREFIXES.imageHead}{name*}` },
      { from: 'text.mlp_embed.{name*}', to: `${KEP_PREFIXES.textHead}{name*}` },
      { from: 'knowledge.mlp_embed.{name*}', to: `${KEP_PREFIXES.knowledgeHead}{name*}` },
      { from: 'logit_scale', to: 'logit_scale' },
      ...text.rules,
      ...knowledge.rules,
      ...image.rules,
    ],
    concat: [...image.concat, ...text.concat, ...knowledge.concat],
    ignore: [...image.ignore, ...text.ignore, ...knowledge.ignore, '{x*}.position_ids'],
    optional: [`${KEP_PREFIXES.knowledge}{x*}`, `${KEP_PREFIXES.knowledgeHead}{x*}`],
  };
}

export const KEY_MAPS: Readonly<Record<string, KeyMap>> = {
  'timm-vit': TIMM_VIT,
  'openai-clip-visual': OPENAI_CLIP_VISUAL,
  'hf-clip-vision': HF_CLIP_VISION,
  'hf-bert': HF_BERT,
  'timm-swin': TIMM_SWIN,
  'kep-clip': kepMap(OPENAI_CLIP_VISUAL),
  'kep-vit': kepMap(TIMM_VIT),
  'kep-ctranspath': kepMap(TIMM_SWIN),
};

// ---------------------------------------------------------------------------------------------------
// Patterns

interface Pattern {
  re: RegExp;
  names: string[];
}

const patternCache = new Map<string, Pattern>();

function compile(template: string): Pattern {
  let p = patternCache.get(template);
  if (!p) {
    const names: string[] = [];
    let src = '';
    let last = 0;
    for (const m of template.matchAll(/\{(\w+)(\*?)\}/g)) {
      src += template.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      src += m[2] ? '(.+)' : '([^.]+)';
      names.push(m[1]! + m[2]!);
      last = m.index + m[0].length;
    }
    src += template.slice(last).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    p = { re: new RegExp(`^${src}$`), names };
    patternCache.set(template, p);
  }
  return p;
}

function match(template: string, name: string): Map<string, string> | undefined {
  const { re, names } = compile(template);
  const m = re.exec(name);
  if (!m) return undefined;
  const binding = new Map<string, string>();
  for (let i = 0; i < names.length; i++) {
    const prev = binding.get(names[i]!);
    if (prev !== undefined && prev !== m[i + 1]) return undefined;
    binding.set(names[i]!, m[i + 1]!);
  }
  return binding;
}

function fill(template: string, binding: Map<string, string>): string {
  return template.replace(/\{(\w+\*?)\}/g, (whole, key: string) => binding.get(key) ?? whole);
}

// ---------------------------------------------------------------------------------------------------
// Transforms on raw tensors

function splitAt(shape: number[], axis: number): { outer: number; len: number; inner: number } {
  return {
    outer: numel(shape.slice(0, axis)),
    len: shape[axis]!,
    inner: numel(shape.slice(axis + 1)),
  };
}

export function applyTransform(t: SafeTensor, tr: Transform): SafeTensor {
  const size = DTYPE_BYTES[t.dtype];
  switch (tr.op) {
    case 'transpose': {
      if (t.shape.length !== 2) throw new RangeError(`transpose needs a 2-D tensor, got [${t.shape}]`);
      const [a, b] = t.shape as [number, number];
      const out = new Uint8Array(t.data.byteLength);
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < b; j++) {
          const src = (i * b + j) * size;
          out.set(t.data.subarray(src, src + size), (j * a + i) * size);
        }
      }
      return { dtype: t.dtype, shape: [b, a], data: out };
    }
    case 'unsqueeze': {
      if (tr.axis < 0 || tr.axis > t.shape.length)
        throw new RangeError(`unsqueeze axis ${tr.axis} out of range`);
      return { ...t, shape: [...t.shape.slice(0, tr.axis), 1, ...t.shape.slice(tr.axis)] };
    }
    case 'reshape': {
      const known = tr.shape.filter((d) => d !== -1);
      const free = tr.shape.length - known.length;
      const n = numel(t.shape);
      const rest = n / numel(known);
      const shape = tr.shape.map((d) => (d === -1 ? rest : d));
      if (free > 1 || !Number.isInteger(rest) || numel(shape) !== n) {
        throw new RangeError(`cannot reshape [${t.shape}] to [${tr.shape}]`);
      }
      return { ...t, shape };
    }
    case 'split': {
      const { outer, len, inner } = splitAt(t.shape, tr.axis);
      if (tr.axis >= t.shape.length || len % tr.parts || tr.index >= tr.parts) {
        throw new RangeError(`cannot split [${t.shape}] into ${tr.parts} parts along axis ${tr.axis}`);
      }
      const part = len / tr.parts;
      const chunk = part * inner * size;
      const out = new Uint8Array(outer * chunk);
      for (let o = 0; o < outer; o++) {
        const src = (o * len + tr.index * part) * inner * size;
        out.set(t.data.subarray(src, src + chunk), o * chunk);
      }
      const shape = [...t.shape];
      shape[tr.axis] = part;
      return { dtype: t.dtype, shape, data: out };
    }
  }
}

export function concatTensors(parts: SafeTensor[], axis: number): SafeTensor {
  const first = parts[0]!;
  const size = DTYPE_BYTES[first.dtype];
  for (const p of parts) {
    const same =
      p.dtype === first.dtype &&
      p.shape.length === first.shape.length &&
      p.shape.every((d, i) => i === axis || d === first.shape[i]);
    if (!same) {
      throw new RangeError(
        `cannot concatenate ${parts.map((q) => `${q.dtype}[${q.shape}]`).join(', ')} on axis ${axis}`,
      );
    }
  }
  const { outer, inner } = splitAt(first.shape, axis);
  const total = parts.reduce((n, p) => n + p.shape[axis]!, 0);
  const out = new Uint8Array(outer * total * inner * size);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = p.shape[axis]! * inner * size;
      out.set(p.data.subarray(o * chunk, (o + 1) * chunk), at);
      at += chunk;
    }
  }
  const shape = [...first.shape];
  shape[axis] = total;
  return { dtype: first.dtype, shape, data: out };
}

// ---------------------------------------------------------------------------------------------------
// Applying a map

export interface ShapeMismatch {
  /** kep's name. */
  name: string;
  /** The source name it came from. */
  from: string;
  expected: number[];
  got: number[];
}

export interface LoadReport {
  source: string;
  map: string;
  /** Tensors renamed into kep's names that matched (or, without `expected`, all of them). */
  loaded: number;
  /** Expected names that nothing supplied. */
  missing: string[];
  /** Source names that no rule matched, or whose kep name is not expected ("src → kep"). */
  unexpected: string[];
  /** Source names dropped on purpose (buffers, heads kep does not have, other towers). */
  ignored: string[];
  mismatched: ShapeMismatch[];
}

export class KeyMapError extends Error {
  constructor(
    readonly report: LoadReport,
    maxListed: number,
  ) {
    super(formatLoadReport(report, { maxListed }));
    this.name = 'KeyMapError';
  }
}

export interface ApplyOptions {
  /** Throw a KeyMapError unless every expected name loads with its shape and nothing is unexpected. */
  strict?: boolean;
  /** Named in the report and errors (the checkpoint path). */
  source?: string;
  /** How many names of each kind errors list (default 20). */
  maxListed?: number;
}

function stripAll(name: string, prefixes: readonly string[]): string {
  for (let again = true; again;) {
    again = false;
    for (const p of prefixes) {
      if (p && name.startsWith(p)) {
        name = name.slice(p.length);
        again = true;
      }
    }
  }
  return name;
}

/**
 * Renames a checkpoint's tensors into kep's names. With `expected` (kep's parameter names and shapes),
 * the report lists what is missing, unexpected or the wrong shape; non-strict mode loads what matches,
 * strict mode throws with the report.
 */
export function applyKeyMap(
  stateDict: StateDict,
  map: KeyMap,
  expected?: ReadonlyMap<string, readonly number[]>,
  opts: ApplyOptions = {},
): { tensors: StateDict; report: LoadReport } {
  const source = opts.source ?? '<state dict>';
  const report: LoadReport = {
    source,
    map: map.name,
    loaded: 0,
    missing: [],
    unexpected: [],
    ignored: [],
    mismatched: [],
  };

  const stripped = new Map<string, { original: string; t: SafeTensor }>();
  for (const [original, t] of stateDict) {
    const name = stripAll(original, map.strip ?? []);
    if (stripped.has(name)) {
      throw new KeyMapError(
        { ...report, unexpected: [`${original} and ${stripped.get(name)!.original} both strip to ${name}`] },
        1,
      );
    }
    stripped.set(name, { original, t });
  }
  const prefixes = map.prefixes ?? [''];
  const prefix = prefixes.find((p) => [...stripped.keys()].some((k) => k.startsWith(p))) ?? '';
  const work = new Map<string, { original: string; t: SafeTensor }>();
  for (const [name, v] of stripped) {
    if (name.startsWith(prefix)) work.set(name.slice(prefix.length), v);
    else report.ignored.push(`${v.original} (outside ${prefix})`);
  }

  const out: StateDict = new Map();
  const origin = new Map<string, string>();
  const put = (name: string, t: SafeTensor, from: string): void => {
    if (out.has(name))
      throw new KeyMapError(
        { ...report, unexpected: [`${from} and ${origin.get(name)!} both map to ${name}`] },
        1,
      );
    out.set(name, t);
    origin.set(name, from);
  };

  // Many-to-one rules first: they consume their sources.
  for (const rule of map.concat ?? []) {
    const groups = new Map<string, { parts: (SafeTensor | undefined)[]; names: string[] }>();
    for (const [name, { t }] of work) {
      rule.from.forEach((tpl, k) => {
        const b = match(tpl, name);
        if (!b) return;
        const target = fill(rule.to, b);
        const g = groups.get(target) ?? {
          parts: new Array<SafeTensor | undefined>(rule.from.length),
          names: [],
        };
        g.parts[k] = t;
        g.names[k] = name;
        groups.set(target, g);
      });
    }
    for (const [target, g] of groups) {
      if (g.parts.every((p) => p)) {
        put(
          target,
          concatTensors(g.parts as SafeTensor[], rule.axis),
          g.names.map((n) => work.get(n)!.original).join(' + '),
        );
        for (const n of g.names) work.delete(n);
      }
    }
  }

  for (const [name, { original, t }] of work) {
    if ((map.ignore ?? []).some((p) => match(p, name))) {
      report.ignored.push(original);
      continue;
    }
    let done = false;
    for (const rule of map.rules) {
      const b = match(rule.from, name);
      if (!b) continue;
      let v = t;
      try {
        for (const tr of rule.transforms ?? []) v = applyTransform(v, tr);
      } catch (err) {
        // A transform that does not fit the tensor is a shape problem of this key, not a crash.
        const target = fill(rule.to, b);
        report.mismatched.push({
          name: target,
          from: `${original} (${(err as Error).message})`,
          expected: [...(expected?.get(target) ?? [])],
          got: t.shape,
        });
        done = true;
        break;
      }
      put(fill(rule.to, b), v, original);
      done = true;
      break;
    }
    if (!done) report.unexpected.push(original);
  }

  if (!expected) {
    report.loaded = out.size;
  } else {
    for (const [name, t] of out) {
      const want = expected.get(name);
      if (!want && (map.optional ?? []).some((p) => match(p, name))) {
        report.ignored.push(`${origin.get(name)} (not in this model)`);
        out.delete(name);
      } else if (!want) {
        report.unexpected.push(`${origin.get(name)} → ${name}`);
        out.delete(name);
      } else if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
        report.mismatched.push({ name, from: origin.get(name)!, expected: [...want], got: t.shape });
        out.delete(name);
      }
    }
    for (const name of expected.keys())
      if (!out.has(name) && !report.mismatched.some((m) => m.name === name)) report.missing.push(name);
    report.loaded = out.size;
  }

  if (opts.strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) {
    throw new KeyMapError(report, opts.maxListed ?? 20);
  }
  return { tensors: out, report };
}

/** The report as text for the CLI: a summary line, then up to `maxListed` names of each kind. */
export function formatLoadReport(
  report: LoadReport,
  opts: { maxListed?: number; verbose?: boolean } = {},
): string {
  const max = opts.maxListed ?? 20;
  const lines = [
    `${report.source} (${report.map}): loaded ${report.loaded}, missing ${report.missing.length}, ` +
      `unexpected ${report.unexpected.length}, shape mismatches ${report.mismatched.length}, ignored ${report.ignored.length}`,
  ];
  const list = (title: string, items: string[]): void => {
    if (!items.length) return;
    lines.push(`  ${title}:`);
    for (const it of items.slice(0, max)) lines.push(`    ${it}`);
    if (items.length > max) lines.push(`    … and ${items.length - max} more`);
  };
  list('missing', report.missing);
  list('unexpected', report.unexpected);
  list(
    'shape mismatches',
    report.mismatched.map(
      (m) => `${m.name} (from ${m.from}): expected [${m.expected.join(', ')}], got [${m.got.join(', ')}]`,
    ),
  );
  if (opts.verbose) list('ignored', report.ignored);
  return lines.join('\n');
}
