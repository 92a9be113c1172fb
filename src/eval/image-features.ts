// Embedding a list of image files with a vision–language model: the image loader decodes and
// preprocesses (the model's own evaluation transform) in worker threads while the model runs.
// Unreadable images are left out and listed; `indices` says which input each feature row is.
import type { VisionLanguageModel } from '../embed/types.ts';
import { ImageLoader, type ImageSource, type UnreadableImage } from '../data/image-loader.ts';
import { createProgress } from '../util/progress.ts';
import { normaliseRows } from './class-embeddings.ts';

export interface ImageFeatures {
  /** [indices.length, dim], unit rows. */
  features: Float32Array;
  dim: number;
  /** Input index of each feature row, ascending. */
  indices: number[];
  unreadable: UnreadableImage[];
}

export interface EmbedImagesOptions {
  batchSize?: number;
  /** Loader worker threads (default: the loader's). */
  workers?: number;
  /** Progress line label (default "images"); progress shows only on a terminal. */
  label?: string;
  progress?: boolean;
  onUnreadable?: (u: UnreadableImage) => void;
}

export async function embedImageFiles(
  model: Pick<VisionLanguageModel, 'embedImages' | 'embedDim' | 'preprocess'>,
  source: ImageSource | readonly string[],
  opts: EmbedImagesOptions = {},
): Promise<ImageFeatures> {
  const dim = model.embedDim;
  const loader = new ImageLoader(source, {
    preprocess: model.preprocess,
    batchSize: opts.batchSize ?? 32,
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.onUnreadable ? { onUnreadable: opts.onUnreadable } : {}),
  });
  const progress = createProgress({
    label: opts.label ?? 'images',
    total: loader.size,
    ...(opts.progress !== undefined ? { enabled: opts.progress } : {}),
  });
  const features = new Float32Array(loader.size * dim);
  const indices: number[] = [];
  try {
    for await (const batch of loader.batches()) {
      const out = await model.embedImages(batch.pixels, batch.count);
      if (out.length !== batch.count * dim)
        throw new Error(
          `the model returned ${out.length} values for ${batch.count} images of dimension ${dim}`,
        );
      features.set(out, indices.length * dim);
      indices.push(...batch.indices);
      progress.increment(batch.requested);
    }
  } finally {
    progress.stop();
    await loader.close();
  }
  return {
    features: normaliseRows(features.slice(0, indices.length * dim), dim),
    dim,
    indices,
    unreadable: loader.unreadable,
  };
}
