import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { regularFileSize } from '../util/files.js';
import { GgufError } from './errors.js';
import {
  type ByteSpan, DEFAULT_ALIGNMENT, GGUF_MAGIC, type GgufFile, type KV, type Scalar, type TensorInfo, ValueType,
} from './types.js';
import { checkTensors } from './validate.js';

const CHUNK = 1 << 20;
const MAX_DIMS = 4; // GGML_MAX_DIMS
/**
 * The most items an array may hold. The largest real ones are tokenizer vocabularies and merges (under 1M);
 * a bigger count is damage, and decoding it would take memory in proportion (2^60 empty strings fit no file
 * check, since each takes only its 8-byte length on disk).
 */
export const MAX_ARRAY_ITEMS = 1 << 22;
/**
 * The longest string we read (64 MiB): reading one means holding it, and the longest real ones (a chat
 * template, an embedded tokenizer.json) are a few MB. llama.cpp's own limit is 1 GiB.
 */
export const MAX_STRING_BYTES = 64 << 20;
/** skipArrays leaves arrays longer than this undecoded; per-layer arrays (at most 512 layers) are always read. */
const SKIP_OVER = 512;
/** Arrays always decoded: the validator needs the vocabulary's strings (llama.cpp aborts on a duplicate token). */
const ALWAYS_DECODED = new Set(['tokenizer.ggml.tokens']);

/** Sequential reader over a file descriptor; reads only the chunks it needs, never the tensor data. */
class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(private fd: number, readonly size: number, private path: string) {}

  fail(what: string): never {
    throw new GgufError(`${this.path}: ${what}`);
  }

  /** Make `n` bytes at `pos` available in the buffer and return the buffer offset of `pos`. */
  private need(n: number, what: string): number {
    if (this.pos + n > this.size) {
      this.fail(`truncated: ${what} at byte ${this.pos} needs ${n} bytes but the file ends at ${this.size}. Download the file again.`);
    }
    const off = this.pos - this.bufStart;
    if (off >= 0 && off + n <= this.buf.length) return off;
    const len = Math.min(Math.max(n, CHUNK), this.size - this.pos);
    this.buf = Buffer.alloc(len);
    const got = readSync(this.fd, this.buf, 0, len, this.pos);
    if (got < n) this.fail(`could not read ${what} at byte ${this.pos}`);
    this.bufStart = this.pos;
    return 0;
  }

  u8(): number { const o = this.need(1, 'u8'); this.pos += 1; return this.buf.readUInt8(o); }
  i8(): number { const o = this.need(1, 'i8'); this.pos += 1; return this.buf.readInt8(o); }
  u16(): number { const o = this.need(2, 'u16'); this.pos += 2; return this.buf.readUInt16LE(o); }
  i16(): number { const o = this.need(2, 'i16'); this.pos += 2; return this.buf.readInt16LE(o); }
  u32(what = 'u32'): number { const o = this.need(4, what); this.pos += 4; return this.buf.readUInt32LE(o); }
  i32(): number { const o = this.need(4, 'i32'); this.pos += 4; return this.buf.readInt32LE(o); }
  f32(): number { const o = this.need(4, 'f32'); this.pos += 4; return this.buf.readFloatLE(o); }
  f64(): number { const o = this.need(8, 'f64'); this.pos += 8; return this.buf.readDoubleLE(o); }
  u64big(what = 'u64'): bigint { const o = this.need(8, what); this.pos += 8; return this.buf.readBigUInt64LE(o); }
  i64big(): bigint { const o = this.need(8, 'i64'); this.pos += 8; return this.buf.readBigInt64LE(o); }

  /** A u64 that must fit in a JS number (counts, lengths, offsets). */
  count(what: string): number {
    const v = this.u64big(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is ${v}, which cannot be right (the file is ${this.size} bytes)`);
    return Number(v);
  }

  skip(n: number, what: string) {
    if (this.pos + n > this.size) this.fail(`truncated or corrupt: ${what} claims ${n} bytes at byte ${this.pos} but the file ends at ${this.size}`);
    this.pos += n;
  }

  str(what: string): string {
    const len = this.count(`length of ${what}`);
    if (this.pos + len > this.size) {
      this.fail(`truncated or corrupt: ${what} claims ${len} bytes at byte ${this.pos} but the file ends at ${this.size}`);
    }
    if (len > MAX_STRING_BYTES) this.fail(`${what} at byte ${this.pos} claims ${len} bytes; no GGUF string is longer than ${MAX_STRING_BYTES}, so the header is damaged. Download the file again.`);
    const at = this.pos;
    const o = this.need(len, what);
    this.pos += len;
    const bytes = this.buf.subarray(o, o + len);
    // Checked, not decoded with U+FFFD for the bad bytes: a string that is not UTF-8 is damage to report.
    // (isUtf8 + toString is ~3x faster than a fatal TextDecoder on the 128k short strings of a vocabulary.)
    if (!isUtf8(bytes)) this.fail(`${what} at byte ${at} is not valid UTF-8, so the header is damaged. Download the file again.`);
    return bytes.toString('utf8');
  }
}

const SCALAR_SIZE: Partial<Record<ValueType, number>> = {
  [ValueType.UINT8]: 1, [ValueType.INT8]: 1, [ValueType.BOOL]: 1, [ValueType.UINT16]: 2, [ValueType.INT16]: 2,
  [ValueType.UINT32]: 4, [ValueType.INT32]: 4, [ValueType.FLOAT32]: 4,
  [ValueType.UINT64]: 8, [ValueType.INT64]: 8, [ValueType.FLOAT64]: 8, [ValueType.STRING]: 8,
};

function readScalar(c: FileCursor, type: ValueType, key: string): Scalar {
  switch (type) {
    case ValueType.UINT8: return c.u8();
    case ValueType.INT8: return c.i8();
    case ValueType.UINT16: return c.u16();
    case ValueType.INT16: return c.i16();
    case ValueType.UINT32: return c.u32();
    case ValueType.INT32: return c.i32();
    case ValueType.FLOAT32: return c.f32();
    case ValueType.FLOAT64: return c.f64();
    case ValueType.BOOL: return c.u8() !== 0;
    case ValueType.STRING: return c.str(`value of ${key}`);
    case ValueType.UINT64: { const v = c.u64big(); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
    case ValueType.INT64: { const v = c.i64big(); return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v; }
    default: return c.fail(`metadata ${key} has unknown value type ${type}`);
  }
}

function readKV(c: FileCursor, skipArrays: boolean): KV {
  const key = c.str('metadata key');
  const type = c.u32('metadata type') as ValueType;
  if (type !== ValueType.ARRAY) return { key, type, value: readScalar(c, type, key) };
  const itemType = c.u32('array type') as ValueType;
  const size = SCALAR_SIZE[itemType];
  if (size === undefined) c.fail(`metadata ${key} is an array of unsupported type ${itemType}`);
  const n = c.count(`length of ${key}`);
  if (n > MAX_ARRAY_ITEMS) c.fail(`array ${key} claims ${n} items; no model has more than ${MAX_ARRAY_ITEMS}, so the header is damaged. Download the file again.`);
  if (c.pos + n * size > c.size) {
    c.fail(`truncated or corrupt: array ${key} claims ${n} items at byte ${c.pos} but the file ends at ${c.size}`);
  }
  if (skipArrays && n > SKIP_OVER && !ALWAYS_DECODED.has(key)) {
    // Walk past the items without decoding them (merges: 280k strings for Llama-3): only their count is kept.
    if (itemType === ValueType.STRING) for (let i = 0; i < n; i++) c.skip(c.count(`length of an item of ${key}`), key);
    else c.skip(n * size, key);
    return { key, type, itemType, value: [], skipped: n };
  }
  const value: Scalar[] = new Array(n);
  for (let i = 0; i < n; i++) value[i] = readScalar(c, itemType, key);
  return { key, type, itemType, value };
}

export interface ReadOptions {
  /** Skip the check that every tensor's data lies inside the file (for a file still being written). */
  allowTruncatedData?: boolean;
  /**
   * Do not decode arrays of more than 512 items (the tokenizer's merges and scores); their KV has `skipped` = the
   * item count. The vocabulary itself is always decoded.
   */
  skipArrays?: boolean;
  /** Also report where each metadata entry and the tensor infos lie in the file (for editing the header in place). */
  layout?: boolean;
}

/** Read a GGUF file's header, metadata and tensor infos. Tensor data is never read. */
export function readGguf(path: string, opts: ReadOptions = {}): GgufFile {
  // Before openSync: opening a FIFO blocks until a writer comes, and a device never ends.
  regularFileSize(path, 'GGUF file');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GgufError(`${path}: no such file. Check the path.`);
    if (code === 'EISDIR') throw new GgufError(`${path} is a folder, not a GGUF file. Name the .gguf file inside it.`);
    throw new GgufError(`${path}: cannot open (${code ?? String(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new GgufError(`${path} is a folder, not a GGUF file. Name the .gguf file inside it.`);
    const size = st.size;
    const c = new FileCursor(fd, size, path);
    if (size < 4) c.fail(`not a GGUF file (only ${size} bytes)`);
    const magic = c.u32('magic');
    if (magic !== GGUF_MAGIC) {
      const shown = Buffer.alloc(4); shown.writeUInt32LE(magic);
      c.fail(`not a GGUF file (starts with ${JSON.stringify(shown.toString('latin1'))}, expected "GGUF"). Convert the model to GGUF first, e.g. with llama.cpp's convert_hf_to_gguf.py.`);
    }
    const version = c.u32('version');
    if (version < 2 || version > 3) c.fail(`GGUF version ${version} is not supported (versions 2 and 3 are)`);
    const nTensors = c.count('tensor count');
    const nKV = c.count('metadata count');
    // Every KV takes at least 12 bytes and every tensor info at least 28: a lying count is caught before allocating.
    if (nKV * 12 + nTensors * 28 > size) c.fail(`corrupt header: ${nKV} metadata entries and ${nTensors} tensors cannot fit in ${size} bytes`);

    const metadata = new Map<string, KV>();
    const spans = new Map<string, ByteSpan>();
    for (let i = 0; i < nKV; i++) {
      const start = c.pos;
      const kv = readKV(c, !!opts.skipArrays);
      // llama.cpp refuses a duplicate key; keeping either value would show what llama.cpp never uses.
      if (metadata.has(kv.key)) c.fail(`metadata key ${kv.key} appears twice (entry ${i + 1} of ${nKV}), so the header is damaged. Download the file again.`);
      metadata.set(kv.key, kv);
      spans.set(kv.key, { start, end: c.pos });
    }
    const tensorInfoStart = c.pos;
    const tensors: TensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.str('tensor name');
      const nDims = c.u32('tensor dims');
      if (nDims < 1 || nDims > MAX_DIMS) c.fail(`tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(c.count(`dimension of ${name}`));
      const type = c.u32('tensor type');
      const offset = c.count(`offset of ${name}`);
      tensors.push({ name, dims, type, offset });
    }
    const alignKV = metadata.get('general.alignment');
    if (alignKV && alignKV.type !== ValueType.UINT32) c.fail('general.alignment must be a u32 (llama.cpp refuses any other type)');
    const alignment = typeof alignKV?.value === 'number' ? alignKV.value : DEFAULT_ALIGNMENT;
    if (alignment < 1 || (alignment & (alignment - 1)) !== 0) c.fail(`general.alignment ${alignment} is not a power of two`);
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;

    const layout = opts.layout ? { spans, tensorInfos: { start: tensorInfoStart, end: c.pos } } : undefined;
    const file: GgufFile = { path, version, metadata, tensors, alignment, dataOffset, fileSize: size, ...(layout && { layout }) };
    checkTensors(file, { allowTruncatedData: opts.allowTruncatedData });
    return file;
  } finally {
    closeSync(fd);
  }
}
