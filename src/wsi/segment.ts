// CLAM-style tissue segmentation (Lu et al. 2021, wsi_core/WholeSlideImage.segmentTissue) of a
// low-resolution view of the slide: HSV saturation → median blur → threshold (fixed or Otsu) →
// morphological closing → contours with holes → area filter. The defaults are CLAM's
// (create_patches_fp.py): saturation threshold 8, median 7, closing 4, a_t 100, a_h 16, at most 8
// holes, areas in 512×512 level-0 reference patches. Where kep departs from CLAM it says so here:
// - the view: CLAM segments the pyramid level nearest 64× as stored; kep area-averages to exactly
//   64× (the same physical scale on every slide), keeping at least `minSide` pixels on the longer
//   side so that small slides and plain images are not reduced to a few dozen pixels (`level`
//   segments a stored level as CLAM does);
// - the area cap: CLAM's thresholds assume whole slides; on a crop or a small image 100 reference
//   patches can exceed the image itself and every region would be dropped. Both area thresholds
//   are scaled down together so that the tissue threshold is at most `areaCap` of the slide area
//   (default 1 %), and the result records that it happened;
// - areas are those of d3-contour's polygons (boundaries between pixel centres, ≈ pixel counts),
//   where cv2.contourArea measures polygons through the boundary pixels' centres (smaller by about
//   half a pixel per boundary pixel).
import type { RgbImage } from '../data/image.ts';
import type { Progress } from '../util/progress.ts';
import {
  filterPolygons,
  type MaskPolygon,
  maskPolygons,
  polygonArea,
  rasterisePolygons,
} from './contours.ts';
import { downsampledSize, readDownsampled } from './downsample.ts';
import { binarise, medianBlur, morphClose, otsuThreshold, saturation } from './mask-ops.ts';
import { SlideError } from './slide-error.ts';
import type { Slide } from './slide.ts';

export interface SegmentOptions {
  /** Downsample of the segmentation view relative to level 0 (CLAM: the level nearest 64×). */
  downsample?: number;
  /** The view's longer side is at least this many pixels (small slides, plain images). */
  minSide?: number;
  /** Segment this stored level as it is (CLAM's seg_level); overrides downsample and minSide. */
  level?: number;
  /** Saturation above this is tissue (CLAM's sthresh, 0–255). */
  saturationThreshold?: number;
  /** Otsu's threshold on the blurred saturation instead of saturationThreshold (CLAM's use_otsu). */
  otsu?: boolean;
  /** Median blur kernel, odd (CLAM's mthresh). */
  medianKernel?: number;
  /** Closing kernel side, 0 for none (CLAM's close). */
  closeKernel?: number;
  /** Tissue regions need more than this area, in reference patches (CLAM's a_t). */
  minTissueArea?: number;
  /** Holes need more than this area, in reference patches (CLAM's a_h). */
  minHoleArea?: number;
  /** Largest holes kept per region (CLAM's max_n_holes). */
  maxHoles?: number;
  /** Side of a reference patch in level-0 pixels (CLAM's ref_patch_size). */
  referencePatchSize?: number;
  /** Cap on the tissue-area threshold as a fraction of the slide area; null for CLAM's thresholds as they are. */
  areaCap?: number | null;
  /** Throw a 'no-tissue' SlideError when nothing survives (default true). */
  requireTissue?: boolean;
}

export const SEGMENT_DEFAULTS = {
  downsample: 64,
  minSide: 1024,
  saturationThreshold: 8,
  otsu: false,
  medianKernel: 7,
  closeKernel: 4,
  minTissueArea: 100,
  minHoleArea: 16,
  maxHoles: 8,
  referencePatchSize: 512,
  areaCap: 0.01 as number | null,
  requireTissue: true,
} as const;

export interface AreaThresholds {
  /** Mask pixels² per reference patch: int(ref² / (scaleX·scaleY)), as CLAM computes it. */
  referencePatchArea: number;
  /** Effective thresholds in mask pixels². */
  minTissueArea: number;
  minHoleArea: number;
  /** True when the area cap lowered them. */
  capped: boolean;
}

export interface SegmentationStats {
  /** Fraction of the view above the threshold after blur and closing, before the area filter. */
  rawTissueFraction: number;
  /** Fraction of the view inside the kept contours (holes excluded). */
  tissueFraction: number;
  /** Tissue area in level-0 pixels² and, when the pixel size is known, in mm². */
  tissueAreaPx: number;
  tissueAreaMm2: number | undefined;
  regionsFound: number;
  regionsKept: number;
  holesKept: number;
}

export interface TissueSegmentation {
  /** Mask size (the segmentation view). */
  width: number;
  height: number;
  /** Level-0 pixels per mask pixel. */
  scaleX: number;
  scaleY: number;
  /** Pyramid level the view was read from. */
  level: number;
  /** The RGB view that was segmented (overviews of the same size reuse it instead of reading again). */
  image: RgbImage;
  /** Saturation threshold used (Otsu's when otsu was asked for). */
  threshold: number;
  /** 0/1 per mask pixel: inside a kept contour and not in a kept hole. */
  mask: Uint8Array;
  /** Kept contours with their kept holes, in mask pixel coordinates. */
  polygons: MaskPolygon[];
  options: Required<Omit<SegmentOptions, 'level'>> & { level: number | undefined };
  areas: AreaThresholds;
  stats: SegmentationStats;
  warnings: string[];
}

export type ResolvedSegmentOptions = TissueSegmentation['options'];

export function resolveSegmentOptions(options: SegmentOptions = {}): ResolvedSegmentOptions {
  const o = { ...SEGMENT_DEFAULTS, level: undefined, ...options };
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`segmentation option ${what}`);
  };
  check(o.downsample >= 1, `downsample must be ≥ 1, got ${o.downsample}`);
  check(
    Number.isInteger(o.minSide) && o.minSide >= 1,
    `minSide must be a positive integer, got ${o.minSide}`,
  );
  check(
    Number.isInteger(o.saturationThreshold) && o.saturationThreshold >= 0 && o.saturationThreshold <= 255,
    `saturationThreshold must be an integer 0–255, got ${o.saturationThreshold}`,
  );
  check(
    Number.isInteger(o.medianKernel) && o.medianKernel % 2 === 1,
    `medianKernel must be odd, got ${o.medianKernel}`,
  );
  check(
    Number.isInteger(o.closeKernel) && o.closeKernel >= 0,
    `closeKernel must be ≥ 0, got ${o.closeKernel}`,
  );
  check(o.minTissueArea >= 0 && o.minHoleArea >= 0, 'areas must be ≥ 0');
  check(
    Number.isInteger(o.maxHoles) && o.maxHoles >= 0,
    `maxHoles must be a whole number, got ${o.maxHoles}`,
  );
  check(o.referencePatchSize > 0, 'referencePatchSize must be positive');
  check(
    o.areaCap === null || (o.areaCap > 0 && o.areaCap <= 1),
    `areaCap must be in (0, 1] or null, got ${o.areaCap}`,
  );
  return o;
}

/** The area thresholds in mask pixels² for a view at (scaleX, scaleY) of a slide `viewPixels` big. */
export function areaThresholds(
  o: ResolvedSegmentOptions,
  scaleX: number,
  scaleY: number,
  viewPixels: number,
): AreaThresholds {
  const referencePatchArea = Math.trunc(o.referencePatchSize ** 2 / (scaleX * scaleY));
  let minTissueArea = o.minTissueArea * referencePatchArea;
  let minHoleArea = o.minHoleArea * referencePatchArea;
  let capped = false;
  if (o.areaCap !== null && minTissueArea > o.areaCap * viewPixels) {
    const f = (o.areaCap * viewPixels) / minTissueArea;
    minTissueArea *= f;
    minHoleArea *= f;
    capped = true;
  }
  return { referencePatchArea, minTissueArea, minHoleArea, capped };
}

/** The segmentation view size for a slide: exactly `downsample`, unless that leaves fewer than minSide pixels. */
export function segmentationDownsample(
  slide: Pick<Slide, 'width' | 'height'>,
  o: ResolvedSegmentOptions,
): number {
  return Math.max(1, Math.min(o.downsample, Math.max(slide.width, slide.height) / o.minSide));
}

/** Segments a slide: reads the low-resolution view (reporting its rows to `progress`), then segmentImage. */
export async function segmentTissue(
  slide: Slide,
  options: SegmentOptions = {},
  progress?: Progress,
): Promise<TissueSegmentation> {
  const o = resolveSegmentOptions(options);
  let image: RgbImage;
  let level: number;
  if (o.level !== undefined) {
    if (!Number.isInteger(o.level) || o.level < 0 || o.level >= slide.levels.length)
      throw new SlideError(
        slide.path,
        'bad-request',
        `segmentation level ${o.level} out of range (${slide.levels.length} levels)`,
      );
    const l = slide.levels[o.level]!;
    const view = await readDownsampled(slide, l.width, l.height, { progress });
    image = view.image;
    level = o.level;
  } else {
    const [w, h] = downsampledSize(slide, segmentationDownsample(slide, o));
    const view = await readDownsampled(slide, w, h, { progress });
    image = view.image;
    level = view.level;
  }
  const seg = segmentImage(image, slide.width, slide.height, o);
  seg.level = level;
  const mm2PerPx = slide.mpp === undefined ? undefined : (slide.mpp.x * slide.mpp.y) / 1e6;
  seg.stats.tissueAreaMm2 = mm2PerPx === undefined ? undefined : seg.stats.tissueAreaPx * mm2PerPx;
  if (o.requireTissue && seg.polygons.length === 0)
    throw new SlideError(slide.path, 'no-tissue', noTissueReason(seg));
  return seg;
}

function noTissueReason(seg: TissueSegmentation): string {
  const pct = (seg.stats.rawTissueFraction * 100).toFixed(2);
  const base = `no tissue found: ${pct}% of the ${seg.width}×${seg.height} view has saturation above ${seg.threshold}`;
  if (seg.stats.regionsFound === 0) return `${base}, so there are no tissue regions`;
  return (
    `${base}, and none of its ${seg.stats.regionsFound} regions is larger than ` +
    `${(seg.areas.minTissueArea / Math.max(1, seg.areas.referencePatchArea)).toFixed(2)} reference patches ` +
    `(${Math.round(seg.areas.minTissueArea)} view pixels²)`
  );
}

/**
 * The raster pipeline on an RGB view of a slide whose level 0 is slideWidth×slideHeight. Never
 * throws for lack of tissue (segmentTissue does); `level` is left 0 for the caller to set.
 */
export function segmentImage(
  image: RgbImage,
  slideWidth: number,
  slideHeight: number,
  options: SegmentOptions = {},
): TissueSegmentation {
  const o = resolveSegmentOptions(options);
  const { width, height } = image;
  const n = width * height;
  const sat = saturation(image.data, n);
  const blurred = medianBlur(sat, width, height, o.medianKernel);
  const threshold = o.otsu ? otsuThreshold(blurred) : o.saturationThreshold;
  const closed = morphClose(binarise(blurred, threshold), width, height, o.closeKernel);
  const scaleX = slideWidth / width;
  const scaleY = slideHeight / height;
  const areas = areaThresholds(o, scaleX, scaleY, n);
  const found = maskPolygons(closed, width, height);
  const polygons = filterPolygons(found, { ...areas, maxHoles: o.maxHoles });
  const mask = rasterisePolygons(polygons, width, height);
  let raw = 0;
  for (let i = 0; i < n; i++) raw += closed[i]!;
  let tissue = 0;
  for (let i = 0; i < n; i++) tissue += mask[i]!;
  const warnings: string[] = [];
  if (areas.capped)
    warnings.push(
      `the slide is small for CLAM's area thresholds (${o.minTissueArea} and ${o.minHoleArea} reference patches of ` +
        `${o.referencePatchSize}² px): both were lowered to keep the tissue threshold at ${((o.areaCap ?? 1) * 100).toFixed(1)}% of the slide`,
    );
  return {
    width,
    height,
    scaleX,
    scaleY,
    level: 0,
    image,
    threshold,
    mask,
    polygons,
    options: o,
    areas,
    stats: {
      rawTissueFraction: raw / n,
      tissueFraction: tissue / n,
      tissueAreaPx: polygons.reduce((s, p) => s + polygonArea(p), 0) * scaleX * scaleY,
      tissueAreaMm2: undefined,
      regionsFound: found.length,
      regionsKept: polygons.length,
      holesKept: polygons.reduce((s, p) => s + p.holes.length, 0),
    },
    warnings,
  };
}

/** What segmentation.json holds: the view, the settings, the thresholds, the figures, the warnings. */
export function segmentationSummary(slide: Slide, seg: TissueSegmentation): Record<string, unknown> {
  return {
    slide: slide.path,
    level0: { width: slide.width, height: slide.height, mpp: slide.mpp ?? null },
    view: { width: seg.width, height: seg.height, level: seg.level, scaleX: seg.scaleX, scaleY: seg.scaleY },
    threshold: seg.threshold,
    options: { ...seg.options, level: seg.options.level ?? null },
    areas: seg.areas,
    stats: { ...seg.stats, tissueAreaMm2: seg.stats.tissueAreaMm2 ?? null },
    warnings: seg.warnings,
  };
}
