import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ImageDecodeError, loadImage } from './image.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kep-image-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pattern(width: number, height: number, channels: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let i = 0; i < out.length; i++) out[i] = (i * 37 + (i >> 3) * 11) & 255;
  return out;
}

/** A baseline uncompressed little-endian 16-bit RGB TIFF (PIL cannot write one). */
function tiff16(width: number, height: number, samples: Uint16Array): Buffer {
  const entries: [number, number, number, number][] = [
    // tag, type (3 SHORT, 4 LONG), count, value or offset
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, 3, 134],
    [259, 3, 1, 1],
    [262, 3, 1, 2],
    [273, 4, 1, 140],
    [277, 3, 1, 3],
    [278, 4, 1, height],
    [279, 4, 1, samples.length * 2],
    [284, 3, 1, 1],
  ];
  const buf = Buffer.alloc(140 + samples.length * 2);
  buf.write('II', 0, 'latin1');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(8, 4);
  buf.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, count, value], i) => {
    const o = 10 + i * 12;
    buf.writeUInt16LE(tag, o);
    buf.writeUInt16LE(type, o + 2);
    buf.writeUInt32LE(count, o + 4);
    if (type === 3 && count === 1) buf.writeUInt16LE(value, o + 8);
    else buf.writeUInt32LE(value, o + 8);
  });
  buf.writeUInt32LE(0, 10 + entries.length * 12); // no next IFD: ends at 134
  for (let i = 0; i < 3; i++) buf.writeUInt16LE(16, 134 + i * 2);
  samples.forEach((v, i) => buf.writeUInt16LE(v, 140 + i * 2));
  return buf;
}

test('16-bit TIFF is scaled to 8 bits', async () => {
  const eight = pattern(7, 5, 3);
  const sixteen = Uint16Array.from(eight, (v) => v * 257);
  const path = join(dir, 'rgb16.tif');
  writeFileSync(path, tiff16(7, 5, sixteen));
  assert.equal((await sharp(path).metadata()).depth, 'ushort');
  const img = await loadImage(path);
  assert.deepEqual([img.width, img.height], [7, 5]);
  assert.deepEqual(Buffer.from(img.data), Buffer.from(eight));
});

test('16-bit PNG is scaled to 8 bits', async () => {
  const eight = pattern(6, 4, 3);
  const png = await sharp(eight, { raw: { width: 6, height: 4, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  assert.equal((await sharp(png).metadata()).depth, 'ushort');
  assert.deepEqual(Buffer.from((await loadImage(png)).data), Buffer.from(eight));
});

test('EXIF orientation is ignored by default (as PIL), applied on request', async () => {
  const jpeg = await sharp(pattern(8, 4, 3), { raw: { width: 8, height: 4, channels: 3 } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const plain = await loadImage(jpeg);
  assert.deepEqual([plain.width, plain.height], [8, 4]);
  const rotated = await loadImage(jpeg, { autoOrient: true });
  assert.deepEqual([rotated.width, rotated.height], [4, 8]);
});

test('RGBA drops alpha without compositing, grey+alpha replicates grey (PIL convert("RGB"))', async () => {
  const rgba = pattern(5, 3, 4);
  const png = await sharp(rgba, { raw: { width: 5, height: 3, channels: 4 } })
    .png()
    .toBuffer();
  const img = await loadImage(png);
  for (let i = 0; i < 15; i++)
    assert.deepEqual([...img.data.subarray(i * 3, i * 3 + 3)], [...rgba.subarray(i * 4, i * 4 + 3)]);

  const ga = pattern(5, 3, 2);
  const gpng = await sharp(ga, { raw: { width: 5, height: 3, channels: 2 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  assert.equal((await sharp(gpng).metadata()).channels, 2);
  const grey = await loadImage(gpng);
  for (let i = 0; i < 15; i++)
    assert.deepEqual([...grey.data.subarray(i * 3, i * 3 + 3)], [ga[i * 2], ga[i * 2], ga[i * 2]]);
});

test('buffers and paths decode the same', async () => {
  const path = `${FIXTURES}rgb-97x61.png`;
  const a = await loadImage(path);
  const b = await loadImage(readFileSync(path));
  assert.deepEqual([a.width, a.height, a.data.length], [97, 61, 97 * 61 * 3]);
  assert.deepEqual(Buffer.from(a.data), Buffer.from(b.data));
});

test('unreadable, corrupt and truncated images fail with an error naming the file', async () => {
  const garbage = join(dir, 'garbage.png');
  writeFileSync(garbage, 'not an image at all');
  const truncated = join(dir, 'truncated.png');
  const png = readFileSync(`${FIXTURES}rgb-97x61.png`);
  writeFileSync(truncated, png.subarray(0, png.length >> 1));
  const truncatedJpeg = join(dir, 'truncated.jpg');
  const jpeg = readFileSync(`${FIXTURES}rgb-64x48.jpg`);
  // libjpeg only warns about a cut-off scan (and would pad it grey); PIL refuses it, and so do we.
  writeFileSync(truncatedJpeg, jpeg.subarray(0, jpeg.length - 200));
  const missing = join(dir, 'missing.tif');
  for (const path of [garbage, truncated, truncatedJpeg, missing]) {
    await assert.rejects(loadImage(path), (err: unknown) => {
      assert.ok(err instanceof ImageDecodeError);
      assert.equal(err.source, path);
      assert.match(err.message, new RegExp(`^cannot read image ${path.replace(/[.]/g, '\\.')}: \\S`));
      return true;
    });
  }
  await assert.rejects(loadImage(Buffer.from('nope')), /cannot read image <buffer of 4 bytes>/);
});
