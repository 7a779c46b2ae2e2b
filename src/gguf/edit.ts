/**
 * Metadata edits on a GGUF file. The new header is spliced from the old one: every entry that is not edited
 * keeps its exact bytes (a decode/encode round trip would turn strings that are not valid UTF-8 into U+FFFD,
 * and would need the 400k tokenizer strings decoded), and the tensor infos are kept as they are: their
 * offsets are relative to the data section, so they stay valid wherever that section starts.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { type FileHandle, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { outputTarget, sameFile, tempDone, tempPath, writeFailure } from '../util/files.js';
import { GgufError } from './errors.js';
import { readGguf } from './reader.js';
import { type GgufFile, type KV, type Scalar, ValueType } from './types.js';
import { fileProblem } from './validate.js';
import { encodeKV } from './writer.js';

/** The value types `KEY:TYPE=VALUE` names (gguf-py's short names). */
export const VALUE_TYPES: Record<string, ValueType> = {
  u8: ValueType.UINT8, i8: ValueType.INT8, u16: ValueType.UINT16, i16: ValueType.INT16,
  u32: ValueType.UINT32, i32: ValueType.INT32, u64: ValueType.UINT64, i64: ValueType.INT64,
  f32: ValueType.FLOAT32, f64: ValueType.FLOAT64, bool: ValueType.BOOL, str: ValueType.STRING,
};

export function typeName(type: ValueType, itemType?: ValueType): string {
  if (type === ValueType.ARRAY) return `array of ${itemType === undefined ? '?' : typeName(itemType)}`;
  return Object.keys(VALUE_TYPES).find((k) => VALUE_TYPES[k] === type) ?? `type ${type}`;
}

const INT_RANGE: Partial<Record<ValueType, readonly [bigint, bigint]>> = {
  [ValueType.UINT8]: [0n, 255n], [ValueType.INT8]: [-128n, 127n],
  [ValueType.UINT16]: [0n, 65535n], [ValueType.INT16]: [-32768n, 32767n],
  [ValueType.UINT32]: [0n, 4294967295n], [ValueType.INT32]: [-2147483648n, 2147483647n],
  [ValueType.UINT64]: [0n, 2n ** 64n - 1n], [ValueType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
};
const F32_MAX = 3.4028234663852886e38;

/** One `KEY=VALUE` or `KEY:TYPE=VALUE` from the command line, not yet checked against a file. */
export interface Assignment {
  key: string;
  type?: ValueType;
  raw: string;
}

export function parseAssignment(spec: string): Assignment {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UserError(`"${spec}" is not KEY=VALUE (or KEY:TYPE=VALUE to add a key)`, 2);
  const left = spec.slice(0, eq);
  const raw = spec.slice(eq + 1);
  const colon = left.lastIndexOf(':');
  if (colon < 0) return { key: left, raw };
  const key = left.slice(0, colon);
  const name = left.slice(colon + 1);
  const type = VALUE_TYPES[name];
  if (type === undefined) throw new UserError(`unknown type "${name}" in "${spec}"; use one of ${Object.keys(VALUE_TYPES).join(', ')}`, 2);
  if (!key) throw new UserError(`"${spec}" has no key before the type`, 2);
  return { key, type, raw };
}

/** A JS number when it is exact, else a bigint: what the reader gives for 64-bit values. */
function intScalar(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Check `v` against the type's range; returns the value as it will be stored (f32 rounded). */
export function checkValue(key: string, type: ValueType, v: number | bigint, shown = String(v)): Scalar {
  const bad = (why: string) => new UserError(`${key} is ${typeName(type)}: ${why}`, 2);
  const range = INT_RANGE[type];
  if (range) {
    if (typeof v === 'number' && !Number.isInteger(v)) throw bad(`${shown} is not a whole number`);
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw bad(`${shown} is too large to be exact; write it out in digits`);
    const b = BigInt(v);
    if (b < range[0] || b > range[1]) throw bad(`${shown} is out of range (${range[0]} to ${range[1]})`);
    return intScalar(b);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw bad(`${shown} is not a finite number`);
  if (type === ValueType.FLOAT32) {
    if (Math.abs(n) > F32_MAX) throw bad(`${shown} is out of range (at most ${F32_MAX} in size)`);
    return Math.fround(n);
  }
  return n;
}

/** A value typed on the command line, as `type`; a one-line error when it does not fit. */
export function parseValue(key: string, type: ValueType, raw: string): Scalar {
  if (type === ValueType.STRING) return raw;
  const shown = JSON.stringify(raw);
  if (type === ValueType.BOOL) {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new UserError(`${key} is bool: ${shown} must be true or false`, 2);
  }
  const t = raw.trim();
  // Integers in digits are read exactly (u64 values beyond 2^53); anything else (1e6, 0x10) as a JS number.
  if (INT_RANGE[type] && /^[+-]?\d+$/.test(t)) return checkValue(key, type, BigInt(t), raw);
  const n = Number(t);
  if (t === '' || Number.isNaN(n)) throw new UserError(`${key} is ${typeName(type)}: ${shown} is not a number`, 2);
  return checkValue(key, type, n, raw);
}

/** One edit of the metadata: a new value (with its type), or a removal. */
export interface Change {
  key: string;
  /** The type written; undefined when the key is removed. */
  type?: ValueType;
  value?: Scalar;
  /** The entry as it was; undefined when the key is new. */
  old?: KV;
}

/** Keys that cannot be edited without moving the tensor data. */
function checkEditable(key: string) {
  if (key === 'general.alignment') throw new UserError('general.alignment cannot be edited: the tensor data is laid out for it', 2);
}

/** Check assignments and removals against the file's metadata: existing keys keep their type unless one is given. */
export function planEdits(file: GgufFile, assignments: Assignment[], removals: string[] = []): Change[] {
  const seen = new Set<string>();
  const once = (key: string) => {
    if (seen.has(key)) throw new UserError(`${key} is given twice`, 2);
    seen.add(key);
  };
  const changes: Change[] = [];
  for (const a of assignments) {
    once(a.key);
    checkEditable(a.key);
    // GGUF keys are ASCII (the spec asks for lower_snake_case.separated.by.dots).
    if (!/^[\x21-\x7e]+$/.test(a.key)) throw new UserError(`"${a.key}" is not a valid key: use printable ASCII without spaces`, 2);
    const old = file.metadata.get(a.key);
    if (old?.type === ValueType.ARRAY) {
      const n = old.skipped ?? (old.value as Scalar[]).length;
      throw new UserError(`${a.key} is an array (${n} items of ${typeName(old.itemType!)}); gguf set changes single values only`, 2);
    }
    const type = a.type ?? old?.type;
    if (type === undefined) {
      throw new UserError(`${a.key} is not in ${file.path}; to add it, give its type: ${a.key}:TYPE=${a.raw} (TYPE one of ${Object.keys(VALUE_TYPES).join(', ')})`, 2);
    }
    changes.push({ key: a.key, type, value: parseValue(a.key, type, a.raw), old });
  }
  for (const key of removals) {
    once(key);
    checkEditable(key);
    const old = file.metadata.get(key);
    if (!old) throw new UserError(`${key} is not in ${file.path}; nothing to delete`, 2);
    changes.push({ key, old });
  }
  return changes;
}

/**
 * Refuse edits whose result llama.cpp would refuse or abort on (a block_count of 0, too few heads): the file as
 * it would be after the changes goes through the validator. A damaged file can be repaired by setting the
 * damaged value, but no edit may leave one damaged.
 */
export function checkEdited(file: GgufFile, changes: Change[]) {
  const metadata = new Map(file.metadata);
  for (const c of changes) {
    if (c.type === undefined) metadata.delete(c.key);
    else metadata.set(c.key, { key: c.key, type: c.type, value: c.value! });
  }
  const problem = fileProblem({ ...file, metadata });
  if (problem) {
    throw new GgufError(`${file.path}: ${problem}; nothing was written. Set a valid value in the same command, or download the file again`);
  }
}

/** Whether a change leaves the entry exactly as it was. */
export function isNoop(c: Change): boolean {
  return c.old !== undefined && c.type === c.old.type && c.value === c.old.value;
}

export interface HeaderPatch {
  /** Absolute file offset of the first byte that differs. */
  offset: number;
  /** The bytes there now, and what replaces them (same length). */
  old: Buffer;
  new: Buffer;
}

export interface EditedHeader {
  /** The whole new header, padded with zeros to the alignment: the tensor data follows it. */
  bytes: Buffer;
  /**
   * When the new header (before its padding) is exactly as long as the old one, the file can be patched in
   * place: the one run of bytes that differs, or null when none does. Undefined when the length changes.
   */
  patch?: HeaderPatch | null;
}

/** Splice the changes into the header. `header` holds the file's bytes from 0 to the end of the tensor infos. */
export function editHeader(file: GgufFile, header: Uint8Array, changes: Change[]): EditedHeader {
  const layout = file.layout;
  if (!layout) throw new Error('editHeader needs readGguf(path, { layout: true })');
  if (header.length !== layout.tensorInfos.end) throw new Error(`editHeader needs the ${layout.tensorInfos.end} header bytes, got ${header.length}`);
  const view = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  const declared = view.readBigUInt64LE(16);
  if (declared !== BigInt(layout.spans.size)) {
    throw new GgufError(`${file.path} has ${declared} metadata entries but ${layout.spans.size} distinct keys; a file with duplicate keys cannot be edited safely`);
  }
  const byKey = new Map(changes.map((c) => [c.key, c]));
  const count = Buffer.alloc(8);
  const parts: Uint8Array[] = [view.subarray(0, 16), count]; // magic, version, tensor count; then the metadata count
  let n = 0;
  for (const [key, span] of layout.spans) {
    const c = byKey.get(key);
    if (!c) parts.push(view.subarray(span.start, span.end));
    else if (c.type !== undefined) parts.push(encodeKV({ key, type: c.type, value: c.value! }));
    else continue; // removed
    n++;
  }
  for (const c of changes) {
    if (c.old === undefined && c.type !== undefined) {
      parts.push(encodeKV({ key: c.key, type: c.type, value: c.value! }));
      n++;
    }
  }
  count.writeBigUInt64LE(BigInt(n));
  parts.push(view.subarray(layout.tensorInfos.start, layout.tensorInfos.end));
  const body = Buffer.concat(parts);
  const bytes = Buffer.alloc(Math.ceil(body.length / file.alignment) * file.alignment);
  body.copy(bytes);
  if (body.length !== view.length) return { bytes };
  let first = 0;
  while (first < body.length && body[first] === view[first]) first++;
  if (first === body.length) return { bytes, patch: null };
  let last = body.length - 1;
  while (body[last] === view[last]) last--;
  return { bytes, patch: { offset: first, old: Buffer.from(view.subarray(first, last + 1)), new: body.subarray(first, last + 1) } };
}

/** A GGUF opened for editing: its parsed header (arrays not decoded) and the header's bytes. */
export interface GgufForEdit {
  file: GgufFile;
  header: Buffer;
}

/** Read a GGUF's header for editing (one read of the header bytes; the tensor data is not touched). */
export function readForEdit(path: string): GgufForEdit {
  const file = readGguf(path, { skipArrays: true, layout: true });
  const header = Buffer.alloc(file.layout!.tensorInfos.end);
  const fd = openSync(path, 'r');
  try {
    for (let got = 0; got < header.length;) {
      const n = readSync(fd, header, got, header.length - got, got);
      if (n === 0) throw new GgufError(`${path} got shorter while it was being read; run the command again`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return { file, header };
}

export interface WriteReport {
  /** unchanged: nothing differed; patched: header bytes overwritten in place; rewritten: a new file. */
  mode: 'unchanged' | 'patched' | 'rewritten';
  /** The file written (the real path, when the one given is a symbolic link). */
  path: string;
  /** patched: where and how many bytes. */
  offset?: number;
  bytes?: number;
  /** rewritten: the new header's size and the tensor data copied. */
  headerBytes?: number;
  dataBytes?: number;
}

export interface WriteOptions {
  /** Write a new file here instead of editing the original. */
  out?: string;
  /** Progress of the tensor-data copy of a rewrite. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/**
 * Write the changes. Without `out`, a header of unchanged length is patched in place (one positional write
 * of the bytes that differ, after checking the file still holds the old ones); anything else is a new file
 * (new header, tensor data copied) written beside the destination and renamed over it.
 */
export async function writeEdits(src: GgufForEdit, changes: Change[], o: WriteOptions = {}): Promise<WriteReport> {
  const edited = editHeader(src.file, src.header, changes);
  // A symbolic link is followed (the file it points to is edited); the report names that file then.
  const real = await realpath(src.file.path);
  const path = real === resolve(src.file.path) ? src.file.path : real;
  if (o.out === undefined) {
    if (edited.patch === null) return { mode: 'unchanged', path };
    if (edited.patch) {
      await patchInPlace(path, src.file.fileSize, edited.patch);
      verify(path, src.file, changes);
      return { mode: 'patched', path, offset: edited.patch.offset, bytes: edited.patch.new.length };
    }
  }
  const dest = o.out ?? path;
  await rewrite(src.file, edited.bytes, dest, changes, o.onProgress);
  return { mode: 'rewritten', path: dest, headerBytes: edited.bytes.length, dataBytes: src.file.fileSize - src.file.dataOffset };
}

/**
 * Where `--out` writes: the path itself, or the source's name inside it when it is a folder. An existing file
 * is replaced only with `force`. `--out` promises to leave the source alone, so naming the source (directly, as
 * its folder, or through a link) is refused rather than quietly editing it in place.
 */
export async function outputPath(source: string, out: string, force = false): Promise<string> {
  let dest = out;
  const st = await stat(dest).catch(() => undefined);
  if (st?.isDirectory()) dest = join(dest, basename(source));
  const existing = st?.isDirectory() ? await stat(dest).catch(() => undefined) : st;
  if (!existing) return dest;
  if (sameFile(dest, source)) {
    throw new UserError(`--out ${out} is ${source} itself; give another path, or leave --out away to change ${source} in place`);
  }
  if (!force) throw new UserError(`${dest} already exists; pass --force to replace it`);
  return dest;
}

async function readFully(fh: FileHandle, buf: Buffer, position: number) {
  for (let got = 0; got < buf.length;) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) return got;
    got += bytesRead;
  }
  return buf.length;
}

async function writeFully(fh: FileHandle, buf: Uint8Array, position: number) {
  for (let done = 0; done < buf.length;) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function patchInPlace(path: string, size: number, patch: HeaderPatch) {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (e) {
    throw writeFailure(path, e);
  }
  try {
    const changed = () => new GgufError(`${path} changed on disk since it was read; nothing was written. Run the command again`);
    if ((await fh.stat()).size !== size) throw changed();
    const now = Buffer.alloc(patch.old.length);
    if ((await readFully(fh, now, patch.offset)) !== now.length || !now.equals(patch.old)) throw changed();
    await writeFully(fh, patch.new, patch.offset);
    await fh.sync();
  } catch (e) {
    throw e instanceof UserError || !(e as NodeJS.ErrnoException).code ? e : writeFailure(path, e);
  } finally {
    await fh.close();
  }
}

const COPY_CHUNK = 8 << 20;

async function rewrite(file: GgufFile, header: Buffer, named: string, changes: Change[], onProgress?: WriteOptions['onProgress']) {
  // A symlinked destination is written through, not replaced by a file (see outputTarget).
  const dest = outputTarget(named);
  const input = await open(file.path, 'r');
  const tmp = tempPath(dest);
  let out: FileHandle | undefined;
  try {
    try {
      out = await open(tmp, 'w');
    } catch (e) {
      throw writeFailure(dest, e);
    }
    await out.chmod((await input.stat()).mode & 0o777);
    await writeFully(out, header, 0);
    // The data section, tensors and their padding, copied byte for byte: offsets are relative to its start,
    // and the new header is padded to the same alignment, so every tensor stays aligned.
    const total = file.fileSize - file.dataOffset;
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(COPY_CHUNK, total)));
    for (let done = 0; done < total;) {
      const { bytesRead } = await input.read(buf, 0, Math.min(buf.length, total - done), file.dataOffset + done);
      if (bytesRead === 0) throw new GgufError(`${file.path} got shorter while it was being copied; run the command again`);
      await writeFully(out, buf.subarray(0, bytesRead), header.length + done);
      done += bytesRead;
      onProgress?.(done, total);
    }
    if ((await input.stat()).size !== file.fileSize) throw new GgufError(`${file.path} changed on disk while it was being copied; run the command again`);
    await out.sync();
    await out.close();
    out = undefined;
    verify(tmp, file, changes);
    await rename(tmp, dest);
    await syncFolder(dirname(dest));
  } catch (e) {
    await out?.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e instanceof UserError || !(e as NodeJS.ErrnoException).code ? e : writeFailure(dest, e);
  } finally {
    tempDone(tmp);
    await input.close();
  }
}

/** Make a rename durable (best effort: not every platform lets a folder be opened for fsync). */
async function syncFolder(dir: string) {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* the rename itself has happened */ }
}

/** Read the written header back: the changed values are there with their types and the tensors are where they were. */
function verify(path: string, before: GgufFile, changes: Change[]) {
  const after = readGguf(path, { skipArrays: true });
  for (const c of changes) {
    const kv = after.metadata.get(c.key);
    const ok = c.type === undefined ? kv === undefined : kv?.type === c.type && kv.value === c.value;
    if (!ok) throw new Error(`${path}: ${c.key} did not read back as written`);
  }
  if (after.tensors.length !== before.tensors.length || after.tensors.some((t, i) => t.offset !== before.tensors[i].offset || t.name !== before.tensors[i].name)) {
    throw new Error(`${path}: the tensor infos did not read back as written`);
  }
  if (after.fileSize - after.dataOffset !== before.fileSize - before.dataOffset) throw new Error(`${path}: the data section did not come out whole`);
}

/** A value as `gguf set` shows it: floats as the shortest text that gives the stored value, strings quoted and cut. */
export function formatValue(kv: Pick<KV, 'type' | 'value'> | undefined): string {
  if (!kv) return '(none)';
  const v = kv.value;
  if (kv.type === ValueType.ARRAY) return `[${(v as Scalar[]).length} items]`;
  if (kv.type === ValueType.STRING) {
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}…"` : s;
  }
  if (kv.type === ValueType.FLOAT32 && typeof v === 'number') {
    for (let p = 1; p <= 9; p++) {
      const t = Number(v.toPrecision(p));
      if (Math.fround(t) === v) return String(t);
    }
  }
  return String(v);
}
