// A confusion matrix drawn as SVG (cells shaded by the share of their row, counts written in), and
// rasterised to PNG by sharp (librsvg). The SVG is kept beside the PNG: it renders its labels with
// the viewer's fonts, whereas the PNG has text only where the machine that drew it had fonts.
import sharp from 'sharp';

const escapeXml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface ConfusionImageOptions {
  title?: string;
  /** Labels to mark as distractors (offered, never true). */
  distractors?: readonly string[];
  /** A line drawn in red under the title (e.g. an untrained-model warning). */
  warning?: string;
}

const CELL = 44;

function shade(fraction: number): string {
  // White → deep blue.
  const t = Math.max(0, Math.min(1, fraction));
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

export function confusionSvg(
  labels: readonly string[],
  confusion: readonly (readonly number[])[],
  opts: ConfusionImageOptions = {},
): string {
  const n = labels.length;
  if (confusion.length !== n || confusion.some((r) => r.length !== n))
    throw new RangeError(`a confusion matrix over ${n} labels must be ${n}×${n}`);
  const distractors = new Set(opts.distractors ?? []);
  const shown = labels.map((l) => (distractors.has(l) ? `${l} (distractor)` : l));
  const labelWidth = Math.min(260, 12 + 7 * Math.max(4, ...shown.map((l) => l.length)));
  const headTop = 28 + (opts.title ? 22 : 0) + (opts.warning ? 22 : 0);
  const left = labelWidth + 24;
  const top = headTop;
  const textWidth = Math.max((opts.title ?? '').length * 9.5, (opts.warning ?? '').length * 9.3) + 20;
  const width = Math.round(Math.max(left + n * CELL + 20, textWidth));
  const height = top + n * CELL + (labelWidth - 12) * 0.72 + 36;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${Math.round(height)}" viewBox="0 0 ${width} ${Math.round(height)}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  );
  let y = 22;
  if (opts.title) {
    parts.push(`<text x="10" y="${y}" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`);
    y += 22;
  }
  if (opts.warning) {
    parts.push(
      `<text x="10" y="${y}" font-size="14" font-weight="bold" fill="#c00000">${escapeXml(opts.warning)}</text>`,
    );
  }
  parts.push(
    `<text x="12" y="${top + (n * CELL) / 2}" font-size="12" transform="rotate(-90 12 ${top + (n * CELL) / 2})" text-anchor="middle">true</text>`,
  );
  confusion.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    parts.push(
      `<text x="${left - 6}" y="${top + t * CELL + CELL / 2 + 4}" font-size="11" text-anchor="end">${escapeXml(shown[t]!)}</text>`,
    );
    row.forEach((count, p) => {
      const f = total > 0 ? count / total : 0;
      const x = left + p * CELL;
      const cy = top + t * CELL;
      parts.push(
        `<rect x="${x}" y="${cy}" width="${CELL}" height="${CELL}" fill="${shade(f)}" stroke="#ccc" stroke-width="0.5"/>`,
        `<text x="${x + CELL / 2}" y="${cy + CELL / 2 + 4}" font-size="11" text-anchor="middle" fill="${f > 0.5 ? 'white' : 'black'}">${count}</text>`,
      );
    });
  });
  const bottom = top + n * CELL;
  labels.forEach((_, p) => {
    const x = left + p * CELL + CELL / 2;
    parts.push(
      `<text x="${x}" y="${bottom + 12}" font-size="11" text-anchor="end" transform="rotate(-45 ${x} ${bottom + 12})">${escapeXml(shown[p]!)}</text>`,
    );
  });
  parts.push(
    `<text x="${left + (n * CELL) / 2}" y="${Math.round(height) - 8}" font-size="12" text-anchor="middle">predicted</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg, 'utf8')).png().toBuffer();
}
