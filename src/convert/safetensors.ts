/**
 * Hugging Face safetensors files, read the way the `safetensors` library reads them, with every check it makes
 * before trusting a header: an 8-byte little-endian header length, a JSON header of at most 100 MB that starts with
 * "{", tensors {dtype, shape, data_offsets} whose byte ranges cover the data section exactly (no holes, no
 * overlaps, sizes that match dtype × shape), and an optional "__metadata__" of strings. Tensor bytes are read on
 * demand, one tensor at a time, so a checkpoint of many gigabytes is never in memory.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.js';
import { regularFileSize } from '../util/files.js';

/** Bytes per element of each dtype safetensors defines. */
export const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** The safetensors library's own limit on the header: a larger one is a damaged (or hostile) file. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offset of the tensor's data in the file, and its length. */
  offset: number;
  bytes: number;
}

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  /** In the order of their data in the file. */
  tensors: SafetensorsTensor[];
  byName: Map<string, SafetensorsTensor>;
}

const bad = (path: string, why: string) => new UserError(`${path}: not a usable safetensors file: ${why}`);

function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** The header of one .safetensors file, checked; no tensor data is read. */
export function readSafetensors(path: string): SafetensorsFile {
  const size = regularFileSize(path, 'safetensors file');
  if (size < 8) throw bad(path, `it has ${size} bytes, less than the 8-byte header length`);
  const fd = openSync(path, 'r');
  let header: string;
  let dataStart: number;
  try {
    const n = readAt(fd, 8, 0).readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER_BYTES)) throw bad(path, `its header claims ${n} bytes, over the ${MAX_HEADER_BYTES} the format allows`);
    if (n + 8n > BigInt(size)) throw bad(path, `its header claims ${n} bytes but the file has ${size} (truncated?)`);
    dataStart = 8 + Number(n);
    header = readAt(fd, Number(n), 8).toString('utf8');
  } finally {
    closeSync(fd);
  }
  if (!header.startsWith('{')) throw bad(path, 'its header is not a JSON object');
  let json: unknown;
  try {
    json = JSON.parse(header);
  } catch (e) {
    throw bad(path, `its header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(path, 'its header is not a JSON object');
  return parseHeader(path, json as Record<string, unknown>, dataStart, size);
}

function parseHeader(path: string, json: Record<string, unknown>, dataStart: number, fileSize: number): SafetensorsFile {
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  const ranges: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, '"__metadata__" is not an object of strings');
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== 'string') throw bad(path, `"__metadata__.${k}" is not a string`);
        metadata[k] = x;
      }
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof t !== 'object' || t === null) throw bad(path, `tensor "${name}" is not an object`);
    const width = typeof t.dtype === 'string' ? DTYPE_BYTES[t.dtype] : undefined;
    if (width === undefined) throw bad(path, `tensor "${name}" has dtype ${JSON.stringify(t.dtype)}; known: ${Object.keys(DTYPE_BYTES).join(', ')}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(path, `tensor "${name}" has a shape that is not a list of whole numbers`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[1] < off[0]) {
      throw bad(path, `tensor "${name}" has data_offsets that are not [begin, end]`);
    }
    const shape = t.shape as number[];
    const elements = shape.reduce((a, d) => a * d, 1);
    const [begin, end] = off as [number, number];
    if (!Number.isSafeInteger(elements * width) || end - begin !== elements * width) {
      throw bad(path, `tensor "${name}" is ${JSON.stringify(shape)} ${t.dtype} (${elements * width} bytes) but its data_offsets span ${end - begin}`);
    }
    ranges.push({ name, begin, end });
    tensors.push({ name, dtype: t.dtype as string, shape, offset: dataStart + begin, bytes: end - begin });
  }
  // The data section is exactly the tensors' bytes, back to back: a hole or an overlap is a damaged file.
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const r of ranges) {
    if (r.begin !== at) throw bad(path, r.begin < at ? `tensor "${r.name}" overlaps the tensor before it` : `there are unused bytes before tensor "${r.name}"`);
    at = r.end;
  }
  if (dataStart + at !== fileSize) {
    throw bad(path, dataStart + at > fileSize
      ? `its tensors need ${dataStart + at} bytes but the file has ${fileSize} (truncated?)`
      : `it has ${fileSize - dataStart - at} bytes after the last tensor`);
  }
  tensors.sort((a, b) => a.offset - b.offset);
  return { path, metadata, tensors, byName: new Map(tensors.map((t) => [t.name, t])) };
}

/** One tensor's bytes, read from the file now (the file was checked when its header was read). */
export function tensorData(file: SafetensorsFile, t: SafetensorsTensor): Buffer {
  const fd = openSync(file.path, 'r');
  try {
    const buf = readAt(fd, t.bytes, t.offset);
    if (buf.length !== t.bytes) throw bad(file.path, `tensor "${t.name}" ends past the end of the file (it changed on disk?)`);
    return buf;
  } finally {
    closeSync(fd);
  }
}
