export { ImageDecodeError, type LoadOptions, type RgbImage, loadImage } from './image.ts';
export {
  type ImageBatch,
  type PreprocessConfig,
  type PresetName,
  batchImages,
  imagenet,
  normalise,
  openaiClip,
  parsePreprocessConfig,
  preprocess,
  preprocessConfigSchema,
  presets,
  transformImage,
} from './preprocess.ts';
export { type Interpolation, resample } from './resample.ts';
export { centerCrop, crop, randomCrop, resize, roundHalfEven, shortestSideSize } from './transforms.ts';
