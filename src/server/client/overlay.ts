// Everything drawn over the slide, on one canvas above OpenSeadragon's and redrawn with each viewport
// change (crisp at every zoom): tissue contours, the patch grid, the heatmap (one rectangle per patch,
// coloured by rank), the top search hits and the selected patch.
import OpenSeadragon from 'openseadragon';
import type { Patches } from './api.ts';
import { colourAt, percentileRanks } from './colour.ts';

type Ring = [number, number][];

export class Overlay {
  readonly canvas = document.createElement('canvas');
  patches: Patches | undefined;
  private rings: Ring[] = [];
  private ranks: Float64Array | undefined;
  private index = new Map<string, number>();
  showTissue = true;
  showGrid = false;
  opacity = 0.5;
  selected: number | undefined;
  marks: number[] = [];

  constructor(private readonly viewer: OpenSeadragon.Viewer) {
    this.canvas.className = 'overlay';
    viewer.container.append(this.canvas);
    for (const ev of ['update-viewport', 'animation', 'resize', 'open'] as const)
      viewer.addHandler(ev, () => this.draw());
  }

  setPatches(p: Patches | undefined): void {
    this.patches = p;
    this.index.clear();
    if (p)
      for (let i = 0; i < p.count; i++) this.index.set(this.key(p.coords[2 * i]!, p.coords[2 * i + 1]!), i);
    this.ranks = undefined;
    this.selected = undefined;
    this.marks = [];
  }

  private key(x: number, y: number): string {
    const s = this.patches!.patchSizeLevel0;
    return `${Math.floor(x / s)},${Math.floor(y / s)}`;
  }

  /** The patch under a level-0 point. */
  patchAt(x: number, y: number): number | undefined {
    return this.patches ? this.index.get(this.key(x, y)) : undefined;
  }

  setTissue(geojson: unknown): void {
    this.rings = [];
    const fc = geojson as { features?: { geometry?: { type: string; coordinates: unknown } }[] };
    for (const f of fc.features ?? []) {
      const g = f.geometry;
      if (g?.type === 'Polygon') this.rings.push(...(g.coordinates as Ring[]));
      else if (g?.type === 'MultiPolygon')
        for (const poly of g.coordinates as Ring[][]) this.rings.push(...poly);
    }
  }

  setHeat(values: readonly number[] | undefined): void {
    this.ranks = values ? percentileRanks(values) : undefined;
    this.draw();
  }

  draw(): void {
    const el = this.viewer.container;
    const ratio = window.devicePixelRatio || 1;
    const w = el.clientWidth;
    const h = el.clientHeight;
    if (this.canvas.width !== Math.round(w * ratio) || this.canvas.height !== Math.round(h * ratio)) {
      this.canvas.width = Math.round(w * ratio);
      this.canvas.height = Math.round(h * ratio);
    }
    const g = this.canvas.getContext('2d')!;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    if (this.viewer.world.getItemCount() === 0) return;
    const vp = this.viewer.viewport;
    const o = vp.imageToViewerElementCoordinates(new OpenSeadragon.Point(0, 0));
    const s = vp.imageToViewerElementCoordinates(new OpenSeadragon.Point(1000, 0)).x - o.x;
    const at = (x: number, y: number): [number, number] => [o.x + (x * s) / 1000, o.y + (y * s) / 1000];
    this.drawPatches(g, at, s / 1000);
    if (this.showTissue) this.drawTissue(g, at);
  }

  private drawPatches(
    g: CanvasRenderingContext2D,
    at: (x: number, y: number) => [number, number],
    scale: number,
  ): void {
    const p = this.patches;
    if (!p) return;
    const side = p.patchSizeLevel0 * scale;
    const rect = (i: number): [number, number] => at(p.coords[2 * i]!, p.coords[2 * i + 1]!);
    if (this.ranks) {
      g.globalAlpha = this.opacity;
      for (let i = 0; i < p.count; i++) {
        const [x, y] = rect(i);
        g.fillStyle = colourAt(this.ranks[i]!);
        g.fillRect(x, y, side + 0.5, side + 0.5);
      }
      g.globalAlpha = 1;
    }
    if (this.showGrid && side >= 3) {
      g.strokeStyle = 'rgba(255,255,255,0.6)';
      g.lineWidth = 1;
      for (let i = 0; i < p.count; i++) g.strokeRect(...rect(i), side, side);
    }
    g.lineWidth = 2;
    this.marks.forEach((i, rank) => {
      const [x, y] = rect(i);
      g.strokeStyle = '#ff3d7f';
      g.strokeRect(x, y, side, side);
      g.fillStyle = '#ff3d7f';
      g.font = '12px sans-serif';
      g.fillText(String(rank + 1), x + 2, y + 12);
    });
    if (this.selected !== undefined) {
      g.strokeStyle = '#00e5ff';
      g.lineWidth = 3;
      g.strokeRect(...rect(this.selected), side, side);
    }
  }

  private drawTissue(g: CanvasRenderingContext2D, at: (x: number, y: number) => [number, number]): void {
    g.strokeStyle = '#2ecc40';
    g.lineWidth = 2;
    g.beginPath();
    for (const ring of this.rings) {
      ring.forEach(([x, y], i) => (i === 0 ? g.moveTo(...at(x, y)) : g.lineTo(...at(x, y))));
      g.closePath();
    }
    g.stroke();
  }
}
