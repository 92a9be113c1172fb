// A seeded generator of small image–caption data sets whose captions follow what the pixels show:
// a coloured shape on a pale or dark background, described in varied words ("a crimson disc on a
// light background", "dark background with a red circle in the middle"). It writes the published
// formats — PNG images, an `image_name|caption` pairs file, an `image_name,label` labels file and a
// prompt file — so that training and every evaluation can be exercised end to end without the
// paper's data sets, and so a model that learns anything at all can be told from one that does not.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../engine/init.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { RgbImage } from './image.ts';
import { type PromptSet, promptFileJson } from './prompt-sets.ts';

export const SHAPES = ['circle', 'square', 'triangle', 'cross', 'ring'] as const;
export type Shape = (typeof SHAPES)[number];
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple'] as const;
export type Colour = (typeof COLOURS)[number];
export const BACKGROUNDS = ['pale', 'dark'] as const;
export type Background = (typeof BACKGROUNDS)[number];

const RGB: Record<Colour | Background, [number, number, number]> = {
  red: [205, 35, 40],
  green: [35, 170, 60],
  blue: [45, 70, 215],
  yellow: [225, 205, 35],
  purple: [140, 45, 175],
  pale: [236, 229, 220],
  dark: [42, 40, 50],
};

/** Words for each visual property; captions and prompts draw from these. */
export const SYNONYMS: Record<Shape | Colour | Background, readonly string[]> = {
  circle: ['circle', 'disc', 'round blob'],
  square: ['square', 'box', 'block'],
  triangle: ['triangle', 'wedge', 'three-sided shape'],
  cross: ['cross', 'plus sign', 'cross shape'],
  ring: ['ring', 'hollow circle', 'annulus'],
  red: ['red', 'crimson', 'scarlet'],
  green: ['green', 'emerald', 'leaf-green'],
  blue: ['blue', 'azure', 'cobalt'],
  yellow: ['yellow', 'golden', 'lemon'],
  purple: ['purple', 'violet', 'magenta'],
  pale: ['pale', 'light', 'whitish'],
  dark: ['dark', 'black', 'dim'],
};

/** "a" or "an" before a word (every word here is pronounced as spelled). */
const an = (word: string): string => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;

const CAPTIONS: readonly ((c: string, s: string, b: string) => string)[] = [
  (c, s, b) => `${an(c)} ${s} on ${an(b)} background`,
  (c, s, b) => `${b} background with ${an(c)} ${s} in the middle`,
  (c, s) => `image of ${an(s)} coloured ${c}`,
  (c, s) => `the picture shows ${an(c)} ${s}`,
  (c, s, b) => `${c} ${s}, ${b} field`,
];

// Class phrases carry their article ("a red circle"), so templates do not.
const PROMPT_TEMPLATES = [
  'an image of CLASSNAME.',
  'CLASSNAME on a plain background.',
  'CLASSNAME.',
  'the picture shows CLASSNAME.',
  'there is CLASSNAME.',
] as const;

/** What the label is: the shape, the colour, or both ("red_circle"). */
export type ClassBy = 'shape' | 'colour' | 'both';

export interface SyntheticOptions {
  count: number;
  seed?: number;
  /** Image side in pixels (default 40: a 32-px random crop still holds the whole shape). */
  size?: number;
  shapes?: readonly Shape[];
  colours?: readonly Colour[];
  backgrounds?: readonly Background[];
  classBy?: ClassBy;
  /** Prompt sets in the prompt file (default 10). */
  promptSets?: number;
}

export interface SyntheticItem {
  /** Relative to the set's folder (its image root). */
  name: string;
  label: string;
  caption: string;
  shape: Shape;
  colour: Colour;
  background: Background;
}

interface Resolved {
  count: number;
  seed: number;
  size: number;
  shapes: readonly Shape[];
  colours: readonly Colour[];
  backgrounds: readonly Background[];
  classBy: ClassBy;
  promptSets: number;
}

function resolveOptions(o: SyntheticOptions): Resolved {
  const r: Resolved = {
    count: o.count,
    seed: o.seed ?? 0,
    size: o.size ?? 40,
    shapes: o.shapes ?? ['circle', 'square', 'triangle'],
    colours: o.colours ?? ['red', 'green', 'blue'],
    backgrounds: o.backgrounds ?? BACKGROUNDS,
    classBy: o.classBy ?? 'both',
    promptSets: o.promptSets ?? 10,
  };
  if (!Number.isInteger(r.count) || r.count < 1)
    throw new RangeError(`count must be a positive integer, got ${o.count}`);
  if (!Number.isInteger(r.size) || r.size < 8)
    throw new RangeError(`size must be an integer ≥ 8, got ${o.size}`);
  if (r.shapes.length === 0 || r.colours.length === 0 || r.backgrounds.length === 0)
    throw new RangeError('shapes, colours and backgrounds need at least one value each');
  return r;
}

function classesOf(o: Resolved): { label: string; shape?: Shape; colour?: Colour }[] {
  if (o.classBy === 'shape') return o.shapes.map((shape) => ({ label: shape, shape }));
  if (o.classBy === 'colour') return o.colours.map((colour) => ({ label: colour, colour }));
  return o.colours.flatMap((colour) =>
    o.shapes.map((shape) => ({ label: `${colour}_${shape}`, shape, colour })),
  );
}

/** The labels of a generated set, in prompt-file order. */
export function syntheticClasses(opts: SyntheticOptions): string[] {
  return classesOf(resolveOptions(opts)).map((c) => c.label);
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

/** The items (names, labels, captions), balanced over classes, without drawing anything. */
export function syntheticItems(opts: SyntheticOptions): SyntheticItem[] {
  const o = resolveOptions(opts);
  const classes = classesOf(o);
  const rng = new Rng(o.seed, 'synthetic-items');
  const width = String(o.count - 1).length;
  return Array.from({ length: o.count }, (_, i) => {
    const cls = classes[i % classes.length]!;
    const shape = cls.shape ?? pick(rng, o.shapes);
    const colour = cls.colour ?? pick(rng, o.colours);
    const background = pick(rng, o.backgrounds);
    const caption = pick(rng, CAPTIONS)(
      pick(rng, SYNONYMS[colour]),
      pick(rng, SYNONYMS[shape]),
      pick(rng, SYNONYMS[background]),
    );
    return {
      name: `images/img_${String(i).padStart(width, '0')}.png`,
      label: cls.label,
      caption,
      shape,
      colour,
      background,
    };
  });
}

/** Prompt sets in the published schema: each set picks one phrase per class and one template. */
export function syntheticPromptSets(opts: SyntheticOptions): PromptSet[] {
  const o = resolveOptions(opts);
  const rng = new Rng(o.seed, 'synthetic-prompts');
  return Array.from({ length: o.promptSets }, (_, k) => ({
    id: String(k),
    classes: classesOf(o).map((c) => {
      const colour = c.colour ? pick(rng, SYNONYMS[c.colour]) : undefined;
      const shape = c.shape ? pick(rng, SYNONYMS[c.shape]) : undefined;
      const phrase = an(
        [colour, shape ?? pick(rng, ['shape', 'object', 'figure'])].filter(Boolean).join(' '),
      );
      return { label: c.label, names: [phrase] };
    }),
    templates: [pick(rng, PROMPT_TEMPLATES)],
  }));
}

function inside(shape: Shape, dx: number, dy: number, r: number): boolean {
  const d = Math.hypot(dx, dy);
  switch (shape) {
    case 'circle':
      return d <= r;
    case 'ring':
      return d <= r && d >= 0.55 * r;
    case 'square':
      return Math.abs(dx) <= 0.85 * r && Math.abs(dy) <= 0.85 * r;
    case 'cross':
      return (Math.abs(dx) <= r / 3 && Math.abs(dy) <= r) || (Math.abs(dy) <= r / 3 && Math.abs(dx) <= r);
    case 'triangle': {
      // Apex up: the half-width grows linearly from the apex (dy = -r) to the base (dy = 0.8 r).
      if (dy < -r || dy > 0.8 * r) return false;
      return Math.abs(dx) <= ((dy + r) / (1.8 * r)) * r * 1.1;
    }
  }
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Draws one item; the same (seed, index) always gives the same pixels. */
export function renderSynthetic(item: SyntheticItem, size: number, seed: number, index: number): RgbImage {
  const rng = new Rng(seed, `synthetic-pixels:${index}`);
  const bg = RGB[item.background];
  const fg = RGB[item.colour].map((v) => v + (rng.next() - 0.5) * 40);
  const cx = size / 2 + (rng.next() - 0.5) * size * 0.2;
  const cy = size / 2 + (rng.next() - 0.5) * size * 0.2;
  const r = size * (0.22 + 0.08 * rng.next());
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const base = inside(item.shape, x + 0.5 - cx, y + 0.5 - cy, r) ? fg : bg;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = clamp8(base[c]! + rng.normal() * 7);
    }
  }
  return { width: size, height: size, data };
}

export interface SyntheticSetFiles {
  dir: string;
  /** `image_name|caption`, names relative to `dir`. */
  pairs: string;
  /** `image_name,label`. */
  labels: string;
  /** Prompt sets in the published schema. */
  prompts: string;
  classes: string[];
  items: SyntheticItem[];
}

/**
 * Writes dir/images/*.png, dir/pairs.csv, dir/labels.csv and dir/prompts.json. Image names in the
 * manifests are relative to `dir`, which is therefore the image root. For a held-out split, write
 * a second set with another seed into another folder.
 */
export async function writeSyntheticSet(dir: string, opts: SyntheticOptions): Promise<SyntheticSetFiles> {
  const o = resolveOptions(opts);
  const items = syntheticItems(o);
  mkdirSync(join(dir, 'images'), { recursive: true });
  // A few encodes at a time: sharp works off the main thread, and more in flight only costs memory.
  const inFlight = 8;
  for (let start = 0; start < items.length; start += inFlight) {
    await Promise.all(
      items.slice(start, start + inFlight).map(async (item, k) => {
        const img = renderSynthetic(item, o.size, o.seed, start + k);
        const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
          .png({ compressionLevel: 3 })
          .toBuffer();
        writeFileAtomic(join(dir, item.name), png);
      }),
    );
  }
  const files: SyntheticSetFiles = {
    dir,
    pairs: join(dir, 'pairs.csv'),
    labels: join(dir, 'labels.csv'),
    prompts: join(dir, 'prompts.json'),
    classes: classesOf(o).map((c) => c.label),
    items,
  };
  writeFileAtomic(files.pairs, ['image_name|caption\n', ...items.map((i) => `${i.name}|${i.caption}\n`)]);
  writeFileAtomic(files.labels, ['image_name,label\n', ...items.map((i) => `${i.name},${i.label}\n`)]);
  writeFileAtomic(files.prompts, `${JSON.stringify(promptFileJson(syntheticPromptSets(o)), null, 2)}\n`);
  return files;
}
