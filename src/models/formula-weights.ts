// Deterministic weights computed from a parameter's name and element index, identically in
// TypeScript and in the PyTorch fixture script (scripts/fixtures/models_parity.py). They let the
// parity tests run full-size models (ViT-B, Swin-T, BERT-base) against PyTorch without shipping
// hundreds of megabytes of weights: only inputs and outputs are committed.
export function nameSeed(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 1000003;
  return h / 1000003;
}

/** Values around `base` with amplitude `scale`, varying quickly with the index. */
export function formulaValues(name: string, shape: readonly number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const phase = nameSeed(name) * 2 * Math.PI;
  const leaf = name.split('.').pop() ?? '';
  // The only 1-D "weight"s are normalisation scales (LayerNorm, BatchNorm): keep them near 1.
  const isNormWeight = leaf === 'weight' && shape.length === 1;
  let base = 0;
  let scale = 0.02;
  if (leaf === 'running_var') [base, scale] = [1, 0.5];
  else if (leaf === 'running_mean') [base, scale] = [0, 0.1];
  else if (isNormWeight || leaf === 'gamma') [base, scale] = [1, 0.1];
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = base + scale * Math.sin(i * 0.7548776662 + phase);
  return out;
}
