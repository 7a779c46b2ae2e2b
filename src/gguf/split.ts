import { basename } from 'node:path';
import { UserError } from '../errors.js';
import { readGguf } from './reader.js';
import { SPLIT_COUNT, SPLIT_NO, SPLIT_TENSORS, splitPartName } from './splitNames.js';
import { type GgufFile, type KV, type TensorInfo, tensorBytes } from './types.js';
import { encodeHeader, kv } from './writer.js';

/** A run of a part's bytes: built in memory (headers, padding), or a range of the source file (tensor data). */
export type SplitPiece = { kind: 'bytes'; data: Uint8Array } | { kind: 'file'; offset: number; length: number };
export interface SplitPart { name: string; size: number; pieces: SplitPiece[] }
export interface SplitPlan { source: string; parts: SplitPart[] }

/** Browsers refuse an ArrayBuffer over 2 GiB, and wllama holds each tensor of a part in one. */
export const MAX_BROWSER_TENSOR = 2 ** 31;

const padded = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment;

/**
 * Tensors grouped as llama-gguf-split --split-max-size groups them: in order, a new part when the current one
 * has a tensor and its padded tensor bytes plus the next tensor's would pass maxBytes (headers are not counted).
 */
function groupTensors(f: GgufFile, maxBytes: number): TensorInfo[][] {
  const groups: TensorInfo[][] = [[]];
  let bytes = 0;
  for (const t of f.tensors) {
    const n = padded(tensorBytes(t.type, t.dims)!, f.alignment);
    if (groups.at(-1)!.length && bytes + n > maxBytes) { groups.push([]); bytes = 0; }
    groups.at(-1)!.push(t);
    bytes += n;
  }
  return groups;
}

/** One part: its header (part 1 with all the source's metadata), then each tensor's bytes from the source, padded. */
function planPart(f: GgufFile, name: string, tensors: TensorInfo[], index: number, count: number): SplitPart {
  const split = [kv.u16(SPLIT_NO, index), kv.u16(SPLIT_COUNT, count), kv.i32(SPLIT_TENSORS, f.tensors.length)];
  // gguf-split: all KVs in the first part only, the split keys after them. encodeHeader adds general.alignment
  // to the other parts when it is not 32, so that llama.cpp reads their data where we wrote it.
  const metadata: KV[] = index === 0 ? [...f.metadata.values(), ...split] : split;
  const { header } = encodeHeader(metadata, tensors, f.alignment);
  const pieces: SplitPiece[] = [{ kind: 'bytes', data: header }];
  let size = header.length;
  for (const t of tensors) {
    const length = tensorBytes(t.type, t.dims)!;
    pieces.push({ kind: 'file', offset: f.dataOffset + t.offset, length });
    const pad = padded(length, f.alignment) - length;
    if (pad) pieces.push({ kind: 'bytes', data: new Uint8Array(pad) });
    size += length + pad;
  }
  return { name, size, pieces };
}

/**
 * How a GGUF is given to a browser: llama.cpp split parts of at most about `maxBytes` of tensor data each (wllama
 * loads them by the names llama.cpp derives from the first). A model that fits one part is the file as is.
 */
export function planSplit(path: string, o: { maxBytes: number; base: string }): SplitPlan {
  if (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < 1) throw new UserError(`the largest part must be a whole number of bytes (got ${o.maxBytes})`);
  if (basename(o.base) !== o.base || !o.base) throw new UserError(`a part's base name must be a file name without a folder (got ${JSON.stringify(o.base)})`);
  const f = readGguf(path);
  const count = f.metadata.get(SPLIT_COUNT);
  if (count) {
    throw new UserError(`${path} is already part of a split model (${SPLIT_COUNT} ${count.value}); give the whole model as one GGUF (llama-gguf-split --merge joins the parts)`);
  }
  for (const t of f.tensors) {
    const n = tensorBytes(t.type, t.dims)!;
    if (n > MAX_BROWSER_TENSOR) {
      throw new UserError(`${path}: tensor ${t.name} is ${(n / 2 ** 30).toFixed(2)} GiB; a browser cannot load a tensor over 2 GiB (its ArrayBuffer limit). Use a smaller model or quantization`);
    }
  }
  const groups = groupTensors(f, o.maxBytes);
  // split.no and split.count are u16 in llama.cpp.
  if (groups.length > 0xffff) throw new UserError(`${path} would make ${groups.length} parts; llama.cpp takes at most 65535. Give a larger part size`);
  if (groups.length === 1) {
    return { source: path, parts: [{ name: `${o.base}.gguf`, size: f.fileSize, pieces: [{ kind: 'file', offset: 0, length: f.fileSize }] }] };
  }
  return { source: path, parts: groups.map((g, i) => planPart(f, splitPartName(o.base, i, groups.length), g, i, groups.length)) };
}
