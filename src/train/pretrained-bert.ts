// A pretrained BERT as the starting point of the knowledge encoder (S1), as the paper starts from
// PubMedBERT: a Hugging Face folder (config.json, vocab.txt or tokenizer.json, weights) read through
// the model zoo's loaders — its architecture from config.json, its tokenizer as it is, its weights
// under kep's `text.` names through the hf-bert key map. The projection head stays random.
import { z } from 'zod';
import { toFloat32 } from '../engine/safetensors.ts';
import type { BertConfig } from '../models/bert.ts';
import { towerGraphs } from '../models/factory.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { HF_BERT, applyKeyMap, formatLoadReport } from '../weights/keymaps.ts';
import { loadStateDict } from '../weights/load.ts';

const hfBertConfigSchema = z.looseObject({
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive(),
  type_vocab_size: z.number().int().positive().default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  hidden_act: z.string().default('gelu'),
});

export interface PretrainedBert {
  config: BertConfig;
  tokenizer: BertTokenizer;
  /** Parameters under `text.` (kep names). */
  params: Map<string, Float32Array>;
  report: string;
}

export async function loadPretrainedBert(dir: string): Promise<PretrainedBert> {
  const loaded = await loadStateDict(dir);
  if (!loaded.config) throw new Error(`${dir}: no config.json (a Hugging Face BERT folder has one)`);
  const parsed = hfBertConfigSchema.safeParse(loaded.config);
  if (!parsed.success)
    throw new Error(
      `${dir}/config.json: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const c = parsed.data;
  // kep's BERT uses the exact (erf) GELU, which is what "gelu" means in transformers.
  if (c.hidden_act !== 'gelu')
    throw new Error(`${dir}/config.json: hidden_act "${c.hidden_act}" is not supported (only "gelu")`);
  const config: BertConfig = {
    vocabSize: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    intermediate: c.intermediate_size,
    maxPositions: c.max_position_embeddings,
    typeVocabSize: c.type_vocab_size,
    eps: c.layer_norm_eps,
  };
  const g = towerGraphs({
    name: dir,
    kind: 'bert',
    description: 'pretrained BERT',
    keyMap: 'hf-bert',
    config,
    tokenizer: { maxLength: config.maxPositions, vocabulary: null, pooling: 'cls', lowerCase: true },
  }).all;
  const expected = new Map([...g.params.values()].map((p) => [p.name, p.shape]));
  const { tensors, report } = applyKeyMap(loaded.tensors, HF_BERT, expected, { strict: true, source: dir });
  const params = new Map([...tensors].map(([k, t]) => [`text.${k}`, toFloat32(t, { convert: true })]));
  const tokenizer = BertTokenizer.fromFolder(dir);
  if (tokenizer.vocabSize > config.vocabSize)
    throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} tokens, the model ${config.vocabSize}`);
  return { config, tokenizer, params, report: formatLoadReport(report) };
}
