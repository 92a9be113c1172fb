// Patch: the grid of patches with enough tissue at the target magnification, drawn on overview.png.
// A slide with no such patch fails here ('no-tissue'), after its overview shows why.
import { join } from 'node:path';
import { OVERVIEW_SIDE, writeOverview } from '../wsi/overview.ts';
import { type PatchGrid, type PatchGridOptions, patchGrid } from '../wsi/patch-grid.ts';
import type { TissueSegmentation } from '../wsi/segment.ts';
import { SlideError, type Slide } from '../wsi/slide.ts';

export async function patchSlide(
  slide: Slide,
  seg: TissueSegmentation,
  dir: string,
  o: { patch: PatchGridOptions; overviewSize?: number; slidePath: string },
): Promise<PatchGrid> {
  const grid = patchGrid(slide, seg, o.patch);
  await writeOverview(join(dir, 'overview.png'), slide, seg, {
    grid,
    maxSide: o.overviewSize ?? OVERVIEW_SIDE,
  });
  if (grid.count === 0)
    throw new SlideError(
      o.slidePath,
      'no-tissue',
      `no ${grid.patchSize}-px patch at ${grid.magnification}× has ≥ ${grid.minTissue * 100}% tissue`,
    );
  return grid;
}
