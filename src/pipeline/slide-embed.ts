// Embed: every patch of the grid through the image tower, streamed into features.h5 (coords and
// features, with the patch geometry and the model as attributes). A failure leaves no features.h5.
import { join } from 'node:path';
import type { VisionLanguageModel } from '../embed/types.ts';
import type { Progress } from '../util/progress.ts';
import { embedSlidePatches } from '../wsi/embed-patches.ts';
import { FeaturesWriter } from '../wsi/features-h5.ts';
import type { PatchReaderPool } from '../wsi/patch-reader.ts';
import type { PatchGrid } from '../wsi/patch-grid.ts';

export interface EmbedSlideOptions {
  slideId: string;
  slidePath: string;
  dir: string;
  grid: PatchGrid;
  model: VisionLanguageModel;
  batchSize: number;
  /** Patch reader threads, shared by the slides of a run (they start once, not per slide). */
  pool: PatchReaderPool;
  /** Counts patches. */
  progress?: Progress;
}

export async function embedSlide(o: EmbedSlideOptions): Promise<void> {
  const { grid, model } = o;
  const writer = await FeaturesWriter.create(join(o.dir, 'features.h5'), model.embedDim, {
    slide: o.slideId,
    model: model.name,
    untrained: model.untrained,
    precision: model.precision ?? 'fp32',
    patchSize: grid.patchSize,
    patchSizeLevel0: grid.patchSizeLevel0,
    patchLevel: grid.readLevel,
    targetMagnification: grid.magnification,
    level0Magnification: grid.level0.magnification,
  });
  try {
    await embedSlidePatches({
      slidePath: o.slidePath,
      coords: grid.coords,
      level: grid.readLevel,
      readSize: grid.readSize,
      patchSize: grid.patchSize,
      embedder: model,
      sink: (c, f) => writer.append(c, f),
      batchSize: o.batchSize,
      pool: o.pool,
      ...(o.progress ? { progress: o.progress } : {}),
    });
    writer.close();
  } catch (err) {
    writer.abort();
    throw err;
  }
}
