// The slide reader factory: `openSlide` picks the reader (as TRIDENT does): OpenSlide for the
// formats it knows (Aperio SVS, Hamamatsu NDPI/VMS, MIRAX, Leica SCN, Ventana BIF, Philips TIFF,
// generic tiled TIFF, …), sharp for plain PNG/JPEG/TIFF images, which become single-level slides.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { openImageSlide } from './image-slide.ts';
import { detectOpenSlideVendor, openOpenSlide } from './openslide.ts';
import { NOTE_PROPERTY, type Slide, type SlideReaderName } from './slide.ts';
import { SlideError } from './slide-error.ts';
import { tiffStructureProblem } from './tiff-check.ts';

export interface OpenSlideOptions {
  /** Force a reader instead of detecting one. */
  reader?: SlideReaderName;
}

/** Extensions read as plain images without asking OpenSlide (it does not read them). */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
/** TIFFs that OpenSlide does not recognise (untiled, no pyramid) are read as plain images. */
const TIFF_EXTENSIONS = new Set(['.tif', '.tiff']);

/** Plain-image formats known by their first bytes, whatever the file is called. */
export function sniffImageFormat(head: Uint8Array): 'png' | 'jpeg' | 'gif' | 'webp' | undefined {
  const ascii = (a: number, b: number): string => String.fromCharCode(...head.subarray(a, b));
  if (head.length >= 8 && head[0] === 0x89 && ascii(1, 4) === 'PNG' && head[4] === 0x0d) return 'png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

function fileHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

export async function openSlide(path: string, options: OpenSlideOptions = {}): Promise<Slide> {
  if (!existsSync(path)) throw new SlideError(path, 'not-found', 'no such file');
  if (!statSync(path).isFile()) throw new SlideError(path, 'not-found', 'not a regular file');
  const ext = extname(path).toLowerCase();
  const reader = options.reader ?? (IMAGE_EXTENSIONS.has(ext) ? 'image' : undefined);
  if (reader === 'image') return openImageSlide(path);
  if (reader === 'openslide') return openOpenSlide(path);
  // The content decides, not the name: a PNG or JPEG renamed .svs is read as what it is, and said so.
  let head: Uint8Array;
  try {
    head = fileHead(path, 16);
  } catch (err) {
    throw new SlideError(path, 'not-found', `cannot read: ${(err as Error).message}`);
  }
  const sniffed = sniffImageFormat(head);
  if (sniffed)
    return openImageSlide(path, {
      [NOTE_PROPERTY]: `the file is a ${sniffed.toUpperCase()} image despite its ${ext || 'missing'} extension; read as ${sniffed.toUpperCase()}`,
    });
  if (detectOpenSlideVendor(path) !== null) return openOpenSlide(path);
  const problem = tiffStructureProblem(path);
  if (problem !== undefined) throw new SlideError(path, 'corrupt', problem);
  if (TIFF_EXTENSIONS.has(ext)) return openImageSlide(path);
  throw new SlideError(
    path,
    'unsupported',
    'not a slide format OpenSlide recognises (Aperio .svs/.tif, Hamamatsu .ndpi/.vms/.vmu, MIRAX .mrxs, ' +
      'Leica .scn, Ventana .bif/.tif, Philips .tiff, Sakura .svslide, generic tiled TIFF) nor a plain ' +
      'PNG/JPEG/TIFF image',
  );
}
