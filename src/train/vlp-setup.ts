// S2's starting point: the model spec it trains (a KEP registry spec, at the chosen image size, with
// the text tower of the S1 encoder or a random one over a caption vocabulary), the tokenizer, and
// the initial weights (S1's text towers, a pretrained image backbone).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { toFloat32 } from '../engine/safetensors.ts';
import type { PairSet } from '../data/pairs.ts';
import { towerGraphs } from '../models/factory.ts';
import { getModel } from '../models/registry.ts';
import type { KepSpec } from '../models/spec.ts';
import { buildVocabulary, writeVocab } from '../text/vocab-builder.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { KEP_PREFIXES, applyKeyMap } from '../weights/keymaps.ts';
import { loadStateDict } from '../weights/load.ts';
import { keyMapNamed } from '../weights/model-weights.ts';
import { readKnowledgeEncoderFolder } from './knowledge.ts';
import type { VlpConfig } from './vlp-config.ts';

export interface TextSetup {
  tokenizer: BertTokenizer;
  vocabFile: string;
  /** Tokens to write to vocabFile once the run folder may change (writeVocabulary). */
  pendingVocab?: string[];
  /** The whole model S2 trains: what kep-model.json stores. */
  spec: KepSpec;
  initial: Map<string, Float32Array>;
  origin: string;
}

export function kepSpecNamed(name: string): KepSpec {
  const entry = getModel(name);
  if (entry.kind !== 'kep')
    throw new Error(
      `--model ${name}: vision–language training needs a KEP model (kep-16, kep-32, kep-ctp, kep-tiny)`,
    );
  return entry;
}

/** The trained model's spec: the registry's published notes do not describe it. */
function trainedSpec(
  base: KepSpec,
  text: KepSpec['config']['text'],
  embedDim: number,
  tokenizer: KepSpec['tokenizer'],
): KepSpec {
  const { published: _published, ...rest } = base;
  return { ...rest, config: { ...base.config, text, embedDim }, tokenizer };
}

function fromKnowledgeEncoder(cfg: VlpConfig, base: KepSpec, outDir: string, initText: string): TextSetup {
  const s1 = readKnowledgeEncoderFolder(initText);
  const s1Pooling = s1.spec.tokenizer.pooling;
  if (cfg.pooling && cfg.pooling !== s1Pooling)
    throw new Error(
      `pooling ${cfg.pooling}: the S1 encoder in ${initText} was trained with ${s1Pooling} pooling`,
    );
  const vocabFile = join(outDir, 'vocab.txt');
  const tokens = [...s1.tokenizer.vocab.keys()];
  const initial = new Map<string, Float32Array>();
  for (const [name, data] of s1.params) {
    if (name.startsWith('optimizer.')) continue;
    initial.set(name, data);
    // The knowledge tower is a second copy of the same encoder, frozen for the whole run.
    const k = knowledgeName(name);
    if (k) initial.set(k, data);
  }
  return {
    tokenizer: new BertTokenizer(tokens, {}, vocabFile),
    vocabFile,
    pendingVocab: tokens,
    spec: trainedSpec(base, s1.spec.config.text, s1.spec.config.embedDim, {
      maxLength: cfg.maxLength ?? s1.config.maxLength,
      vocabulary: 'vocab.txt',
      pooling: s1Pooling,
      lowerCase: s1.spec.tokenizer.lowerCase,
    }),
    initial,
    origin: `text tower from ${s1.checkpoint}`,
  };
}

/** Text tower, knowledge tower and tokenizer: from the S1 folder, or random with a caption vocabulary. */
export function setUpText(
  cfg: VlpConfig,
  base: KepSpec,
  pairs: PairSet | undefined,
  outDir: string,
  initText?: string,
): TextSetup {
  if (initText) return fromKnowledgeEncoder(cfg, base, outDir, initText);
  const vocabFile = join(outDir, 'vocab.txt');
  // Built once per run folder, so a resumed run keeps its token ids.
  let pendingVocab: string[] | undefined;
  if (!existsSync(vocabFile)) {
    if (!pairs) throw new Error('a text tower from random weights needs captions for its vocabulary');
    const captions: string[] = [];
    for (let i = 0; i < pairs.size; i++) captions.push(pairs.caption(i));
    pendingVocab = buildVocabulary(captions, { size: cfg.vocabSize }).tokens;
  }
  const tokenizer = pendingVocab
    ? new BertTokenizer(pendingVocab, {}, vocabFile)
    : BertTokenizer.fromVocabFile(vocabFile);
  const text = base.config.text;
  return {
    tokenizer,
    vocabFile,
    ...(pendingVocab ? { pendingVocab } : {}),
    spec: trainedSpec(base, { ...text, vocabSize: tokenizer.vocabSize }, base.config.embedDim, {
      maxLength: Math.min(cfg.maxLength ?? base.tokenizer.maxLength, text.maxPositions),
      vocabulary: 'vocab.txt',
      pooling: cfg.pooling ?? 'mean',
      lowerCase: true,
    }),
    initial: new Map(),
    origin: 'text tower from random weights',
  };
}

/** A whole KEP model to start S2 from: a released checkpoint (or kep's own file) with its vocabulary. */
export interface ModelInit {
  weights: string;
  /** vocab.txt (or a tokenizer folder) the text tower was trained with. */
  vocab: string;
  /** Key map of the checkpoint (default: the registry model's, e.g. kep-vit for KEP-16). */
  keyMap?: string;
}

/** S2's frozen knowledge tower is a copy of the text tower: its name for a text-tower parameter. */
function knowledgeName(name: string): string | undefined {
  if (name.startsWith(KEP_PREFIXES.text))
    return KEP_PREFIXES.knowledge + name.slice(KEP_PREFIXES.text.length);
  if (name.startsWith(KEP_PREFIXES.textHead))
    return KEP_PREFIXES.knowledgeHead + name.slice(KEP_PREFIXES.textHead.length);
  return undefined;
}

/**
 * S2 from a whole model: every tower and the logit scale from one checkpoint, the registry model's
 * text settings and the checkpoint's own vocabulary. The frozen knowledge tower comes from the file
 * when it holds one (the authors' training saves do), else it is a copy of the text tower, as S2
 * starts it from S1.
 */
export async function fromWholeModel(
  cfg: VlpConfig,
  base: KepSpec,
  outDir: string,
  init: ModelInit,
): Promise<TextSetup> {
  const given = BertTokenizer.fromPath(init.vocab);
  const rows = base.config.text.vocabSize;
  if (given.vocabSize > rows)
    throw new Error(
      `--vocab ${init.vocab}: ${given.vocabSize} tokens, but ${base.name}'s text tower has ${rows} embedding rows: not the vocabulary of this model`,
    );
  const vocabFile = join(outDir, 'vocab.txt');
  const tokens = [...given.vocab.keys()];
  const spec = trainedSpec(base, base.config.text, base.config.embedDim, {
    maxLength: Math.min(cfg.maxLength ?? base.tokenizer.maxLength, base.config.text.maxPositions),
    vocabulary: 'vocab.txt',
    pooling: cfg.pooling ?? base.tokenizer.pooling,
    lowerCase: base.tokenizer.lowerCase,
  });
  const towers = new Map([...towerGraphs(spec).all.params.values()].map((p) => [p.name, p.shape]));
  const expected = new Map(towers);
  for (const [name, shape] of towers) {
    const k = knowledgeName(name);
    if (k) expected.set(k, shape);
  }
  const loaded = await loadStateDict(init.weights);
  const { tensors } = applyKeyMap(loaded.tensors, keyMapNamed(init.keyMap ?? base.keyMap), expected, {
    strict: false,
    source: init.weights,
  });
  const missing = [...towers.keys()].filter((n) => !tensors.has(n));
  if (missing.length > 0)
    throw new Error(
      `${init.weights}: not a whole ${base.name} model: ${missing.length} of its tensors are missing (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', …' : ''})`,
    );
  const initial = new Map<string, Float32Array>();
  for (const [name, t] of tensors) initial.set(name, toFloat32(t, { convert: true }));
  const knowledge = [...towers.keys()].map(knowledgeName).filter((k): k is string => k !== undefined);
  const held = knowledge.filter((k) => initial.has(k)).length;
  if (held > 0 && held < knowledge.length)
    throw new Error(
      `${init.weights}: ${held} of the knowledge tower's ${knowledge.length} tensors: an incomplete file`,
    );
  if (held === 0)
    for (const [name, data] of [...initial]) {
      const k = knowledgeName(name);
      if (k) initial.set(k, data);
    }
  return {
    tokenizer: new BertTokenizer(tokens, { doLowerCase: base.tokenizer.lowerCase }, vocabFile),
    vocabFile,
    pendingVocab: tokens,
    spec,
    initial,
    origin: `all towers from ${init.weights}${held === 0 ? ' (knowledge tower: a copy of its text tower)' : ''}`,
  };
}

export function writeVocabulary(text: TextSetup): void {
  if (text.pendingVocab) writeVocab(text.vocabFile, text.pendingVocab);
}

/** Pretrained backbone weights under `image.`, through the checkpoint's key map. */
export async function imageInitial(
  spec: KepSpec,
  init: { weights: string; keyMap: string },
): Promise<Map<string, Float32Array>> {
  const g = towerGraphs(spec).image!;
  const expected = new Map(
    [...g.params.values()].filter((p) => p.name.startsWith('image.')).map((p) => [p.name.slice(6), p.shape]),
  );
  const loaded = await loadStateDict(init.weights);
  const { tensors } = applyKeyMap(loaded.tensors, keyMapNamed(init.keyMap), expected, {
    strict: false,
    source: init.weights,
  });
  return new Map([...tensors].map(([k, t]) => [`image.${k}`, toFloat32(t, { convert: true })]));
}
