// OpenSlide (openslide.org), the C library every whole-slide tool builds on, called through koffi
// (an FFI with prebuilt binaries; no compiler at install time) against the system library:
// Debian/Ubuntu `apt-get install libopenslide0`, macOS `brew install openslide`. Region reads are
// one native call each, run on koffi's worker threads (OpenSlide is thread-safe), so several reads
// can be in flight while JavaScript preprocesses the previous ones.
import koffi, { type LibraryHandle } from 'koffi';
import { premultipliedArgbToRgba } from './pixels.ts';
import {
  bestLevelForDownsample,
  checkRegionRequest,
  parsePositive,
  regionBuffer,
  type RgbaImage,
  type Slide,
  type SlideLevel,
} from './slide.ts';
import { SlideError } from './slide-error.ts';

/** Overrides the library file (a path or a soname), e.g. a self-built OpenSlide. */
export const OPENSLIDE_LIBRARY_ENV = 'KEP_OPENSLIDE_LIBRARY';

const LIBRARY_NAMES: Record<string, readonly string[]> = {
  linux: ['libopenslide.so.1', 'libopenslide.so.0'],
  darwin: ['libopenslide.1.dylib', 'libopenslide.0.dylib'],
  win32: ['libopenslide-1.dll', 'libopenslide-0.dll'],
};

export const OPENSLIDE_INSTALL_HINT =
  'install OpenSlide: Debian/Ubuntu `apt-get install libopenslide0`, Fedora `dnf install openslide`, ' +
  `macOS \`brew install openslide\`; or point ${OPENSLIDE_LIBRARY_ENV} at libopenslide`;

type Handle = bigint;

interface Bindings {
  version: string;
  detectVendor(path: string): string | null;
  open(path: string): Handle | null;
  getError(h: Handle): string | null;
  close(h: Handle): void;
  levelCount(h: Handle): number;
  levelDimensions(h: Handle, level: number, w: [number], hh: [number]): void;
  levelDownsample(h: Handle, level: number): number;
  propertyNames(h: Handle): bigint | null;
  propertyValue(h: Handle, name: string): string | null;
  associatedNames(h: Handle): bigint | null;
  associatedDimensions(h: Handle, name: string, w: [number], hh: [number]): void;
  readRegion: AsyncCall<[Handle, Uint8Array, number, number, number, number, number]>;
  readAssociated: AsyncCall<[Handle, string, Uint8Array]>;
}

interface AsyncCall<A extends unknown[]> {
  (...args: A): void;
  async(...args: [...A, (err: unknown) => void]): void;
}

let bindings: Bindings | undefined;
let loadFailure: string | undefined;

function candidates(): string[] {
  const override = process.env[OPENSLIDE_LIBRARY_ENV];
  if (override !== undefined && override !== '') return [override];
  return [...(LIBRARY_NAMES[process.platform] ?? LIBRARY_NAMES.linux!)];
}

/** Loads libopenslide once; a failure is remembered (and reported against each slide asked for). */
function load(path: string): Bindings {
  if (bindings !== undefined) return bindings;
  if (loadFailure === undefined) {
    const tried: string[] = [];
    for (const name of candidates()) {
      try {
        bindings = bind(koffi.load(name));
        return bindings;
      } catch (err) {
        tried.push(`${name} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
      }
    }
    loadFailure = `cannot load the OpenSlide library: tried ${tried.join('; ')}. ${OPENSLIDE_INSTALL_HINT}`;
  }
  throw new SlideError(path, 'library-missing', loadFailure);
}

/** Forgets a cached load failure (tests change the environment variable between cases). */
export function resetOpenSlideLibrary(): void {
  if (bindings === undefined) loadFailure = undefined;
}

function bind(lib: LibraryHandle): Bindings {
  koffi.opaque('openslide_t');
  const fn = <T>(proto: string): T => lib.func(proto) as unknown as T;
  return {
    version: fn<() => string>('const char *openslide_get_version(void)')(),
    detectVendor: fn('const char *openslide_detect_vendor(const char *filename)'),
    open: fn('openslide_t *openslide_open(const char *filename)'),
    getError: fn('const char *openslide_get_error(openslide_t *osr)'),
    close: fn('void openslide_close(openslide_t *osr)'),
    levelCount: fn('int32_t openslide_get_level_count(openslide_t *osr)'),
    levelDimensions: fn(
      'void openslide_get_level_dimensions(openslide_t *osr, int32_t level, _Out_ int64_t *w, _Out_ int64_t *h)',
    ),
    levelDownsample: fn('double openslide_get_level_downsample(openslide_t *osr, int32_t level)'),
    propertyNames: fn('void *openslide_get_property_names(openslide_t *osr)'),
    propertyValue: fn('const char *openslide_get_property_value(openslide_t *osr, const char *name)'),
    associatedNames: fn('void *openslide_get_associated_image_names(openslide_t *osr)'),
    associatedDimensions: fn(
      'void openslide_get_associated_image_dimensions(openslide_t *osr, const char *name, _Out_ int64_t *w, _Out_ int64_t *h)',
    ),
    // `dest` is declared void * so that koffi passes the typed array's memory itself (no copy).
    readRegion: fn(
      'void openslide_read_region(openslide_t *osr, void *dest, int64_t x, int64_t y, int32_t level, int64_t w, int64_t h)',
    ),
    readAssociated: fn(
      'void openslide_read_associated_image(openslide_t *osr, const char *name, void *dest)',
    ),
  };
}

/** A NULL-terminated `const char * const *` list, as OpenSlide returns names. */
function stringList(ptr: bigint | null): string[] {
  const out: string[] = [];
  if (ptr === null) return out;
  for (let i = 0; ; i++) {
    const s = koffi.decode(ptr, i * 8, 'const char *') as string | null;
    if (s === null) return out;
    out.push(s);
  }
}

/** The OpenSlide library version, or undefined when it cannot be loaded. */
export function openSlideVersion(): string | undefined {
  try {
    return load('<none>').version;
  } catch {
    return undefined;
  }
}

/** OpenSlide's vendor for a file ('aperio', 'hamamatsu', …) or null when it does not recognise it. */
export function detectOpenSlideVendor(path: string): string | null {
  return load(path).detectVendor(path);
}

export function openOpenSlide(path: string): Slide {
  const lib = load(path);
  const vendor = lib.detectVendor(path);
  const handle = lib.open(path);
  if (handle === null)
    throw new SlideError(path, 'unsupported', 'OpenSlide does not recognise this file as a slide');
  const err = lib.getError(handle);
  if (err !== null) {
    lib.close(handle);
    throw new SlideError(path, 'corrupt', `OpenSlide cannot open it: ${err}`);
  }
  try {
    return new OpenSlideSlide(path, vendor ?? 'unknown', lib, handle);
  } catch (e) {
    lib.close(handle);
    throw e;
  }
}

class OpenSlideSlide implements Slide {
  readonly reader = 'openslide' as const;
  readonly width: number;
  readonly height: number;
  readonly levels: readonly SlideLevel[];
  readonly mpp: { readonly x: number; readonly y: number } | undefined;
  readonly objectivePower: number | undefined;
  readonly properties: Readonly<Record<string, string>>;
  readonly associatedImages: readonly string[];
  private readonly associatedSizes = new Map<string, [number, number]>();
  private inFlight = 0;
  private closing = false;
  private released = false;

  constructor(
    readonly path: string,
    readonly vendor: string,
    private readonly lib: Bindings,
    private readonly handle: Handle,
  ) {
    const count = lib.levelCount(handle);
    this.throwIfError('reading the level count');
    if (count < 1) throw new SlideError(path, 'corrupt', `OpenSlide reports ${count} levels`);
    const levels: SlideLevel[] = [];
    for (let level = 0; level < count; level++) {
      const w: [number] = [0];
      const h: [number] = [0];
      lib.levelDimensions(handle, level, w, h);
      levels.push({
        width: Number(w[0]),
        height: Number(h[0]),
        downsample: lib.levelDownsample(handle, level),
      });
    }
    this.throwIfError('reading the level dimensions');
    this.levels = levels;
    this.width = levels[0]!.width;
    this.height = levels[0]!.height;
    const properties: Record<string, string> = {};
    for (const name of stringList(lib.propertyNames(handle)))
      properties[name] = lib.propertyValue(handle, name) ?? '';
    this.properties = Object.freeze(properties);
    const mppX = parsePositive(properties['openslide.mpp-x']);
    const mppY = parsePositive(properties['openslide.mpp-y']);
    this.mpp = mppX !== undefined && mppY !== undefined ? { x: mppX, y: mppY } : undefined;
    this.objectivePower = parsePositive(properties['openslide.objective-power']);
    const names = stringList(lib.associatedNames(handle));
    for (const name of names) {
      const w: [number] = [0];
      const h: [number] = [0];
      lib.associatedDimensions(handle, name, w, h);
      this.associatedSizes.set(name, [Number(w[0]), Number(h[0])]);
    }
    this.associatedImages = Object.freeze(names);
    this.throwIfError('reading the metadata');
  }

  bestLevelForDownsample(downsample: number): number {
    return bestLevelForDownsample(this.levels, downsample);
  }

  async readRegion(
    x: number,
    y: number,
    level: number,
    width: number,
    height: number,
    into?: Uint8Array,
  ): Promise<RgbaImage> {
    this.throwIfClosed();
    checkRegionRequest(this, x, y, level, width, height);
    const data = regionBuffer(this.path, width, height, into);
    if (width > 0 && height > 0) {
      await this.call((done) =>
        this.lib.readRegion.async(this.handle, data, x, y, level, width, height, done),
      );
      this.throwIfError(`reading region (${x}, ${y}) ${width}×${height} at level ${level}`);
      premultipliedArgbToRgba(data);
    }
    return { width, height, data };
  }

  async readAssociatedImage(name: string): Promise<RgbaImage> {
    this.throwIfClosed();
    const size = this.associatedSizes.get(name);
    if (size === undefined)
      throw new SlideError(
        this.path,
        'bad-request',
        `no associated image '${name}' (the slide has: ${this.associatedImages.join(', ') || 'none'})`,
      );
    const [width, height] = size;
    const data = new Uint8Array(width * height * 4);
    await this.call((done) => this.lib.readAssociated.async(this.handle, name, data, done));
    this.throwIfError(`reading the associated image '${name}'`);
    premultipliedArgbToRgba(data);
    return { width, height, data };
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.release();
  }

  private release(): void {
    if (this.closing && this.inFlight === 0 && !this.released) {
      this.released = true;
      this.lib.close(this.handle);
    }
  }

  /** Runs one asynchronous native call, keeping the handle open until it returns. */
  private async call(start: (done: (err: unknown) => void) => void): Promise<void> {
    this.inFlight++;
    try {
      await new Promise<void>((resolve, reject) => start((err) => (err ? reject(err) : resolve())));
    } finally {
      this.inFlight--;
      this.release();
    }
  }

  private throwIfClosed(): void {
    if (this.closing) throw new SlideError(this.path, 'closed', 'the slide was closed');
  }

  /** OpenSlide's errors are sticky: once set, the handle is unusable and every read says so. */
  private throwIfError(doing: string): void {
    if (this.released) return;
    const err = this.lib.getError(this.handle);
    if (err !== null) throw new SlideError(this.path, 'corrupt', `OpenSlide failed ${doing}: ${err}`);
  }
}
