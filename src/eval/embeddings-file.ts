// Embeddings on disk for reuse (`kep embed images|texts`): one safetensors file holding
// `embeddings` (float32 [n, dim], unit rows) and, in its metadata, what they are: the format tag,
// kind, model, and the image paths or texts in row order (JSON). safetensors because numpy, PyTorch
// (safetensors.numpy / safetensors.torch) and this project all read it without code execution,
// and its string metadata carries the row names that a bare .npy would need a second file for.
import { z } from 'zod';
import type { UnreadableImage } from '../data/image-loader.ts';
import { PRECISIONS, type Precision } from '../engine/quantize.ts';
import { fromFloat32, readSafetensors, toFloat32, writeSafetensors } from '../engine/safetensors.ts';

export const EMBEDDINGS_FORMAT = 'kep-embeddings/1';

export interface EmbeddingsFile {
  kind: 'images' | 'texts';
  /** Image paths or texts, one per row. */
  items: string[];
  embeddings: Float32Array;
  dim: number;
  model: string;
  source: string;
  untrained: boolean;
  /** Precision of the tower that made them (absent in files of earlier versions: fp32). */
  precision?: Precision;
  /** Images that could not be read (no row). */
  unreadable: UnreadableImage[];
}

export function writeEmbeddings(path: string, e: EmbeddingsFile): void {
  if (e.embeddings.length !== e.items.length * e.dim)
    throw new RangeError(`${e.embeddings.length} values for ${e.items.length} rows of dimension ${e.dim}`);
  writeSafetensors(
    path,
    { embeddings: fromFloat32(e.embeddings, [e.items.length, e.dim]) },
    {
      format: EMBEDDINGS_FORMAT,
      kind: e.kind,
      model: e.model,
      source: e.source,
      untrained: String(e.untrained),
      precision: e.precision ?? 'fp32',
      items: JSON.stringify(e.items),
      unreadable: JSON.stringify(e.unreadable),
    },
  );
}

const metadataSchema = z.object({
  format: z.literal(EMBEDDINGS_FORMAT),
  kind: z.enum(['images', 'texts']),
  model: z.string(),
  source: z.string(),
  untrained: z.enum(['true', 'false']),
  precision: z.enum(PRECISIONS).optional(),
  items: z.string(),
  unreadable: z.string().optional(),
});

const unreadableSchema = z.array(z.object({ index: z.number(), path: z.string(), reason: z.string() }));

export function readEmbeddings(path: string): EmbeddingsFile {
  const file = readSafetensors(path);
  const meta = metadataSchema.safeParse(file.metadata);
  if (!meta.success) {
    const i = meta.error.issues[0]!;
    throw new Error(`${path}: not a kep embeddings file (metadata ${i.path.join('.')}: ${i.message})`);
  }
  const t = file.tensors.get('embeddings');
  if (!t || t.shape.length !== 2) throw new Error(`${path}: no 2-D "embeddings" tensor`);
  const items = z.array(z.string()).safeParse(JSON.parse(meta.data.items));
  if (!items.success || items.data.length !== t.shape[0])
    throw new Error(`${path}: metadata "items" must list ${t.shape[0]} strings`);
  return {
    kind: meta.data.kind,
    items: items.data,
    embeddings: toFloat32(t),
    dim: t.shape[1]!,
    model: meta.data.model,
    source: meta.data.source,
    untrained: meta.data.untrained === 'true',
    precision: meta.data.precision ?? 'fp32',
    unreadable: unreadableSchema.parse(JSON.parse(meta.data.unreadable ?? '[]')),
  };
}
