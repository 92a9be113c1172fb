// Element types the engine knows, and their ONNX / ONNX Runtime names.
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';

export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
};

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
};

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int64'
    ? BigInt64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'float16'
        ? Uint16Array
        : Uint8Array;

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float16';
