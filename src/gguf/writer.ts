import { open, rename, rm } from 'node:fs/promises';
import { outputTarget, tempDone, tempPath, writeFailure } from '../util/files.js';
import { GgufError } from './errors.js';
import { DEFAULT_ALIGNMENT, GGUF_MAGIC, type KV, type Scalar, ValueType, tensorBytes } from './types.js';

/** Tensor data: the bytes, or a producer that streams them (for files larger than memory). */
export type TensorData = Uint8Array | ((write: (chunk: Uint8Array) => Promise<void>) => Promise<void>);

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  type: number;
  data: TensorData;
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  buf = Buffer.alloc(1 << 16);
  len = 0;
  private room(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number) { this.room(1); this.buf.writeUInt8(v, this.len); this.len += 1; }
  i8(v: number) { this.room(1); this.buf.writeInt8(v, this.len); this.len += 1; }
  u16(v: number) { this.room(2); this.buf.writeUInt16LE(v, this.len); this.len += 2; }
  i16(v: number) { this.room(2); this.buf.writeInt16LE(v, this.len); this.len += 2; }
  u32(v: number) { this.room(4); this.buf.writeUInt32LE(v, this.len); this.len += 4; }
  i32(v: number) { this.room(4); this.buf.writeInt32LE(v, this.len); this.len += 4; }
  f32(v: number) { this.room(4); this.buf.writeFloatLE(v, this.len); this.len += 4; }
  f64(v: number) { this.room(8); this.buf.writeDoubleLE(v, this.len); this.len += 8; }
  u64(v: number | bigint) { this.room(8); this.buf.writeBigUInt64LE(BigInt(v), this.len); this.len += 8; }
  i64(v: number | bigint) { this.room(8); this.buf.writeBigInt64LE(BigInt(v), this.len); this.len += 8; }
  str(s: string) {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.room(bytes.length); bytes.copy(this.buf, this.len); this.len += bytes.length;
  }
  pad(alignment: number) { const n = (alignment - (this.len % alignment)) % alignment; this.room(n); this.buf.fill(0, this.len, this.len + n); this.len += n; }
}

function writeScalar(s: ByteSink, type: ValueType, v: Scalar, key: string) {
  switch (type) {
    case ValueType.UINT8: return s.u8(Number(v));
    case ValueType.INT8: return s.i8(Number(v));
    case ValueType.UINT16: return s.u16(Number(v));
    case ValueType.INT16: return s.i16(Number(v));
    case ValueType.UINT32: return s.u32(Number(v));
    case ValueType.INT32: return s.i32(Number(v));
    case ValueType.FLOAT32: return s.f32(Number(v));
    case ValueType.FLOAT64: return s.f64(Number(v));
    case ValueType.BOOL: return s.u8(v ? 1 : 0);
    case ValueType.STRING: return s.str(String(v));
    case ValueType.UINT64: return s.u64(typeof v === 'bigint' ? v : Number(v));
    case ValueType.INT64: return s.i64(typeof v === 'bigint' ? v : Number(v));
    default: throw new GgufError(`cannot write metadata ${key}: unknown value type ${type}`);
  }
}

function writeKV(s: ByteSink, m: KV) {
  s.str(m.key);
  s.u32(m.type);
  if (m.type === ValueType.ARRAY) {
    const items = m.value as Scalar[];
    if (m.itemType === undefined) throw new GgufError(`metadata ${m.key}: array without an item type`);
    s.u32(m.itemType);
    s.u64(items.length);
    for (const it of items) writeScalar(s, m.itemType, it, m.key);
  } else {
    writeScalar(s, m.type, m.value as Scalar, m.key);
  }
}

/** One metadata entry as it lies in a GGUF header: key, type, value. */
export function encodeKV(m: KV): Buffer {
  const s = new ByteSink();
  writeKV(s, m);
  return s.buf.subarray(0, s.len);
}

/** Metadata constructors that pin the on-disk type (llama.cpp is strict: a u32 key must be u32). */
export const kv = {
  str: (key: string, value: string): KV => ({ key, type: ValueType.STRING, value }),
  u16: (key: string, value: number): KV => ({ key, type: ValueType.UINT16, value }),
  u32: (key: string, value: number): KV => ({ key, type: ValueType.UINT32, value }),
  i32: (key: string, value: number): KV => ({ key, type: ValueType.INT32, value }),
  f32: (key: string, value: number): KV => ({ key, type: ValueType.FLOAT32, value }),
  bool: (key: string, value: boolean): KV => ({ key, type: ValueType.BOOL, value }),
  strs: (key: string, value: string[]): KV => ({ key, type: ValueType.ARRAY, itemType: ValueType.STRING, value }),
  i32s: (key: string, value: number[]): KV => ({ key, type: ValueType.ARRAY, itemType: ValueType.INT32, value }),
};

/** Serialise header, metadata and tensor infos; returns the header bytes (padded) and each tensor's offset. */
export function encodeHeader(metadata: KV[], tensors: Pick<TensorSpec, 'name' | 'dims' | 'type'>[], alignment = DEFAULT_ALIGNMENT) {
  const s = new ByteSink();
  s.u32(GGUF_MAGIC);
  s.u32(3);
  s.u64(tensors.length);
  const declared = metadata.find((m) => m.key === 'general.alignment');
  if (declared && declared.value !== alignment) {
    throw new GgufError(`general.alignment is ${declared.value} in the metadata but the data is laid out for ${alignment}`);
  }
  const all = declared || alignment === DEFAULT_ALIGNMENT ? metadata : [...metadata, kv.u32('general.alignment', alignment)];
  s.u64(all.length);
  for (const m of all) writeKV(s, m);
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t.type, t.dims);
    if (bytes === undefined || !Number.isInteger(bytes)) {
      throw new GgufError(`tensor ${t.name}: shape [${t.dims}] does not fit type ${t.type}`);
    }
    s.str(t.name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(d);
    s.u32(t.type);
    s.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(bytes / alignment) * alignment;
  }
  s.pad(alignment);
  return { header: s.buf.subarray(0, s.len), offsets, dataBytes: offset };
}

/**
 * Write a GGUF v3 file atomically: everything goes to a temp file beside the target, which is renamed
 * over it only when complete, so a crash never leaves a half-written model under the real name.
 */
export async function writeGguf(named: string, metadata: KV[], tensors: TensorSpec[], alignment = DEFAULT_ALIGNMENT): Promise<void> {
  const path = outputTarget(named);
  const { header } = encodeHeader(metadata, tensors, alignment);
  const tmp = tempPath(path);
  let fh;
  try {
    fh = await open(tmp, 'w');
  } catch (e) {
    throw writeFailure(path, e);
  }
  try {
    let pos = 0;
    const write = async (chunk: Uint8Array) => {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, pos);
        done += bytesWritten; pos += bytesWritten;
      }
    };
    await write(header);
    for (const t of tensors) {
      const expected = tensorBytes(t.type, t.dims)!;
      const start = pos;
      if (typeof t.data === 'function') await t.data(write);
      else await write(t.data);
      if (pos - start !== expected) throw new GgufError(`tensor ${t.name}: wrote ${pos - start} bytes, expected ${expected}`);
      const pad = (alignment - (pos % alignment)) % alignment;
      if (pad) await write(new Uint8Array(pad));
    }
    await fh.close();
    try {
      await rename(tmp, path);
    } catch (e) {
      throw writeFailure(path, e);
    }
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  } finally {
    tempDone(tmp);
  }
}
