// Inputs for tests of KEP-shaped models: deterministic pixels, token ids with [CLS]-like first ids,
// and attention masks with some padding.
import { ort } from '../engine/runtime.ts';

export function kepTestBatch(
  n: number,
  size: number,
  seq: number,
): { pixels: ort.Tensor; ids: ort.Tensor; mask: ort.Tensor } {
  const px = Float32Array.from({ length: n * 3 * size * size }, (_, i) => Math.sin(i * 0.37));
  const ids = BigInt64Array.from({ length: n * seq }, (_, i) =>
    BigInt(i % seq === 0 ? 2 : ((i * 7) % 900) + 5),
  );
  const mask = BigInt64Array.from({ length: n * seq }, (_, i) => (i % seq < seq - (i % 3) ? 1n : 0n));
  return {
    pixels: new ort.Tensor('float32', px, [n, 3, size, size]),
    ids: new ort.Tensor('int64', ids, [n, seq]),
    mask: new ort.Tensor('int64', mask, [n, seq]),
  };
}
