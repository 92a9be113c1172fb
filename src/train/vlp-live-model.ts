// S2's evaluation stage: the model being trained, seen through the VisionLanguageModel interface
// (with the current weights, through the trainer's eval graph), so the periodic evaluation runs the
// same code as `kep eval` on a finished folder.
import { ort } from '../engine/runtime.ts';
import type { Trainer } from '../engine/trainer.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import { INPUT_IDS, INPUT_MASK, INPUT_PIXELS } from '../models/factory.ts';
import type { KepSpec } from '../models/spec.ts';
import type { BertTokenizer } from '../text/wordpiece.ts';

export function liveModel(
  trainer: () => Trainer,
  spec: KepSpec,
  tokenizer: BertTokenizer,
  preprocess: PreprocessConfig,
  outDir: string,
): VisionLanguageModel {
  const d = spec.config.embedDim;
  const size = preprocess.size;
  return {
    name: spec.name,
    spec,
    embedDim: d,
    preprocess,
    get logitScale() {
      return Math.exp(trainer().params.get('logit_scale')![0]!);
    },
    untrained: false,
    source: `${outDir} (step ${trainer().step})`,
    embedImages: async (pixels, count) => {
      if (count === 0) return new Float32Array(0);
      const feeds = { [INPUT_PIXELS]: new ort.Tensor('float32', pixels, [count, 3, size, size]) };
      return (await trainer().run(feeds, ['image'])).image!.data as Float32Array;
    },
    embedTexts: async (texts) => {
      if (texts.length === 0) return new Float32Array(0);
      const out = new Float32Array(texts.length * d);
      for (let i = 0; i < texts.length; i += 256) {
        const b = tokenizer.encodeBatch(texts.slice(i, i + 256), {
          maxLength: spec.tokenizer.maxLength,
          padding: 'longest',
          truncation: true,
        });
        const feeds = {
          [INPUT_IDS]: new ort.Tensor('int64', b.ids, b.shape),
          [INPUT_MASK]: new ort.Tensor('int64', b.mask, b.shape),
        };
        out.set((await trainer().run(feeds, ['text'])).text!.data as Float32Array, i * d);
      }
      return out;
    },
    release: async () => {},
  };
}
