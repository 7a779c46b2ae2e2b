/** GGUF on-disk value types (gguf.h `gguf_type`). */
export enum ValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

/**
 * The ggml tensor types of the llama.cpp we ship (ggml.h, node-llama-cpp's llama.cpp v0.5.0): [name, elements per
 * block, bytes per block]. The gaps (4, 5, 31-33, 36-38) are types llama.cpp removed; anything else is refused.
 */
export const TENSOR_TYPES: Record<number, readonly [string, number, number]> = {
  0: ['F32', 1, 4], 1: ['F16', 1, 2], 2: ['Q4_0', 32, 18], 3: ['Q4_1', 32, 20],
  6: ['Q5_0', 32, 22], 7: ['Q5_1', 32, 24], 8: ['Q8_0', 32, 34], 9: ['Q8_1', 32, 36],
  10: ['Q2_K', 256, 84], 11: ['Q3_K', 256, 110], 12: ['Q4_K', 256, 144], 13: ['Q5_K', 256, 176],
  14: ['Q6_K', 256, 210], 15: ['Q8_K', 256, 292], 16: ['IQ2_XXS', 256, 66], 17: ['IQ2_XS', 256, 74],
  18: ['IQ3_XXS', 256, 98], 19: ['IQ1_S', 256, 50], 20: ['IQ4_NL', 32, 18], 21: ['IQ3_S', 256, 110],
  22: ['IQ2_S', 256, 82], 23: ['IQ4_XS', 256, 136], 24: ['I8', 1, 1], 25: ['I16', 1, 2],
  26: ['I32', 1, 4], 27: ['I64', 1, 8], 28: ['F64', 1, 8], 29: ['IQ1_M', 256, 56],
  30: ['BF16', 1, 2], 34: ['TQ1_0', 256, 54], 35: ['TQ2_0', 256, 66], 39: ['MXFP4', 32, 17],
  40: ['NVFP4', 64, 36], 41: ['Q1_0', 128, 18], 42: ['Q2_0', 64, 18],
};

export const TensorType = { F32: 0, F16: 1, Q8_0: 8 } as const;

export type Scalar = number | bigint | boolean | string;

/** One metadata entry, with its on-disk type so that it can be written back unchanged. */
export interface KV {
  key: string;
  type: ValueType;
  /** Element type when `type` is ARRAY. */
  itemType?: ValueType;
  value: Scalar | Scalar[];
  /** Item count of an array that was read with `skipArrays` (its `value` is then empty). */
  skipped?: number;
}

export interface TensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Offset of the data, relative to the start of the data section. */
  offset: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, KV>;
  tensors: TensorInfo[];
  alignment: number;
  /** Absolute file offset where tensor data starts. */
  dataOffset: number;
  fileSize: number;
  /** With `readGguf(path, {layout: true})`: where the header's parts lie in the file. */
  layout?: HeaderLayout;
}

/** Bytes [start, end) of the file. */
export interface ByteSpan {
  start: number;
  end: number;
}

export interface HeaderLayout {
  /** Each metadata entry, key and type included. */
  spans: Map<string, ByteSpan>;
  /** All tensor infos; `end` is where the header ends before its padding to the alignment. */
  tensorInfos: ByteSpan;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const DEFAULT_ALIGNMENT = 32;

export function tensorElements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Bytes a tensor's data takes, or undefined for a type we do not know. */
export function tensorBytes(type: number, dims: readonly number[]): number | undefined {
  const t = TENSOR_TYPES[type];
  if (!t) return undefined;
  return (tensorElements(dims) / t[1]) * t[2];
}

export function tensorTypeName(type: number): string {
  return TENSOR_TYPES[type]?.[0] ?? `type${type}`;
}

/** Typed accessor for a metadata value. */
export function meta<T extends Scalar | Scalar[]>(file: Pick<GgufFile, 'metadata'>, key: string): T | undefined {
  return file.metadata.get(key)?.value as T | undefined;
}
