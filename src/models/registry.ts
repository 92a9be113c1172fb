// Named models in the spirit of open_clip: an architecture config, and a pretrained config that
// carries what using the weights needs (preprocessing, tokenizer length, the key map of the
// checkpoint's own format, where the weights come from).
import { type BertConfig, bertConfigs } from './bert.ts';
import type { KepConfig } from './kep.ts';
import type { ImagePreprocessing, KepSpec, ModelSpec, PublishedWeights, TokenizerSpec } from './spec.ts';
import { swinConfigs } from './swin.ts';
import { vitConfigs } from './vit.ts';

export const OPENAI_CLIP_NORM = {
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
} as const;
export const IMAGENET_NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

/** Normalisations a user may choose instead of a model's own (`--image-norm`): KEP-CTP was trained
 * with CLIP's values but evaluated by its authors with ImageNet's. */
export const IMAGE_NORMS = { clip: OPENAI_CLIP_NORM, imagenet: IMAGENET_NORM } as const;
export type ImageNorm = keyof typeof IMAGE_NORMS;

/** A registry entry is a named spec: data, not code paths (src/models/spec.ts). */
export type ModelEntry = ModelSpec;
export type { ImagePreprocessing, PublishedWeights };

const KEP_FILES =
  "training saves epoch_N.pt ({epoch, name, state_dict, optimizer}; knowledge tower included, ignored for inference) and the inference folder's pytorch_model.bin";
const KEP_VOCAB = "PubMedBERT's vocab.txt (uncased: lower-cased), 256 tokens: pass --vocab";

const clipPre: ImagePreprocessing = {
  size: 224,
  mean: [...OPENAI_CLIP_NORM.mean],
  std: [...OPENAI_CLIP_NORM.std],
  interpolation: 'bicubic',
};
const imagenetPre: ImagePreprocessing = {
  size: 224,
  mean: [...IMAGENET_NORM.mean],
  std: [...IMAGENET_NORM.std],
  interpolation: 'bicubic',
};
/** PubMedBERT's uncased vocabulary is not shipped: the user passes it (--vocab). */
const EXTERNAL_VOCAB: TokenizerSpec = { maxLength: 256, vocabulary: null, pooling: 'cls', lowerCase: true };

const kep = (image: KepConfig['image'], text: BertConfig = bertConfigs['bert-base']): KepSpec['config'] => ({
  image,
  text,
  embedDim: 512,
  initialScale: 25,
});

const entries: ModelSpec[] = [
  {
    name: 'vit-b-16',
    kind: 'vit',
    config: vitConfigs['vit-b-16'],
    preprocess: imagenetPre,
    keyMap: 'timm-vit',
    description: 'ViT-B/16, class-token features (768)',
  },
  {
    name: 'vit-b-32',
    kind: 'vit',
    config: vitConfigs['vit-b-32'],
    preprocess: imagenetPre,
    keyMap: 'timm-vit',
    description: 'ViT-B/32, class-token features (768)',
  },
  {
    name: 'vit-s-16',
    kind: 'vit',
    config: vitConfigs['vit-s-16'],
    preprocess: imagenetPre,
    keyMap: 'timm-vit',
    description: 'ViT-S/16, class-token features (384)',
  },
  {
    name: 'vit-tiny-16',
    kind: 'vit',
    config: vitConfigs['vit-tiny-16'],
    preprocess: { ...imagenetPre, size: 32 },
    keyMap: 'timm-vit',
    description: 'test-sized ViT (32 px, 2 blocks, dim 32)',
  },
  {
    name: 'clip-vit-b-32',
    kind: 'vit',
    config: vitConfigs['clip-vit-b-32'],
    preprocess: clipPre,
    keyMap: 'openai-clip-visual',
    description: 'OpenAI CLIP ViT-B/32 visual tower, 512-d projection',
  },
  {
    name: 'biomedclip-vit-b-16',
    kind: 'vit',
    config: vitConfigs['biomedclip-vit-b-16'],
    preprocess: clipPre,
    keyMap: 'timm-vit',
    description: "BiomedCLIP's ViT-B/16 visual tower, 512-d projection",
  },
  {
    name: 'ctranspath',
    kind: 'swin',
    config: swinConfigs.ctranspath,
    preprocess: imagenetPre,
    keyMap: 'timm-swin',
    description: 'CTransPath: Swin-T with a conv stem, mean-pooled 768-d features',
  },
  {
    name: 'swin-t',
    kind: 'swin',
    config: swinConfigs['swin-t'],
    preprocess: imagenetPre,
    keyMap: 'timm-swin',
    description: 'Swin-T, mean-pooled 768-d features',
  },
  {
    name: 'bert-base',
    kind: 'bert',
    config: bertConfigs['bert-base'],
    tokenizer: EXTERNAL_VOCAB,
    keyMap: 'hf-bert',
    description: 'BERT-base (PubMedBERT/BiomedBERT shape), pooler output',
  },
  {
    name: 'bert-small',
    kind: 'bert',
    config: bertConfigs['bert-small'],
    tokenizer: EXTERNAL_VOCAB,
    keyMap: 'hf-bert',
    description: 'BERT with 4 layers, hidden 256: the knowledge encoder that fits a laptop',
  },
  {
    name: 'kep-32',
    kind: 'kep',
    config: kep({ kind: 'vit', config: vitConfigs['clip-vit-b-32'] }),
    preprocess: clipPre,
    tokenizer: EXTERNAL_VOCAB,
    keyMap: 'kep-clip',
    description: 'KEP-32: CLIP ViT-B/32 image tower + BERT-base text tower',
    published: {
      files: KEP_FILES,
      layout:
        'visual.* open_clip CLIP ViT-B/32, visual_head.{0,2}, text.bert_model.*, text.mlp_embed.{0,2}, logit_scale',
      vocabulary: KEP_VOCAB,
      preprocessing: 'bicubic resize 224 + centre crop, OpenAI CLIP mean/std',
    },
  },
  {
    name: 'kep-16',
    kind: 'kep',
    config: kep({ kind: 'vit', config: vitConfigs['biomedclip-vit-b-16'] }),
    preprocess: clipPre,
    tokenizer: EXTERNAL_VOCAB,
    keyMap: 'kep-vit',
    description: "KEP-16: BiomedCLIP's ViT-B/16 image tower + BERT-base text tower",
    published: {
      files: KEP_FILES,
      layout:
        "visual.trunk.* timm ViT-B/16 + visual.head.proj (BiomedCLIP's), visual_head.{0,2}, text.bert_model.*, text.mlp_embed.{0,2}, logit_scale",
      vocabulary: KEP_VOCAB,
      preprocessing: 'bicubic resize 224 + centre crop, OpenAI CLIP mean/std',
    },
  },
  {
    name: 'kep-ctp',
    kind: 'kep',
    config: kep({ kind: 'swin', config: swinConfigs.ctranspath }),
    preprocess: imagenetPre,
    tokenizer: EXTERNAL_VOCAB,
    keyMap: 'kep-ctranspath',
    description: 'KEP-CTP: CTransPath image tower + BERT-base text tower',
    published: {
      files: KEP_FILES,
      layout:
        'visual.* CTransPath (timm Swin-T, conv stem, no head), visual_head.{0,2} (768→512), text.bert_model.*, text.mlp_embed.{0,2}, logit_scale',
      vocabulary: KEP_VOCAB,
      preprocessing:
        "bicubic resize 224 + centre crop, ImageNet mean/std as the authors' evaluation and inference code (their training code applied CLIP's: --image-norm clip)",
    },
  },
  {
    name: 'kep-tiny',
    kind: 'kep',
    config: {
      ...kep(
        { kind: 'vit', config: vitConfigs['vit-tiny-16'] },
        {
          ...bertConfigs['bert-small'],
          vocabSize: 1000,
          layers: 2,
          hidden: 32,
          heads: 2,
          intermediate: 64,
          maxPositions: 64,
        },
      ),
      embedDim: 16,
    },
    preprocess: { ...imagenetPre, size: 32 },
    tokenizer: { ...EXTERNAL_VOCAB, maxLength: 64 },
    keyMap: 'kep-vit',
    description: 'test-sized KEP model',
  },
];

export const registry: ReadonlyMap<string, ModelSpec> = new Map(entries.map((e) => [e.name, e]));

export function getModel(name: string): ModelSpec {
  const e = registry.get(name);
  if (!e) throw new Error(`unknown model "${name}"; known: ${[...registry.keys()].join(', ')}`);
  return e;
}
