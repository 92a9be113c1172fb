// Segment: the slide's tissue mask from its low-resolution view, written as tissue.geojson.
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { type ResolvedSegmentOptions, segmentTissue, type TissueSegmentation } from '../wsi/segment.ts';
import type { Slide } from '../wsi/slide.ts';
import { tissueGeoJson } from '../wsi/tissue-geojson.ts';

export async function segmentSlide(
  slide: Slide,
  dir: string,
  options: ResolvedSegmentOptions,
): Promise<TissueSegmentation> {
  const seg = await segmentTissue(slide, options);
  writeFileAtomic(join(dir, 'tissue.geojson'), JSON.stringify(tissueGeoJson(seg)) + '\n');
  return seg;
}
