// Tissue contours as GeoJSON in level-0 pixel coordinates, the form QuPath imports and exports
// (File › Import objects): a FeatureCollection with one Polygon feature per tissue region, its holes
// as inner rings, `properties.objectType: "annotation"` and the classification "Tissue".
import { writeFileAtomic } from '../util/atomic.ts';
import type { MaskPolygon, Ring } from './contours.ts';
import type { TissueSegmentation } from './segment.ts';

export interface GeoJsonPolygonFeature {
  type: 'Feature';
  id: string;
  geometry: { type: 'Polygon'; coordinates: [number, number][][] };
  properties: {
    objectType: 'annotation';
    name: string;
    classification: { name: string; color: [number, number, number] };
    isLocked: boolean;
  };
}

export interface TissueFeatureCollection {
  type: 'FeatureCollection';
  features: GeoJsonPolygonFeature[];
}

/** QuPath's default colour for the Tissue class isn't fixed; this green is what kep draws it in. */
const TISSUE_COLOR: [number, number, number] = [0, 170, 0];

function toLevel0(ring: Ring, sx: number, sy: number): [number, number][] {
  // Two decimals: the mask is at least a few level-0 pixels per pixel, so more would be noise.
  return ring.map(([x, y]) => [Math.round(x * sx * 100) / 100, Math.round(y * sy * 100) / 100]);
}

export function polygonsToGeoJson(
  polygons: readonly MaskPolygon[],
  scaleX: number,
  scaleY: number,
  className = 'Tissue',
): TissueFeatureCollection {
  return {
    type: 'FeatureCollection',
    features: polygons.map((p, i) => ({
      type: 'Feature',
      // QuPath keeps object ids as UUIDs; any unique string round-trips.
      id: `tissue-${i + 1}`,
      geometry: {
        type: 'Polygon',
        coordinates: [toLevel0(p.outer, scaleX, scaleY), ...p.holes.map((h) => toLevel0(h, scaleX, scaleY))],
      },
      properties: {
        objectType: 'annotation',
        name: `${className} ${i + 1}`,
        classification: { name: className, color: TISSUE_COLOR },
        isLocked: false,
      },
    })),
  };
}

export function tissueGeoJson(
  seg: Pick<TissueSegmentation, 'polygons' | 'scaleX' | 'scaleY'>,
): TissueFeatureCollection {
  return polygonsToGeoJson(seg.polygons, seg.scaleX, seg.scaleY);
}

/** Writes tissue.geojson atomically. */
export function writeTissueGeoJson(
  path: string,
  seg: Pick<TissueSegmentation, 'polygons' | 'scaleX' | 'scaleY'>,
): void {
  writeFileAtomic(path, `${JSON.stringify(tissueGeoJson(seg))}\n`);
}
