// Per-slide patch features as HDF5 in the CLAM/TRIDENT layout, so that their downstream tools (and
// h5py) read kep's output unchanged: `coords` int64 [N, 2] (level-0 top-left x, y) and `features`
// float32 [N, D], with the patch geometry as attributes of `coords` (CLAM reads
// `coords.attrs['patch_size']` and `['patch_level']`; TRIDENT adds `patch_size_level0` and the
// magnifications) and the model as attributes of the file.
//
// h5wasm is the HDF5 C library compiled to WebAssembly; its Node build reaches the host file system
// directly (Emscripten NODERAWFS), so rows are appended batch by batch into chunked, growable
// datasets and a slide's features never have to sit in memory whole.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Dataset, File as H5File, OutputData } from 'h5wasm';

type H5Module = typeof import('h5wasm');

let h5: Promise<H5Module> | undefined;
/** The WASM module loads once per process. */
async function hdf5(): Promise<H5Module> {
  h5 ??= import('h5wasm/node').then(async (m) => {
    await m.ready;
    return m as unknown as H5Module;
  });
  return h5;
}

export interface PatchFeaturesMeta {
  /** Slide name (file name without extension). */
  slide: string;
  /** Model registry name or folder the features came from. */
  model: string;
  /** True when the model had no trained weights: the features are random projections. */
  untrained: boolean;
  /** Precision of the image tower (absent in files of earlier versions: fp32). */
  precision?: 'fp32' | 'int8';
  /** Patch side in pixels at the target magnification (what the model saw before resizing). */
  patchSize: number;
  /** Patch side in level-0 pixels (the grid step; coords are multiples of it from the origin). */
  patchSizeLevel0: number;
  /** Pyramid level the patches were read from. */
  patchLevel: number;
  /** Target magnification (e.g. 20); omitted when the slide does not say. */
  targetMagnification?: number;
  /** The slide's own level-0 magnification (objective power); omitted when unknown. */
  level0Magnification?: number;
}

export interface PatchFeatures {
  /** Number of patches. */
  count: number;
  /** Feature width. */
  dim: number;
  /** Row-major [count, 2]: level-0 x, y of each patch's top-left corner. */
  coords: Int32Array;
  /** Row-major [count, dim]. */
  features: Float32Array;
  meta: PatchFeaturesMeta;
}

export class FeaturesFileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FeaturesFileError';
  }
}

/** Rows per HDF5 chunk: about 0.5–1 MiB for D of 512–768, within HDF5's default 1 MiB chunk cache. */
const CHUNK_ROWS = 256;

/**
 * Streams rows into a temporary file beside `path`; `close()` renames it into place, `abort()`
 * deletes it. Readers therefore see either no file or a complete one.
 */
export class FeaturesWriter {
  private rows = 0;
  private done = false;

  private constructor(
    private readonly file: H5File,
    private readonly coordsSet: Dataset,
    private readonly featuresSet: Dataset,
    private readonly tmp: string,
    readonly path: string,
    readonly dim: number,
  ) {}

  static async create(path: string, dim: number, meta: PatchFeaturesMeta): Promise<FeaturesWriter> {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new RangeError(`feature width must be a positive integer, got ${dim}`);
    const h5wasm = await hdf5();
    const target = resolve(path);
    mkdirSync(dirname(target), { recursive: true });
    const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
    const file = new h5wasm.File(tmp, 'w');
    try {
      const coordsSet = file.create_dataset({
        name: 'coords',
        data: new BigInt64Array(0),
        shape: [0, 2],
        maxshape: [null, 2],
        chunks: [CHUNK_ROWS, 2],
      });
      const featuresSet = file.create_dataset({
        name: 'features',
        data: new Float32Array(0),
        shape: [0, dim],
        maxshape: [null, dim],
        chunks: [CHUNK_ROWS, dim],
      });
      coordsSet.create_attribute('patch_size', meta.patchSize);
      coordsSet.create_attribute('patch_size_level0', meta.patchSizeLevel0);
      coordsSet.create_attribute('patch_level', meta.patchLevel);
      if (meta.targetMagnification !== undefined)
        coordsSet.create_attribute('target_magnification', meta.targetMagnification);
      if (meta.level0Magnification !== undefined)
        coordsSet.create_attribute('level0_magnification', meta.level0Magnification);
      coordsSet.create_attribute('name', meta.slide);
      file.create_attribute('slide', meta.slide);
      file.create_attribute('model', meta.model);
      // HDF5 has no boolean scalar that h5py reads back as bool without an enum type; 0/1 is what
      // CLAM-style tools compare against.
      file.create_attribute('untrained', meta.untrained ? 1 : 0);
      file.create_attribute('precision', meta.precision ?? 'fp32');
      file.create_attribute('embed_dim', dim);
      file.create_attribute('writer', 'kep');
      return new FeaturesWriter(file, coordsSet, featuresSet, tmp, target, dim);
    } catch (err) {
      file.close();
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  get count(): number {
    return this.rows;
  }

  /** Appends `coords.length / 2` rows; `features` holds as many rows of `dim` floats. */
  append(coords: ArrayLike<number>, features: Float32Array): void {
    if (this.done) throw new Error(`${this.path}: append after close`);
    if (coords.length % 2 !== 0) throw new RangeError('coords must hold x, y pairs');
    const n = coords.length / 2;
    if (features.length !== n * this.dim)
      throw new RangeError(
        `${n} coordinate pairs need ${n * this.dim} feature values, got ${features.length}`,
      );
    if (n === 0) return;
    const start = this.rows;
    const xy = new BigInt64Array(n * 2);
    for (let i = 0; i < n * 2; i++) {
      const v = coords[i]!;
      if (!Number.isInteger(v)) throw new RangeError(`coordinate ${v} is not an integer`);
      xy[i] = BigInt(v);
    }
    this.coordsSet.resize([start + n, 2]);
    this.coordsSet.write_slice(
      [
        [start, start + n],
        [0, 2],
      ],
      xy,
    );
    this.featuresSet.resize([start + n, this.dim]);
    this.featuresSet.write_slice(
      [
        [start, start + n],
        [0, this.dim],
      ],
      features,
    );
    this.rows += n;
  }

  /** Flushes, syncs to disk and renames the file into place. */
  close(): void {
    if (this.done) return;
    this.done = true;
    try {
      this.file.close();
      const fd = openSync(this.tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(this.tmp, this.path);
    } catch (err) {
      rmSync(this.tmp, { force: true });
      throw err;
    }
  }

  /** Discards what was written; the target path is left as it was. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      this.file.close();
    } finally {
      rmSync(this.tmp, { force: true });
    }
  }
}

/** Writes a whole slide's features at once (atomically). */
export async function writeFeaturesH5(
  path: string,
  data: { coords: ArrayLike<number>; features: Float32Array; dim: number; meta: PatchFeaturesMeta },
): Promise<void> {
  const writer = await FeaturesWriter.create(path, data.dim, data.meta);
  try {
    writer.append(data.coords, data.features);
  } catch (err) {
    writer.abort();
    throw err;
  }
  writer.close();
}

function numberAttr(value: OutputData | null | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (ArrayBuffer.isView(value) && 'length' in value && (value as ArrayLike<unknown>).length === 1) {
    const v = (value as ArrayLike<number | bigint>)[0]!;
    return Number(v);
  }
  return undefined;
}

function toNumbers(value: OutputData | null, what: string, path: string): ArrayLike<number | bigint> {
  if (value !== null && ArrayBuffer.isView(value) && !(value instanceof DataView))
    return value as unknown as ArrayLike<number | bigint>;
  throw new FeaturesFileError(path, `dataset '${what}' is not numeric`);
}

/**
 * Reads a features file written by kep, CLAM or TRIDENT (any integer type for `coords`, any float
 * type for `features`). Attributes other tools do not write fall back to neutral values.
 */
export async function readFeaturesH5(path: string): Promise<PatchFeatures> {
  const target = resolve(path);
  if (!existsSync(target)) throw new FeaturesFileError(path, 'no such file');
  // HDF5 reports a failed open by printing its error stack and returning a negative id; checking
  // the signature first gives one clear message instead.
  if (!hasHdf5Signature(target)) throw new FeaturesFileError(path, 'not an HDF5 file (no HDF5 signature)');
  const h5wasm = await hdf5();
  const file = new h5wasm.File(target, 'r');
  if (file.file_id < 0n) throw new FeaturesFileError(path, 'HDF5 could not open the file');
  try {
    const coordsSet = file.get('coords');
    const featuresSet = file.get('features');
    if (!(coordsSet instanceof h5wasm.Dataset)) throw new FeaturesFileError(path, "no 'coords' dataset");
    if (!(featuresSet instanceof h5wasm.Dataset)) throw new FeaturesFileError(path, "no 'features' dataset");
    const cShape = coordsSet.shape ?? [];
    const fShape = featuresSet.shape ?? [];
    if (cShape.length !== 2 || cShape[1] !== 2)
      throw new FeaturesFileError(path, `'coords' must be [N, 2], is [${cShape.join(', ')}]`);
    // TRIDENT writes features [N, D]; CLAM's older files add a leading batch axis [1, N, D].
    const squeezed = fShape.length === 3 && fShape[0] === 1 ? fShape.slice(1) : fShape;
    if (squeezed.length !== 2 || squeezed[0] !== cShape[0])
      throw new FeaturesFileError(
        path,
        `'features' must be [N, D] with N = ${cShape[0]} coordinate rows, is [${fShape.join(', ')}]`,
      );
    const count = cShape[0]!;
    const dim = squeezed[1]!;
    const rawCoords = toNumbers(coordsSet.value, 'coords', path);
    const coords = new Int32Array(count * 2);
    for (let i = 0; i < coords.length; i++) coords[i] = Number(rawCoords[i]!);
    const rawFeatures = toNumbers(featuresSet.value, 'features', path);
    const features =
      rawFeatures instanceof Float32Array ? rawFeatures : Float32Array.from(rawFeatures, Number);
    const cAttr = (name: string): number | undefined =>
      name in coordsSet.attrs ? numberAttr(coordsSet.attrs[name]!.value) : undefined;
    const fileAttr = (name: string): OutputData | undefined =>
      name in file.attrs ? (file.attrs[name]!.value ?? undefined) : undefined;
    const modelAttr = fileAttr('model');
    const slideAttr =
      fileAttr('slide') ?? ('name' in coordsSet.attrs ? coordsSet.attrs['name']!.value : undefined);
    const meta: PatchFeaturesMeta = {
      slide: typeof slideAttr === 'string' ? slideAttr : basename(dirname(target)),
      model: typeof modelAttr === 'string' ? modelAttr : 'unknown',
      untrained: numberAttr(fileAttr('untrained')) === 1,
      ...(fileAttr('precision') === 'int8' ? { precision: 'int8' as const } : {}),
      patchSize: cAttr('patch_size') ?? 0,
      patchSizeLevel0: cAttr('patch_size_level0') ?? cAttr('patch_size') ?? 0,
      patchLevel: cAttr('patch_level') ?? 0,
    };
    const targetMagnification = cAttr('target_magnification');
    if (targetMagnification !== undefined) meta.targetMagnification = targetMagnification;
    const level0Magnification = cAttr('level0_magnification');
    if (level0Magnification !== undefined) meta.level0Magnification = level0Magnification;
    return { count, dim, coords, features, meta };
  } finally {
    file.close();
  }
}

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The superblock sits at byte 0 or, after a user block, at 512, 1024, 2048, … (HDF5 spec §2.1). */
function hasHdf5Signature(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(SIGNATURE.length);
    for (let at = 0; at + SIGNATURE.length <= size; at = at === 0 ? 512 : at * 2) {
      if (readSync(fd, buf, 0, buf.length, at) === buf.length && buf.equals(SIGNATURE)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}
