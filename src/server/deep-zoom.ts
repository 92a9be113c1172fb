// Deep Zoom tiles of a slide, laid out exactly as OpenSlide's DeepZoomGenerator (openslide-python,
// limit_bounds off) lays them out, so a viewer built for OpenSlide's deepzoom server reads them: level
// 0 is one pixel, each level doubles up to the slide's full size; tiles are TILE_SIZE square plus
// OVERLAP pixels shared with each neighbour. Every tile is read from the pyramid level closest below
// the wanted downsample (bestLevelForDownsample) and resized with Lanczos, as the generator does.
import sharp from 'sharp';
import type { Slide } from '../wsi/slide.ts';

export const TILE_SIZE = 254;
export const OVERLAP = 1;
/** OpenSlide's deepzoom server's default JPEG quality. */
export const JPEG_QUALITY = 75;

export interface DeepZoomLayout {
  width: number;
  height: number;
  /** [width, height] per Deep Zoom level, level 0 (1×1) first. */
  levels: [number, number][];
  /** [columns, rows] of tiles per level. */
  tiles: [number, number][];
}

export function deepZoomLayout(width: number, height: number): DeepZoomLayout {
  const levels: [number, number][] = [[width, height]];
  let [w, h] = [width, height];
  while (w > 1 || h > 1) {
    w = Math.max(1, Math.ceil(w / 2));
    h = Math.max(1, Math.ceil(h / 2));
    levels.push([w, h]);
  }
  levels.reverse();
  const tiles = levels.map(([lw, lh]): [number, number] => [
    Math.ceil(lw / TILE_SIZE),
    Math.ceil(lh / TILE_SIZE),
  ]);
  return { width, height, levels, tiles };
}

/** The DZI descriptor (Microsoft's Deep Zoom schema, as openslide-python's get_dzi writes it). */
export function dziXml(layout: DeepZoomLayout): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpeg" Overlap="${OVERLAP}" TileSize="${TILE_SIZE}">` +
    `<Size Height="${layout.height}" Width="${layout.width}"/></Image>\n`
  );
}

export interface TileRegion {
  /** Pyramid level read. */
  level: number;
  /** Level-0 top-left corner. */
  x: number;
  y: number;
  /** Size read at `level`. */
  readWidth: number;
  readHeight: number;
  /** Size of the tile delivered. */
  width: number;
  height: number;
}

/** Where a tile comes from (DeepZoomGenerator._get_tile_info); undefined for a tile that does not exist. */
export function tileRegion(
  slide: Pick<Slide, 'levels' | 'bestLevelForDownsample'>,
  layout: DeepZoomLayout,
  dzLevel: number,
  col: number,
  row: number,
): TileRegion | undefined {
  const dims = layout.levels[dzLevel];
  const grid = layout.tiles[dzLevel];
  if (!dims || !grid || col < 0 || row < 0 || col >= grid[0] || row >= grid[1]) return undefined;
  const downsample = 2 ** (layout.levels.length - dzLevel - 1);
  const level = slide.bestLevelForDownsample(downsample);
  const l = slide.levels[level]!;
  const lz = downsample / l.downsample;
  const axis = (t: number, count: number, size: number, levelSize: number) => {
    const before = t === 0 ? 0 : OVERLAP;
    const after = t === count - 1 ? 0 : OVERLAP;
    const zSize = Math.min(TILE_SIZE, size - TILE_SIZE * t) + before + after;
    const zAt = TILE_SIZE * t - before;
    const lAt = lz * zAt;
    const lSize = Math.min(Math.ceil(lz * zSize), levelSize - Math.ceil(lAt));
    return { zSize, l0At: Math.trunc(lAt * l.downsample), lSize: Math.max(1, lSize) };
  };
  const xs = axis(col, grid[0], dims[0], l.width);
  const ys = axis(row, grid[1], dims[1], l.height);
  return {
    level,
    x: xs.l0At,
    y: ys.l0At,
    readWidth: xs.lSize,
    readHeight: ys.lSize,
    width: xs.zSize,
    height: ys.zSize,
  };
}

/** One tile as JPEG; transparent (unscanned) pixels become white, as the deepzoom server shows them. */
export async function renderTile(slide: Slide, region: TileRegion): Promise<Buffer> {
  const rgba = await slide.readRegion(region.x, region.y, region.level, region.readWidth, region.readHeight);
  let img = sharp(rgba.data, { raw: { width: rgba.width, height: rgba.height, channels: 4 } }).flatten({
    background: '#ffffff',
  });
  if (region.readWidth !== region.width || region.readHeight !== region.height)
    img = img.resize(region.width, region.height, { fit: 'fill', kernel: 'lanczos3' });
  return img.jpeg({ quality: JPEG_QUALITY }).toBuffer();
}
