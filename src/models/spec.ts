// ModelSpec: everything that builds and feeds a model, as data (open_clip's model configs, Hugging
// Face's config.json): the architecture of each tower, the image preprocessing, the tokenizer's
// settings and the key map of the checkpoint format. Registry entries are named specs, model folders
// store their whole spec (src/embed/model-folder.ts), and one factory (./factory.ts) builds every
// graph from one. The schemas check a spec read from a file; the interfaces in vit.ts, swin.ts,
// bert.ts and kep.ts stay the graph builders' own types, and the schemas are checked against them.
import { z } from 'zod';
import type { BertConfig } from './bert.ts';
import type { SwinConfig } from './swin.ts';
import type { VitConfig } from './vit.ts';

const posInt = z.number().int().positive();

export const vitConfigSchema = z.strictObject({
  imageSize: posInt,
  patchSize: posInt,
  channels: posInt,
  dim: posInt,
  depth: posInt,
  heads: posInt,
  mlpDim: posInt,
  eps: z.number().positive(),
  numClasses: z.number().int().nonnegative(),
  headBias: z.boolean().optional(),
  patchBias: z.boolean().optional(),
  preNorm: z.boolean().optional(),
}) satisfies z.ZodType<VitConfig>;

export const swinConfigSchema = z.strictObject({
  imageSize: posInt,
  patchSize: posInt,
  channels: posInt,
  embedDim: posInt,
  depths: z.array(posInt).min(1),
  heads: z.array(posInt).min(1),
  window: posInt,
  mlpRatio: z.number().positive(),
  eps: z.number().positive(),
  stem: z.enum(['patch', 'conv-stem']),
}) satisfies z.ZodType<SwinConfig>;

export const bertConfigSchema = z.strictObject({
  vocabSize: posInt,
  hidden: posInt,
  layers: posInt,
  heads: posInt,
  intermediate: posInt,
  maxPositions: posInt,
  typeVocabSize: posInt,
  eps: z.number().positive(),
}) satisfies z.ZodType<BertConfig>;

export const imageBackboneSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('vit'), config: vitConfigSchema }),
  z.strictObject({ kind: z.literal('swin'), config: swinConfigSchema }),
]);

/** KEP's two towers and shared space. Text pooling lives in the tokenizer settings (one place). */
export const kepConfigSchema = z.strictObject({
  image: imageBackboneSchema,
  text: bertConfigSchema,
  embedDim: posInt,
  /** Initial logit scale s = exp(logit_scale). */
  initialScale: z.number().positive(),
});

/** S1's knowledge encoder: BERT → pooling → MLP head → L2 norm (src/models/kep.ts encodeText). */
export const textEncoderConfigSchema = z.strictObject({ text: bertConfigSchema, embedDim: posInt });

const triple = z.tuple([z.number(), z.number(), z.number()]);

/** The evaluation transform: resize the shortest side, centre-crop `size`, normalise. */
export const imagePreprocessingSchema = z.strictObject({
  size: posInt,
  mean: triple,
  std: triple.refine((s) => s.every((v) => v > 0), 'std must be positive'),
  interpolation: z.enum(['bicubic', 'bilinear']),
});
export type ImagePreprocessing = z.infer<typeof imagePreprocessingSchema>;

export const tokenizerSpecSchema = z.strictObject({
  /** Tokens per text, [CLS] and [SEP] included. */
  maxLength: posInt,
  /** The WordPiece vocabulary: a file name inside the model folder, or null when the user supplies it
   * (`--vocab`) — a model without weights then falls back to a character vocabulary. */
  vocabulary: z.string().min(1).nullable(),
  /** 'cls': BERT's tanh pooler over [CLS] (the paper's); 'mean': masked mean of the last layer. */
  pooling: z.enum(['cls', 'mean']),
  lowerCase: z.boolean(),
});
export type TokenizerSpec = z.infer<typeof tokenizerSpecSchema>;

/** Key maps from checkpoint names to kep's (src/weights/keymaps.ts); 'kep' is kep's own names. */
export const KEY_MAP_NAMES = [
  'kep',
  'timm-vit',
  'openai-clip-visual',
  'hf-clip-vision',
  'hf-bert',
  'timm-swin',
  'kep-clip',
  'kep-vit',
  'kep-ctranspath',
] as const;
export const keyMapNameSchema = z.enum(KEY_MAP_NAMES);
export type KeyMapName = z.infer<typeof keyMapNameSchema>;

/** The KEP authors' released files for a variant, as `kep models list` reports them. */
export const publishedWeightsSchema = z.strictObject({
  files: z.string(),
  layout: z.string(),
  vocabulary: z.string(),
  preprocessing: z.string(),
});
export type PublishedWeights = z.infer<typeof publishedWeightsSchema>;

const common = {
  name: z.string().min(1),
  description: z.string().default(''),
  keyMap: keyMapNameSchema,
};

export const modelSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...common,
    kind: z.literal('vit'),
    config: vitConfigSchema,
    preprocess: imagePreprocessingSchema,
  }),
  z.strictObject({
    ...common,
    kind: z.literal('swin'),
    config: swinConfigSchema,
    preprocess: imagePreprocessingSchema,
  }),
  z.strictObject({
    ...common,
    kind: z.literal('bert'),
    config: bertConfigSchema,
    tokenizer: tokenizerSpecSchema,
  }),
  z.strictObject({
    ...common,
    kind: z.literal('kep'),
    config: kepConfigSchema,
    preprocess: imagePreprocessingSchema,
    tokenizer: tokenizerSpecSchema,
    /** What the authors released for this variant and what loading it needs (docs/weights.md). */
    published: publishedWeightsSchema.optional(),
  }),
  z.strictObject({
    ...common,
    kind: z.literal('text-encoder'),
    config: textEncoderConfigSchema,
    tokenizer: tokenizerSpecSchema,
  }),
]);
export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type ModelKind = ModelSpec['kind'];
export type KepSpec = Extract<ModelSpec, { kind: 'kep' }>;
export type TextEncoderSpec = Extract<ModelSpec, { kind: 'text-encoder' }>;

/** A spec read from a file, with every problem named by its field. */
export function parseModelSpec(value: unknown, source: string): ModelSpec {
  const r = modelSpecSchema.safeParse(value);
  if (!r.success)
    throw new Error(
      `${source}: not a model spec: ${r.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    );
  return r.data;
}

/** The side of the square images a spec's image tower takes (0 when it has none). */
export function imageSizeOf(spec: ModelSpec): number {
  return 'preprocess' in spec ? spec.preprocess.size : 0;
}

/** The same spec training or evaluating at another image size: a ViT gets as many position
 * embeddings as the new size needs, so the architecture and the preprocessing agree. */
export function withImageSize(spec: KepSpec, size: number | undefined): KepSpec {
  if (size === undefined || size === spec.preprocess.size) return spec;
  const image = spec.config.image;
  if (image.kind !== 'vit') throw new Error('the image size can only be changed for ViT image towers');
  return {
    ...spec,
    config: { ...spec.config, image: { kind: 'vit', config: { ...image.config, imageSize: size } } },
    preprocess: { ...spec.preprocess, size },
  };
}
