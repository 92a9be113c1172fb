// `kep wsi info|segment|patch`: read a whole-slide image, segment its tissue (CLAM-style), lay the
// patch grid. The batch command (`kep wsi run`) is in wsi-run.ts. docs/wsi.md.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { createProgress } from '../util/progress.ts';
import { OVERVIEW_SIDE, writeOverview } from '../wsi/overview.ts';
import { PATCH_DEFAULTS, patchGrid, patchGridJson, type PatchGridOptions } from '../wsi/patch-grid.ts';
import { SEGMENT_DEFAULTS, type SegmentOptions, segmentationSummary, segmentTissue } from '../wsi/segment.ts';
import { openSlide } from '../wsi/open-slide.ts';
import { NOTE_PROPERTY, type Slide } from '../wsi/slide.ts';
import { writeTissueGeoJson } from '../wsi/tissue-geojson.ts';
import { commandGroup } from './groups.ts';
import { numberArg, positive, positiveInt, wholeNumber } from './arguments.ts';

export interface WsiCliDeps {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Progress bars (default: when stderr is a terminal). */
  progress?: boolean;
}

const defaults: WsiCliDeps = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const oddInt = numberArg((n) => Number.isInteger(n) && n > 0 && n % 2 === 1, 'an odd positive integer');
const byte = numberArg((n) => Number.isInteger(n) && n >= 0 && n <= 255, 'an integer 0–255');
const fraction = numberArg((n) => n >= 0 && n <= 1, 'a number in [0, 1]');
// Commander turns a parser's null into '': 'none' stays a string until segmentOptionsFrom.
const capOrNone = (v: string): string => {
  if (v !== 'none') numberArg((n) => n > 0 && n <= 1, "a number in (0, 1] or 'none'")(v);
  return v;
};

interface SegmentFlags {
  downsample: number;
  minSide: number;
  segLevel?: number;
  sthresh: number;
  otsu: boolean;
  median: number;
  close: number;
  minTissueArea: number;
  minHoleArea: number;
  maxHoles: number;
  areaCap: string;
}

/** The segmentation flags (CLAM's names in the help), shared by segment, patch and run. */
export function addSegmentOptions(cmd: Command): Command {
  const d = SEGMENT_DEFAULTS;
  return cmd
    .option('--downsample <n>', 'segmentation view: level-0 pixels per view pixel', positive, d.downsample)
    .option('--min-side <px>', "the view's longer side at least this (small slides)", positiveInt, d.minSide)
    .option('--seg-level <n>', "segment a stored pyramid level as it is (CLAM's seg_level)", wholeNumber)
    .option('--sthresh <n>', "saturation threshold, 0–255 (CLAM's sthresh)", byte, d.saturationThreshold)
    .option('--otsu', "Otsu's threshold instead of --sthresh (CLAM's use_otsu)", d.otsu)
    .option('--median <k>', "median blur kernel, odd (CLAM's mthresh)", oddInt, d.medianKernel)
    .option('--close <k>', "closing kernel, 0 for none (CLAM's close)", wholeNumber, d.closeKernel)
    .option(
      '--min-tissue-area <n>',
      "tissue regions above this many 512² reference patches (CLAM's a_t)",
      positiveOrZero(),
      d.minTissueArea,
    )
    .option(
      '--min-hole-area <n>',
      "holes above this many reference patches (CLAM's a_h)",
      positiveOrZero(),
      d.minHoleArea,
    )
    .option('--max-holes <n>', "largest holes kept per region (CLAM's max_n_holes)", wholeNumber, d.maxHoles)
    .option(
      '--area-cap <f>',
      "cap the tissue-area threshold at this fraction of the slide ('none': CLAM's thresholds as they are)",
      capOrNone,
      String(d.areaCap ?? 'none'),
    );
}

function positiveOrZero(): (v: string) => number {
  return numberArg((n) => n >= 0, 'a number ≥ 0');
}

export function segmentOptionsFrom(o: SegmentFlags): SegmentOptions {
  return {
    downsample: o.downsample,
    minSide: o.minSide,
    level: o.segLevel,
    saturationThreshold: o.sthresh,
    otsu: o.otsu,
    medianKernel: o.median,
    closeKernel: o.close,
    minTissueArea: o.minTissueArea,
    minHoleArea: o.minHoleArea,
    maxHoles: o.maxHoles,
    areaCap: o.areaCap === 'none' ? null : Number(o.areaCap),
  };
}

interface PatchFlags {
  patchSize: number;
  magnification: number;
  mpp?: number;
  assumeMagnification: number;
  overlap: number;
  minTissue: number;
}

/** The patching flags, shared by patch and run. */
export function addPatchOptions(cmd: Command): Command {
  const d = PATCH_DEFAULTS;
  return cmd
    .option('--patch-size <px>', 'patch side at the target magnification', positiveInt, d.patchSize)
    .option('--magnification <x>', 'target magnification (20 ≈ 0.5 µm/px)', positive, d.magnification)
    .option('--mpp <um>', 'level-0 µm per pixel, overriding the slide’s', positive)
    .option(
      '--assume-magnification <x>',
      'level-0 magnification for slides that state neither µm/px nor objective power (warned)',
      positive,
      d.assumeMagnification,
    )
    .option(
      '--overlap <px>',
      'overlap of neighbouring patches at the target magnification',
      wholeNumber,
      d.overlap,
    )
    .option('--min-tissue <f>', 'keep patches with at least this tissue fraction', fraction, d.minTissue);
}

export function patchOptionsFrom(o: PatchFlags): PatchGridOptions {
  return {
    patchSize: o.patchSize,
    magnification: o.magnification,
    mpp: o.mpp,
    assumeMagnification: o.assumeMagnification,
    overlap: o.overlap,
    minTissue: o.minTissue,
  };
}

async function withSlide<T>(path: string, run: (slide: Slide) => Promise<T>): Promise<T> {
  const slide = await openSlide(path);
  try {
    return await run(slide);
  } finally {
    slide.close();
  }
}

export function slideInfo(slide: Slide): Record<string, unknown> {
  return {
    path: slide.path,
    reader: slide.reader,
    vendor: slide.vendor,
    width: slide.width,
    height: slide.height,
    levels: slide.levels,
    mpp: slide.mpp ?? null,
    objectivePower: slide.objectivePower ?? null,
    associatedImages: slide.associatedImages,
    properties: slide.properties,
  };
}

function formatInfo(slide: Slide, associated: { name: string; width: number; height: number }[]): string {
  const lines = [
    `${slide.path}`,
    `  reader      ${slide.reader} (${slide.vendor})`,
    ...(slide.properties[NOTE_PROPERTY] ? [`  note        ${slide.properties[NOTE_PROPERTY]}`] : []),
    `  size        ${slide.width} × ${slide.height} px at level 0`,
    `  µm/px       ${slide.mpp === undefined ? 'not stated' : `${slide.mpp.x} × ${slide.mpp.y}`}`,
    `  objective   ${slide.objectivePower === undefined ? 'not stated' : `${slide.objectivePower}×`}`,
    `  properties  ${Object.keys(slide.properties).length}`,
    `  levels      ${slide.levels.length}`,
    ...slide.levels.map(
      (l, i) =>
        `    ${String(i).padStart(2)}  ${`${l.width} × ${l.height}`.padEnd(22)} downsample ${l.downsample}`,
    ),
    `  associated  ${associated.length === 0 ? 'none' : associated.map((a) => `${a.name} (${a.width} × ${a.height})`).join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function registerWsiCommands(program: Command, deps: WsiCliDeps = defaults): void {
  const wsi = commandGroup(program, 'wsi', 'whole-slide images: read, segment, tile, embed, subtype');
  const progress = (label: string) =>
    createProgress({ label, ...(deps.progress === undefined ? {} : { enabled: deps.progress }) });
  const warn = (warnings: readonly string[]) => {
    for (const w of warnings) deps.err(`warning: ${w}\n`);
  };

  wsi
    .command('info')
    .description('levels, µm/px, objective power, properties and associated images of a slide')
    .argument('<slide>', 'a slide (any format OpenSlide reads) or a plain PNG/JPEG/TIFF image')
    .option('--json', 'as JSON (properties included)', false)
    .action(async (path: string, o: { json: boolean }) => {
      await withSlide(path, async (slide) => {
        const associated = [];
        for (const name of slide.associatedImages) {
          const img = await slide.readAssociatedImage(name);
          associated.push({ name, width: img.width, height: img.height });
        }
        if (o.json)
          deps.out(`${JSON.stringify({ ...slideInfo(slide), associatedImages: associated }, null, 2)}\n`);
        else deps.out(formatInfo(slide, associated));
      });
    });

  addSegmentOptions(
    wsi
      .command('segment')
      .description('segment the tissue: writes tissue.geojson (QuPath), overview.png and segmentation.json')
      .argument('<slide>', 'a slide or a plain image')
      .requiredOption('--out <dir>', 'output folder')
      .option('--overview-size <px>', 'longer side of overview.png', positiveInt, OVERVIEW_SIDE)
      .option('--json', 'print segmentation.json', false),
  ).action(async (path: string, o: SegmentFlags & { out: string; overviewSize: number; json: boolean }) => {
    await withSlide(path, async (slide) => {
      const bar = progress('segmenting');
      const seg = await segmentTissue(slide, segmentOptionsFrom(o), bar).finally(() => bar.stop());
      const dir = resolve(o.out);
      writeTissueGeoJson(join(dir, 'tissue.geojson'), seg);
      await writeOverview(join(dir, 'overview.png'), slide, seg, { maxSide: o.overviewSize });
      const summary = segmentationSummary(slide, seg);
      writeFileAtomic(join(dir, 'segmentation.json'), `${JSON.stringify(summary, null, 2)}\n`);
      warn(seg.warnings);
      if (o.json) deps.out(`${JSON.stringify(summary, null, 2)}\n`);
      else
        deps.out(
          `${slide.path}: ${(seg.stats.tissueFraction * 100).toFixed(1)}% tissue in ${seg.stats.regionsKept} ` +
            `region(s) with ${seg.stats.holesKept} hole(s) (view ${seg.width}×${seg.height}, saturation > ${seg.threshold})` +
            `${seg.stats.tissueAreaMm2 === undefined ? '' : `, ${seg.stats.tissueAreaMm2.toFixed(2)} mm²`}\n` +
            `wrote ${join(dir, 'tissue.geojson')}, overview.png, segmentation.json\n`,
        );
    });
  });

  addPatchOptions(
    addSegmentOptions(
      wsi
        .command('patch')
        .description(
          'segment, then lay the patch grid: writes patches.json, tissue.geojson, overview.png, segmentation.json',
        )
        .argument('<slide>', 'a slide or a plain image')
        .requiredOption('--out <dir>', 'output folder')
        .option('--overview-size <px>', 'longer side of overview.png', positiveInt, OVERVIEW_SIDE)
        .option('--json', 'print patches.json without the coordinates', false),
    ),
  ).action(
    async (
      path: string,
      o: SegmentFlags & PatchFlags & { out: string; overviewSize: number; json: boolean },
    ) => {
      await withSlide(path, async (slide) => {
        const bar = progress('segmenting');
        const seg = await segmentTissue(slide, segmentOptionsFrom(o), bar).finally(() => bar.stop());
        const grid = patchGrid(slide, seg, patchOptionsFrom(o));
        const dir = resolve(o.out);
        const json = patchGridJson(slide, grid);
        writeFileAtomic(join(dir, 'patches.json'), `${JSON.stringify(json)}\n`);
        writeTissueGeoJson(join(dir, 'tissue.geojson'), seg);
        writeFileAtomic(
          join(dir, 'segmentation.json'),
          `${JSON.stringify(segmentationSummary(slide, seg), null, 2)}\n`,
        );
        await writeOverview(join(dir, 'overview.png'), slide, seg, { grid, maxSide: o.overviewSize });
        warn([...seg.warnings, ...grid.warnings]);
        if (o.json) {
          const { coords: _c, tissue: _t, ...rest } = json;
          deps.out(`${JSON.stringify(rest, null, 2)}\n`);
        } else
          deps.out(
            `${slide.path}: ${grid.count} patches of ${grid.patchSize} px at ${grid.magnification}× ` +
              `(level 0 is ${+grid.level0.magnification.toFixed(2)}×, from ${grid.level0.source}; read ${grid.readSize} px at level ${grid.readLevel}), ` +
              `tissue ≥ ${grid.minTissue}, of ${grid.columns}×${grid.rows} grid positions\n` +
              `wrote ${join(dir, 'patches.json')}, tissue.geojson, overview.png, segmentation.json\n`,
          );
      });
    },
  );
}
