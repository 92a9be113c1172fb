// Why did OpenSlide decline a TIFF? It says only "unsupported or missing image file" both for
// files it does not know and for TIFF-based slides (SVS, generic tiled TIFF, …) that are cut short,
// which is what a partial copy or an interrupted download looks like. Walking the TIFF directories
// and checking that every directory and every tile/strip lies inside the file tells the two apart.
// Written here because only this structural walk is needed (no decoding): the npm TIFF decoders
// (geotiff, utif) read whole rasters and would add far more than these few checks.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const TAG_STRIP_OFFSETS = 273;
const TAG_STRIP_BYTE_COUNTS = 279;
const TAG_TILE_OFFSETS = 324;
const TAG_TILE_BYTE_COUNTS = 325;
/** Bytes per value of the TIFF field types that offsets and counts use (SHORT, LONG, LONG8, IFD8). */
const TYPE_SIZES: Record<number, number> = { 3: 2, 4: 4, 13: 4, 16: 8, 18: 8 };
const MAX_DIRECTORIES = 10_000;

/**
 * Returns what is wrong with the file's TIFF structure (truncation, a directory or tile past the
 * end, a directory loop), or undefined when it is not a TIFF or its structure is intact.
 */
export function tiffStructureProblem(path: string): string | undefined {
  const fd = openSync(path, 'r');
  try {
    return check(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function check(fd: number, size: number): string | undefined {
  const read = (offset: number, length: number): Buffer | undefined => {
    if (offset < 0 || offset + length > size) return undefined;
    const buf = Buffer.alloc(length);
    return readSync(fd, buf, 0, length, offset) === length ? buf : undefined;
  };
  const head = read(0, 16) ?? read(0, 8);
  if (head === undefined) return undefined;
  const order = head.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number): number => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const magic = u16(head, 2);
  const big = magic === 43;
  if (magic !== 42 && !big) return undefined;
  if (big && head.byteLength < 16) return `truncated BigTIFF header (${size} bytes)`;
  const entrySize = big ? 20 : 12;
  const countSize = big ? 8 : 2;
  const offsetSize = big ? 8 : 4;
  const readOffset = (b: Buffer, o: number): number => (big ? u64(b, o) : u32(b, o));
  const pastEnd = (what: string, end: number): string =>
    `truncated TIFF: ${what} ends at byte ${end} but the file has ${size} bytes (an incomplete copy or download?)`;

  let ifd = readOffset(head, big ? 8 : 4);
  const seen = new Set<number>();
  for (let index = 0; ifd !== 0; index++) {
    if (index >= MAX_DIRECTORIES) return `corrupt TIFF: more than ${MAX_DIRECTORIES} directories`;
    if (seen.has(ifd)) return `corrupt TIFF: directory ${index} loops back to byte ${ifd}`;
    seen.add(ifd);
    const countBuf = read(ifd, countSize);
    if (countBuf === undefined) return pastEnd(`directory ${index} (at byte ${ifd})`, ifd + countSize);
    const count = big ? u64(countBuf, 0) : u16(countBuf, 0);
    const tableLength = count * entrySize + offsetSize;
    const table = read(ifd + countSize, tableLength);
    if (table === undefined)
      return pastEnd(`directory ${index} (at byte ${ifd})`, ifd + countSize + tableLength);
    const fields = new Map<number, number[]>();
    for (let e = 0; e < count; e++) {
      const o = e * entrySize;
      const tag = u16(table, o);
      if (![TAG_STRIP_OFFSETS, TAG_STRIP_BYTE_COUNTS, TAG_TILE_OFFSETS, TAG_TILE_BYTE_COUNTS].includes(tag))
        continue;
      const type = u16(table, o + 2);
      const n = big ? u64(table, o + 4) : u32(table, o + 4);
      const width = TYPE_SIZES[type];
      if (width === undefined) return `corrupt TIFF: directory ${index} tag ${tag} has field type ${type}`;
      const bytes = n * width;
      const valueAt = o + (big ? 12 : 8);
      let values: Buffer | undefined;
      if (bytes <= offsetSize) values = table.subarray(valueAt, valueAt + bytes);
      else {
        const at = readOffset(table, valueAt);
        values = read(at, bytes);
        if (values === undefined) return pastEnd(`the tag ${tag} array of directory ${index}`, at + bytes);
      }
      const list: number[] = [];
      for (let i = 0; i < n; i++)
        list.push(width === 2 ? u16(values, i * 2) : width === 4 ? u32(values, i * 4) : u64(values, i * 8));
      fields.set(tag, list);
    }
    for (const [offsetsTag, countsTag, what] of [
      [TAG_TILE_OFFSETS, TAG_TILE_BYTE_COUNTS, 'tile'],
      [TAG_STRIP_OFFSETS, TAG_STRIP_BYTE_COUNTS, 'strip'],
    ] as const) {
      const offsets = fields.get(offsetsTag);
      const counts = fields.get(countsTag);
      if (offsets === undefined || counts === undefined) continue;
      for (let i = 0; i < Math.min(offsets.length, counts.length); i++) {
        const end = offsets[i]! + counts[i]!;
        if (counts[i]! > 0 && end > size) return pastEnd(`${what} ${i} of directory ${index}`, end);
      }
    }
    ifd = readOffset(table, count * entrySize);
  }
  return undefined;
}
