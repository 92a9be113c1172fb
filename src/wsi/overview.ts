// The overview image of a segmented (and patched) slide: its thumbnail with the tissue contours
// outlined (green, holes blue) and the kept patches drawn as squares (yellow). The drawing is an SVG
// overlay composited by sharp (librsvg), written as a palette PNG atomically.
import sharp from 'sharp';
import { writeFileAtomic } from '../util/atomic.ts';
import type { Ring } from './contours.ts';
import { downsampledSize, thumbnail } from './downsample.ts';
import type { PatchGrid } from './patch-grid.ts';
import type { TissueSegmentation } from './segment.ts';
import type { Slide } from './slide.ts';

/** Default longer side of an overview image. */
export const OVERVIEW_SIDE = 1024;

export interface OverviewOptions {
  /** Longer side of the image in pixels (never more than the slide's). */
  maxSide?: number;
  /** Patches to draw. */
  grid?: PatchGrid;
}

function ringPath(ring: Ring, fx: number, fy: number): string {
  const pts = ring.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${(x * fx).toFixed(1)} ${(y * fy).toFixed(1)}`);
  return `${pts.join('')}Z`;
}

/** The overview as PNG bytes. */
export async function renderOverview(
  slide: Slide,
  seg: TissueSegmentation,
  options: OverviewOptions = {},
): Promise<Buffer> {
  const maxSide = options.maxSide ?? OVERVIEW_SIDE;
  const [tw, th] = downsampledSize(slide, Math.max(1, Math.max(slide.width, slide.height) / maxSide));
  // The segmentation view is often exactly the overview's size (1024 px on the longer side): reuse it.
  const view =
    seg.image.width === tw && seg.image.height === th
      ? { image: seg.image, scaleX: seg.scaleX, scaleY: seg.scaleY }
      : await thumbnail(slide, maxSide);
  const { width, height } = view.image;
  // Mask pixels → thumbnail pixels, through level 0.
  const fx = seg.scaleX / view.scaleX;
  const fy = seg.scaleY / view.scaleY;
  const line = Math.max(1, Math.round(Math.max(width, height) / 600));
  const parts: string[] = [];
  if (options.grid !== undefined && options.grid.count > 0) {
    const g = options.grid;
    const sx = 1 / view.scaleX;
    const sy = 1 / view.scaleY;
    const w = (g.patchSizeLevel0 * sx).toFixed(2);
    const h = (g.patchSizeLevel0 * sy).toFixed(2);
    const d: string[] = [];
    for (let i = 0; i < g.count; i++)
      d.push(
        `M${(g.coords[2 * i]! * sx).toFixed(1)} ${(g.coords[2 * i + 1]! * sy).toFixed(1)}h${w}v${h}h-${w}Z`,
      );
    parts.push(
      `<path d="${d.join('')}" fill="rgb(255,214,0)" fill-opacity="0.18" stroke="rgb(255,190,0)" ` +
        `stroke-opacity="0.8" stroke-width="${Math.max(0.5, line / 2)}"/>`,
    );
  }
  for (const p of seg.polygons) {
    parts.push(
      `<path d="${ringPath(p.outer, fx, fy)}" fill="none" stroke="rgb(0,170,0)" stroke-width="${line}"/>`,
    );
    for (const hole of p.holes)
      parts.push(
        `<path d="${ringPath(hole, fx, fy)}" fill="none" stroke="rgb(0,90,255)" stroke-width="${line}"/>`,
      );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
  return (
    sharp(view.image.data, { raw: { width, height, channels: 3 } })
      .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
      // A 256-colour palette (libimagequant, dithered): a third of the bytes of a true-colour PNG,
      // which matters over thousands of slides, and nothing a contour check needs is lost.
      .png({ palette: true })
      .toBuffer()
  );
}

/** Renders the overview and writes it to `path` atomically. */
export async function writeOverview(
  path: string,
  slide: Slide,
  seg: TissueSegmentation,
  options: OverviewOptions = {},
): Promise<void> {
  writeFileAtomic(path, await renderOverview(slide, seg, options));
}
