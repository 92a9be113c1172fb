// Paths and helpers shared by the whole-slide tests.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const SHARED_WSI = fileURLToPath(new URL('../../../shared/data/wsi/', import.meta.url));
/** Aperio SVS, JPEG tiles, one level 2220×2967, 0.499 µm/px, 20×. */
export const CMU_SLIDE = join(SHARED_WSI, 'cmu_small_region.svs');
/** Aperio SVS, JPEG 2000 tiles, two levels (4443×3567, 2221×1783), no µm/px, no objective power. */
export const TCGA_SLIDE = join(SHARED_WSI, 'tcga-cr-7395-01a-01-ts1.svs');
/** A `skip` value for tests that need the shared slides. */
export const NEEDS_SHARED_SLIDES =
  existsSync(CMU_SLIDE) && existsSync(TCGA_SLIDE) ? false : 'no ../shared/data/wsi';

/** A temporary folder removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `kep-wsi-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Blob {
  /** Ellipse centre and radii in pixels. */
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

/**
 * A synthetic "slide": near-white background (a little noise, as glass is never flat) with pink
 * H&E-like ellipses. Returns RGB pixels; the exact ellipse areas are π·rx·ry.
 */
export function blobImage(width: number, height: number, blobs: readonly Blob[], seed = 1): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const inside = blobs.some((b) => ((x + 0.5 - b.cx) / b.rx) ** 2 + ((y + 0.5 - b.cy) / b.ry) ** 2 <= 1);
      const n = Math.floor(rand() * 6) - 3;
      if (inside) {
        // Eosin pink with haematoxylin-purple speckles: saturation far above 8/255.
        const purple = rand() < 0.2;
        data[o] = (purple ? 150 : 230) + n;
        data[o + 1] = (purple ? 90 : 150) + n;
        data[o + 2] = (purple ? 180 : 190) + n;
      } else {
        data[o] = 243 + n;
        data[o + 1] = 243 + n;
        data[o + 2] = 241 + n;
      }
    }
  return data;
}

export async function writePng(path: string, width: number, height: number, rgb: Uint8Array): Promise<void> {
  await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}
