// Tissue contours: polygons with holes traced from a 0/1 mask by d3-contour (marching squares,
// rings stitched and sorted into exteriors and holes), CLAM's area filter on them, and the way
// back to a mask. Coordinates are mask pixels, pixel (i, j) covering [i, i+1] × [j, j+1]: d3 puts
// boundary vertices halfway between the centres of a tissue and a background pixel, so no pixel
// centre ever lies on a boundary and rasterising the polygons at pixel centres gives the mask back.
import { contours as d3Contours } from 'd3-contour';

export type Point = [number, number];
/** A closed ring (first point repeated last). */
export type Ring = Point[];

export interface MaskPolygon {
  /** Counter-clockwise as written (positive shoelace area in x-right, y-up terms). */
  outer: Ring;
  /** Clockwise. */
  holes: Ring[];
}

/** Signed shoelace area of a ring: positive for counter-clockwise (x right, y up) order. */
export function signedArea(ring: readonly Point[]): number {
  let s = 0;
  for (let i = 0, n = ring.length, j = n - 1; i < n; j = i++)
    s += ring[j]![0] * ring[i]![1] - ring[i]![0] * ring[j]![1];
  return s / 2;
}

export function ringArea(ring: readonly Point[]): number {
  return Math.abs(signedArea(ring));
}

/** Area of a polygon: its outer ring minus its holes (CLAM's contour area). */
export function polygonArea(p: MaskPolygon): number {
  return ringArea(p.outer) - p.holes.reduce((s, h) => s + ringArea(h), 0);
}

/** 1 inside, −1 outside, 0 on the boundary (even-odd crossing test). */
function ringContains(ring: readonly Point[], x: number, y: number): number {
  let inside = -1;
  for (let i = 0, n = ring.length, j = n - 1; i < n; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if ((xj - xi) * (y - yi) === (x - xi) * (yj - yi) && within(xi, x, xj) && within(yi, y, yj)) return 0;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = -inside;
  }
  return inside;
}

function within(p: number, q: number, r: number): boolean {
  return (p <= q && q <= r) || (r <= q && q <= p);
}

/** Whether `inner` lies inside `outer` (rings that do not cross: the first vertex off the boundary decides). */
function ringInside(outer: readonly Point[], inner: readonly Point[]): boolean {
  for (const [x, y] of inner) {
    const c = ringContains(outer, x, y);
    if (c !== 0) return c > 0;
  }
  return false;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function bbox(ring: readonly Point[]): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of ring) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x0, y0, x1, y1 };
}

/** Drops vertices that lie on the straight line through their neighbours (keeps the ring closed). */
function dropCollinear(ring: Ring): Ring {
  const pts = ring.slice(0, -1);
  if (pts.length < 4) return ring.slice();
  const out: Point[] = [];
  const n = pts.length;
  for (let i = 0; i < n; i++) {
    const [ax, ay] = pts[(i + n - 1) % n]!;
    const [bx, by] = pts[i]!;
    const [cx, cy] = pts[(i + 1) % n]!;
    if ((bx - ax) * (cy - ay) !== (cx - ax) * (by - ay)) out.push([bx, by]);
  }
  out.push([out[0]![0], out[0]![1]]);
  return out;
}

function oriented(ring: Ring, ccw: boolean): Ring {
  return signedArea(ring) > 0 === ccw ? ring : ring.slice().reverse();
}

/**
 * The polygons of a 0/1 mask. d3-contour gives the rings; each hole is then given to the smallest
 * exterior that contains it (d3 gives it to the first, which for tissue inside a hole inside tissue
 * is the outermost one), so every polygon's holes are its own.
 */
export function maskPolygons(mask: Uint8Array, width: number, height: number): MaskPolygon[] {
  // d3 only indexes `values`, so the typed array goes in as it is (its typings ask for number[]).
  const multi = d3Contours()
    .size([width, height])
    .smooth(false)
    .contour(mask as unknown as number[], 0.5);
  const exteriors = multi.coordinates.map((p) => oriented(dropCollinear(p[0] as Ring), true));
  const holes = multi.coordinates.flatMap((p) =>
    p.slice(1).map((h) => oriented(dropCollinear(h as Ring), false)),
  );
  const polygons: MaskPolygon[] = exteriors.map((outer) => ({ outer, holes: [] }));
  const boxes = exteriors.map(bbox);
  const areas = exteriors.map(ringArea);
  for (const hole of holes) {
    const hb = bbox(hole);
    const ha = ringArea(hole);
    let best = -1;
    for (let i = 0; i < exteriors.length; i++) {
      const b = boxes[i]!;
      if (b.x0 > hb.x0 || b.y0 > hb.y0 || b.x1 < hb.x1 || b.y1 < hb.y1 || areas[i]! < ha) continue;
      if (best >= 0 && areas[i]! >= areas[best]!) continue;
      if (ringInside(exteriors[i]!, hole)) best = i;
    }
    if (best < 0) throw new Error('contour tracing produced a hole outside every exterior ring');
    polygons[best]!.holes.push(hole);
  }
  return polygons;
}

export interface AreaFilter {
  /** Keep a polygon when its area (outer − holes, mask px²) is above this (CLAM's a_t, scaled). */
  minTissueArea: number;
  /** Keep a hole when its area is above this (CLAM's a_h, scaled); other holes are filled. */
  minHoleArea: number;
  /** Only the largest this-many holes of a polygon are considered (CLAM's max_n_holes). */
  maxHoles: number;
}

/**
 * CLAM's _filter_contours: a polygon is kept when its area net of all its holes is above
 * minTissueArea; of its holes, the maxHoles largest are candidates and those above minHoleArea are
 * kept. Dropped holes become tissue again.
 */
export function filterPolygons(polygons: readonly MaskPolygon[], f: AreaFilter): MaskPolygon[] {
  const kept: MaskPolygon[] = [];
  for (const p of polygons) {
    const a = polygonArea(p);
    if (a === 0 || !(a > f.minTissueArea)) continue;
    const holes = [...p.holes]
      .sort((x, y) => ringArea(y) - ringArea(x))
      .slice(0, f.maxHoles)
      .filter((h) => ringArea(h) > f.minHoleArea);
    kept.push({ outer: p.outer, holes });
  }
  return kept;
}

/**
 * Rasterises polygons into a width×height 0/1 mask at pixel centres with the non-zero winding rule:
 * exteriors count +1, holes −1, so tissue kept inside a dropped hole stays tissue and a dropped
 * island inside a kept hole stays background.
 */
export function rasterisePolygons(
  polygons: readonly MaskPolygon[],
  width: number,
  height: number,
): Uint8Array {
  const crossings: number[][] = Array.from({ length: height }, () => []);
  const addRing = (ring: Ring, sign: number): void => {
    for (let i = 1; i < ring.length; i++) {
      const [x0, y0] = ring[i - 1]!;
      const [x1, y1] = ring[i]!;
      if (y0 === y1) continue;
      const dir = (y1 > y0 ? 1 : -1) * sign;
      const ya = Math.min(y0, y1);
      const yb = Math.max(y0, y1);
      // Rows whose centre y + 0.5 lies in [ya, yb).
      const first = Math.max(0, Math.ceil(ya - 0.5));
      const last = Math.min(height - 1, Math.ceil(yb - 0.5) - 1);
      for (let row = first; row <= last; row++) {
        const yc = row + 0.5;
        const x = x0 + ((x1 - x0) * (yc - y0)) / (y1 - y0);
        crossings[row]!.push(x, dir);
      }
    }
  };
  for (const p of polygons) {
    // Whatever the orientation as given, the exterior adds +1 inside and each hole −1 (a
    // counter-clockwise ring's left edge runs downwards in y, so its crossings count −1).
    addRing(p.outer, signedArea(p.outer) > 0 ? -1 : 1);
    for (const h of p.holes) addRing(h, signedArea(h) > 0 ? 1 : -1);
  }
  const mask = new Uint8Array(width * height);
  for (let row = 0; row < height; row++) {
    const list = crossings[row]!;
    const n = list.length / 2;
    if (n === 0) continue;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => list[2 * a]! - list[2 * b]!);
    let winding = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      winding += list[2 * i + 1]!;
      if (winding !== 0 && k + 1 < n) {
        const xa = list[2 * i]!;
        const xb = list[2 * order[k + 1]!]!;
        // Pixels whose centre x + 0.5 lies in [xa, xb).
        const from = Math.max(0, Math.ceil(xa - 0.5));
        const to = Math.min(width - 1, Math.ceil(xb - 0.5) - 1);
        for (let x = from; x <= to; x++) mask[row * width + x] = 1;
      }
    }
  }
  return mask;
}
