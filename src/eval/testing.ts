// A small vision–language model for tests that really computes its embeddings: images by the colour
// of their saturated pixels, texts by their colour words. On the synthetic shape sets (coloured
// shapes on grey backgrounds) it classifies by colour perfectly and knows nothing of shapes, which
// is what lets tests tell right answers from chance without a trained network.
import type { VisionLanguageModel } from '../embed/types.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';

const WORDS: Record<string, [number, number, number]> = {
  red: [1, 0, 0],
  crimson: [1, 0, 0],
  scarlet: [1, 0, 0],
  green: [0, 1, 0],
  emerald: [0, 1, 0],
  'leaf-green': [0, 1, 0],
  blue: [0, 0, 1],
  azure: [0, 0, 1],
  cobalt: [0, 0, 1],
  yellow: [1, 1, 0],
  golden: [1, 1, 0],
  lemon: [1, 1, 0],
  purple: [1, 0, 1],
  violet: [1, 0, 1],
  magenta: [1, 0, 1],
};

export interface FakeModel extends VisionLanguageModel {
  /** Every batch of texts the model was asked to embed. */
  textCalls: string[][];
  imageCalls: number;
  released: boolean;
}

/** Dimensions: red, green, blue votes, and a fourth for "no colour" (grey images, colourless text). */
export function fakeColourModel(opts: { size?: number; untrained?: boolean } = {}): FakeModel {
  const size = opts.size ?? 16;
  const preprocess: PreprocessConfig = {
    size,
    resize: 'shortest',
    interpolation: 'bilinear',
    crop: 'center',
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
  const model: FakeModel = {
    name: 'fake-colour',
    embedDim: 4,
    preprocess,
    logitScale: 25,
    untrained: opts.untrained ?? false,
    source: 'test model (colour statistics)',
    textCalls: [],
    imageCalls: 0,
    released: false,
    async embedImages(pixels, count) {
      model.imageCalls++;
      const plane = size * size;
      if (pixels.length !== count * 3 * plane) throw new Error(`expected ${count} images of ${size}²`);
      const out = new Float32Array(count * 4);
      for (let i = 0; i < count; i++) {
        const base = i * 3 * plane;
        const votes = [0, 0, 0, 0.01];
        for (let p = 0; p < plane; p++) {
          const rgb = [0, 1, 2].map((c) => pixels[base + c * plane + p]! * 0.25 + 0.5);
          const max = Math.max(...rgb);
          if (max - Math.min(...rgb) < 0.3) continue;
          rgb.forEach((v, c) => {
            if (v > max - 0.15) votes[c]!++;
          });
        }
        const n = Math.hypot(...votes);
        votes.forEach((v, c) => (out[i * 4 + c] = v / n));
      }
      return out;
    },
    async embedTexts(texts) {
      model.textCalls.push([...texts]);
      const out = new Float32Array(texts.length * 4);
      texts.forEach((t, i) => {
        const v: number[] = [0, 0, 0, 0];
        for (const w of t.toLowerCase().split(/[^a-z-]+/)) WORDS[w]?.forEach((x, c) => (v[c]! += x));
        if (!v.some((x) => x !== 0)) v[3] = 1;
        const n = Math.hypot(...v);
        v.forEach((x, c) => (out[i * 4 + c] = x / n));
      });
      return out;
    },
    async release() {
      model.released = true;
    },
  };
  return model;
}
