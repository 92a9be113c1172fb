// The patch grid: square patches of `patchSize` pixels at a target magnification (default 256 px at
// 20×, CLAM's and MI-Zero's setting), laid on a regular grid anchored at the slide's top-left
// corner, kept when enough of the patch is tissue.
//
// Magnification of level 0, in order of preference: an explicit µm/px (`mpp`), the slide's
// openslide.mpp-x/y (10 / mpp, snapped to the nearest standard objective when within 10 %, as
// scanners state 0.2527 or 0.499 µm/px for nominal 40× and 20×), its openslide.objective-power, and
// last `assumeMagnification` (default 20×) with a warning in the grid: slides that state neither,
// such as the TCGA crop in ../shared/data/wsi, are never patched at a guessed scale silently.
//
// Each patch is read as `readSize` pixels at `readLevel`, the pyramid level with the largest
// downsample not above the wanted one, and resized to `patchSize` when the two differ (e.g. 512 px
// at level 0 of a 40× slide without a 20× level).
//
// Keeping a patch: CLAM tests whether any of four points around the patch centre lies inside a
// tissue contour (and its centre outside the holes). kep measures the fraction of the patch's area
// inside the tissue mask (kept contours minus kept holes, exactly, with fractional mask pixels) and
// keeps patches with at least `minTissue` of it (default 0.25): a single number that means the same
// on every slide and can be stored with each patch.
import { SlideError } from './slide-error.ts';
import type { Slide } from './slide.ts';
import type { TissueSegmentation } from './segment.ts';

export interface PatchGridOptions {
  /** Patch side in pixels at the target magnification. */
  patchSize?: number;
  /** Target magnification (objective power), e.g. 20 for 20× ≈ 0.5 µm/px. */
  magnification?: number;
  /** Level-0 microns per pixel, overriding what the slide states. */
  mpp?: number;
  /** Level-0 magnification assumed when the slide states neither µm/px nor objective power. */
  assumeMagnification?: number;
  /** Overlap between neighbouring patches, in pixels at the target magnification. */
  overlap?: number;
  /** Minimum tissue fraction of a patch's area (0–1). */
  minTissue?: number;
}

export const PATCH_DEFAULTS = {
  patchSize: 256,
  magnification: 20,
  assumeMagnification: 20,
  overlap: 0,
  minTissue: 0.25,
} as const;

export type MagnificationSource = 'mpp-option' | 'mpp' | 'objective-power' | 'assumed';

export interface Level0Magnification {
  magnification: number;
  source: MagnificationSource;
  /** Level-0 µm/px when known (stated or given). */
  mpp: number | undefined;
  warnings: string[];
}

export interface PatchGrid {
  /** Row-major [count, 2]: level-0 x, y of each kept patch's top-left corner. */
  coords: Int32Array;
  /** Tissue fraction of each kept patch. */
  tissue: Float32Array;
  count: number;
  patchSize: number;
  magnification: number;
  level0: Level0Magnification;
  /** Level-0 pixels per target pixel (level-0 magnification / target magnification). */
  downsample: number;
  /** Level-0 pixels a patch covers along each side, and between neighbouring patches. */
  patchSizeLevel0: number;
  stepLevel0: number;
  /** Where and how big to read: `readSize` pixels at `readLevel`, then resize to patchSize. */
  readLevel: number;
  readSize: number;
  /** Grid positions (kept or not) along x and y. */
  columns: number;
  rows: number;
  minTissue: number;
  warnings: string[];
}

/** Standard objective powers that stated pixel sizes are snapped to. */
const OBJECTIVES = [1.25, 2.5, 5, 10, 20, 40, 60, 80, 100];

export function level0Magnification(
  slide: Pick<Slide, 'path' | 'mpp' | 'objectivePower'>,
  options: Pick<PatchGridOptions, 'mpp' | 'assumeMagnification'> = {},
): Level0Magnification {
  const fromMpp = (mpp: number): number => {
    const exact = 10 / mpp;
    const nearest = OBJECTIVES.reduce((a, b) => (Math.abs(b - exact) < Math.abs(a - exact) ? b : a));
    return Math.abs(nearest - exact) <= 0.1 * nearest ? nearest : exact;
  };
  if (options.mpp !== undefined) {
    if (!(options.mpp > 0))
      throw new SlideError(slide.path, 'bad-request', `mpp must be positive, got ${options.mpp}`);
    return { magnification: fromMpp(options.mpp), source: 'mpp-option', mpp: options.mpp, warnings: [] };
  }
  if (slide.mpp !== undefined) {
    const mpp = Math.sqrt(slide.mpp.x * slide.mpp.y);
    return { magnification: fromMpp(mpp), source: 'mpp', mpp, warnings: [] };
  }
  if (slide.objectivePower !== undefined)
    return { magnification: slide.objectivePower, source: 'objective-power', mpp: undefined, warnings: [] };
  const assumed = options.assumeMagnification ?? PATCH_DEFAULTS.assumeMagnification;
  if (!(assumed > 0))
    throw new SlideError(slide.path, 'bad-request', `assumed magnification must be positive, got ${assumed}`);
  return {
    magnification: assumed,
    source: 'assumed',
    mpp: undefined,
    warnings: [
      `the slide states neither µm/px nor objective power: level 0 is assumed to be ${assumed}× ` +
        `(give the pixel size with --mpp, or the magnification with --assume-magnification)`,
    ],
  };
}

/** The level and region size that cover `sizeLevel0` level-0 pixels without upsampling (when possible). */
export function readPlan(
  slide: Pick<Slide, 'levels' | 'bestLevelForDownsample'>,
  downsample: number,
  patchSize: number,
): { readLevel: number; readSize: number } {
  // 0.1 % slack: stored downsamples are rarely exact (2.0005 for a halved odd size).
  const readLevel = slide.bestLevelForDownsample(downsample * 1.001);
  const readSize = Math.max(1, Math.round((patchSize * downsample) / slide.levels[readLevel]!.downsample));
  return { readLevel, readSize };
}

export function patchGrid(slide: Slide, seg: TissueSegmentation, options: PatchGridOptions = {}): PatchGrid {
  const o = { ...PATCH_DEFAULTS, ...options };
  const bad = (why: string): never => {
    throw new SlideError(slide.path, 'bad-request', why);
  };
  if (!Number.isInteger(o.patchSize) || o.patchSize < 1)
    bad(`patch size must be a positive integer, got ${o.patchSize}`);
  if (!(o.magnification > 0)) bad(`magnification must be positive, got ${o.magnification}`);
  if (!Number.isInteger(o.overlap) || o.overlap < 0 || o.overlap >= o.patchSize)
    bad(`overlap must be a whole number below the patch size, got ${o.overlap}`);
  if (!(o.minTissue >= 0 && o.minTissue <= 1)) bad(`minTissue must be in [0, 1], got ${o.minTissue}`);
  const level0 = level0Magnification(slide, o);
  const warnings = [...level0.warnings];
  const downsample = level0.magnification / o.magnification;
  if (downsample < 1)
    warnings.push(
      `the target ${o.magnification}× is above the slide's ${level0.magnification}×: patches are upsampled from level 0`,
    );
  const { readLevel, readSize } = readPlan(slide, downsample, o.patchSize);
  const patchSizeLevel0 = o.patchSize * downsample;
  const stepLevel0 = (o.patchSize - o.overlap) * downsample;
  const columns = Math.ceil(slide.width / stepLevel0);
  const rows = Math.ceil(slide.height / stepLevel0);
  const coverage = new MaskCoverage(seg);
  const xs: number[] = [];
  const tissue: number[] = [];
  for (let r = 0; r < rows; r++) {
    const y = Math.round(r * stepLevel0);
    for (let c = 0; c < columns; c++) {
      const x = Math.round(c * stepLevel0);
      const f = coverage.fraction(x, y, patchSizeLevel0, patchSizeLevel0);
      if (f > 0 && f >= o.minTissue) {
        xs.push(x, y);
        tissue.push(f);
      }
    }
  }
  return {
    coords: Int32Array.from(xs),
    tissue: Float32Array.from(tissue),
    count: tissue.length,
    patchSize: o.patchSize,
    magnification: o.magnification,
    level0,
    downsample,
    patchSizeLevel0,
    stepLevel0,
    readLevel,
    readSize,
    columns,
    rows,
    minTissue: o.minTissue,
    warnings,
  };
}

/**
 * Fraction of a level-0 rectangle inside the tissue mask. The mask is piecewise constant over its
 * pixels, so the integral over any rectangle is exact from a summed-area table interpolated
 * bilinearly; whatever lies outside the slide counts as background.
 */
export class MaskCoverage {
  private readonly sat: Float64Array;
  private readonly w: number;
  private readonly h: number;

  constructor(
    private readonly seg: Pick<TissueSegmentation, 'mask' | 'width' | 'height' | 'scaleX' | 'scaleY'>,
  ) {
    const { width: w, height: h, mask } = seg;
    this.w = w;
    this.h = h;
    const sat = new Float64Array((w + 1) * (h + 1));
    for (let y = 0; y < h; y++) {
      let row = 0;
      for (let x = 0; x < w; x++) {
        row += mask[y * w + x]!;
        sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1]! + row;
      }
    }
    this.sat = sat;
  }

  /** ∫∫ mask over [0, x] × [0, y] in mask pixel units, for real x, y clipped to the mask. */
  private integral(x: number, y: number): number {
    const { w, h, sat } = this;
    x = Math.min(Math.max(x, 0), w);
    y = Math.min(Math.max(y, 0), h);
    const x0 = Math.min(Math.floor(x), w - 1);
    const y0 = Math.min(Math.floor(y), h - 1);
    const fx = x - x0;
    const fy = y - y0;
    const at = (i: number, j: number): number => sat[j * (w + 1) + i]!;
    return (
      at(x0, y0) * (1 - fx) * (1 - fy) +
      at(x0 + 1, y0) * fx * (1 - fy) +
      at(x0, y0 + 1) * (1 - fx) * fy +
      at(x0 + 1, y0 + 1) * fx * fy
    );
  }

  /** Tissue fraction of the level-0 rectangle (x, y, width, height). */
  fraction(x: number, y: number, width: number, height: number): number {
    const { scaleX, scaleY } = this.seg;
    const x0 = x / scaleX;
    const y0 = y / scaleY;
    const x1 = (x + width) / scaleX;
    const y1 = (y + height) / scaleY;
    const inside =
      this.integral(x1, y1) - this.integral(x0, y1) - this.integral(x1, y0) + this.integral(x0, y0);
    return Math.min(1, Math.max(0, inside / ((x1 - x0) * (y1 - y0))));
  }
}

/** The grid as a JSON-ready object (coords as [x, y] pairs), for patches.json. */
export function patchGridJson(slide: Slide, grid: PatchGrid): Record<string, unknown> {
  const coords: [number, number][] = [];
  for (let i = 0; i < grid.count; i++) coords.push([grid.coords[2 * i]!, grid.coords[2 * i + 1]!]);
  return {
    slide: slide.path,
    level0: {
      width: slide.width,
      height: slide.height,
      magnification: grid.level0.magnification,
      source: grid.level0.source,
      mpp: grid.level0.mpp ?? null,
    },
    patchSize: grid.patchSize,
    magnification: grid.magnification,
    downsample: grid.downsample,
    patchSizeLevel0: grid.patchSizeLevel0,
    stepLevel0: grid.stepLevel0,
    readLevel: grid.readLevel,
    readSize: grid.readSize,
    minTissue: grid.minTissue,
    columns: grid.columns,
    rows: grid.rows,
    count: grid.count,
    warnings: grid.warnings,
    coords,
    tissue: Array.from(grid.tissue, (f) => Math.round(f * 1e4) / 1e4),
  };
}
