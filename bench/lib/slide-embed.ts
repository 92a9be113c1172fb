// Read + embed throughput of one model on a slide's patches: reader workers feeding ONNX Runtime,
// as `kep wsi run` does (src/wsi/embed-patches.ts). Shared by bench:wsi and bench:int8.
import { createModel } from '../../src/embed/model.ts';
import type { ModelSource } from '../../src/embed/types.ts';
import { embedSlidePatches, type EmbedStats } from '../../src/wsi/embed-patches.ts';
import { openSlide } from '../../src/wsi/open-slide.ts';
import { PatchReaderPool } from '../../src/wsi/patch-reader.ts';

export const PATCH = 256;

/** Top-left corners of the PATCH-px grid at level 0, x,y interleaved. */
export async function patchGrid(path: string): Promise<Int32Array> {
  const slide = await openSlide(path);
  const xy: number[] = [];
  for (let y = 0; y + PATCH <= slide.height; y += PATCH)
    for (let x = 0; x + PATCH <= slide.width; x += PATCH) xy.push(x, y);
  slide.close();
  return Int32Array.from(xy);
}

export interface ReadEmbedRun {
  source: ModelSource;
  slide: string;
  coords: Int32Array;
  /** Another slide and patches to start the workers on (start-up is not throughput). */
  warm: { slide: string; coords: Int32Array };
  workers: number;
  batchSize: number;
}

/** Session creation and a first batch untimed, then every patch of `coords` read and embedded. */
export async function readEmbed(r: ReadEmbedRun): Promise<EmbedStats> {
  const model = await createModel(r.source);
  await model.embedImages(new Float32Array(3 * model.preprocess.size ** 2), 1);
  const pool = new PatchReaderPool(r.workers);
  const spec = { level: 0, readSize: PATCH, patchSize: PATCH, preprocess: model.preprocess };
  for await (const _ of pool.batches(r.warm.slide, r.warm.coords, spec, { batchSize: 1 })) void _;
  try {
    return await embedSlidePatches({
      slidePath: r.slide,
      coords: r.coords,
      level: 0,
      readSize: PATCH,
      patchSize: PATCH,
      embedder: model,
      sink: () => {},
      batchSize: r.batchSize,
      pool,
    });
  } finally {
    await pool.close();
    await model.release();
  }
}
