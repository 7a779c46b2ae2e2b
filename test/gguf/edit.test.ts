import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, lstatSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  editHeader, formatValue, parseAssignment, parseValue, planEdits, readForEdit, writeEdits,
} from '../../src/gguf/edit.js';
import { planGgufContext } from '../../src/context/gguf.js';
import { encodeF32 } from '../../src/gguf/numbers.js';
import { readGguf } from '../../src/gguf/reader.js';
import { type GgufFile, TensorType, ValueType } from '../../src/gguf/types.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
import { testModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-edit-'));
let n = 0;

/** A private copy of the tiny test model (f16, random weights), to edit. */
async function tinyCopy(): Promise<string> {
  const path = join(dir, `m${n++}.gguf`);
  copyFileSync(await testModel({ seed: 1 }), path);
  return path;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** Hash of the tensor data section. */
const dataHash = (f: GgufFile) => sha(readFileSync(f.path).subarray(f.dataOffset));
const set = (path: string, ...specs: string[]) => {
  const src = readForEdit(path);
  return { src, changes: planEdits(src.file, specs.map(parseAssignment)) };
};
const leftovers = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp'));

test('values are parsed as their type: whole numbers in range for integers, f32 rounded, bool, str', () => {
  const U32 = ValueType.UINT32;
  assert.equal(parseValue('k', U32, '1e6'), 1_000_000);
  assert.equal(parseValue('k', U32, '4294967295'), 4294967295);
  assert.throws(() => parseValue('k', U32, '1.5'), /^UserError: k is u32: 1\.5 is not a whole number$/);
  assert.throws(() => parseValue('k', U32, '-1'), /^UserError: k is u32: -1 is out of range \(0 to 4294967295\)$/);
  assert.throws(() => parseValue('k', U32, '4294967296'), /out of range/);
  assert.throws(() => parseValue('k', U32, 'abc'), /k is u32: "abc" is not a number/);
  assert.throws(() => parseValue('k', U32, ''), /k is u32: "" is not a number/);
  assert.equal(parseValue('k', ValueType.INT8, '-128'), -128);
  assert.throws(() => parseValue('k', ValueType.UINT8, '256'), /k is u8: 256 is out of range \(0 to 255\)/);
  assert.equal(parseValue('k', ValueType.UINT64, '18446744073709551615'), 2n ** 64n - 1n);
  assert.equal(parseValue('k', ValueType.INT64, '-9007199254740991'), -9007199254740991);
  assert.throws(() => parseValue('k', ValueType.UINT64, '1e300'), /too large to be exact; write it out in digits/);
  assert.equal(parseValue('k', ValueType.FLOAT32, '0.1'), Math.fround(0.1));
  assert.throws(() => parseValue('k', ValueType.FLOAT32, '1e39'), /k is f32: 1e39 is out of range/);
  assert.throws(() => parseValue('k', ValueType.FLOAT32, 'Infinity'), /not a finite number/);
  assert.equal(parseValue('k', ValueType.FLOAT64, '1e300'), 1e300);
  assert.equal(parseValue('k', ValueType.BOOL, 'false'), false);
  assert.throws(() => parseValue('k', ValueType.BOOL, 'yes'), /k is bool: "yes" must be true or false/);
  assert.equal(parseValue('k', ValueType.STRING, ' 1 '), ' 1 ');
  assert.deepEqual(parseAssignment('a.b=x=y'), { key: 'a.b', raw: 'x=y' });
  assert.deepEqual(parseAssignment('a.b:f64=2'), { key: 'a.b', type: ValueType.FLOAT64, raw: '2' });
  assert.deepEqual(parseAssignment('a:str='), { key: 'a', type: ValueType.STRING, raw: '' });
  assert.throws(() => parseAssignment('a:u33=1'), /unknown type "u33" in "a:u33=1"; use one of u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, str/);
  assert.throws(() => parseAssignment('novalue'), /"novalue" is not KEY=VALUE/);
  assert.equal(formatValue({ type: ValueType.FLOAT32, value: Math.fround(1e-5) }), '0.00001');
  assert.equal(formatValue({ type: ValueType.FLOAT32, value: 1_000_000 }), '1000000');
});

test('plans: existing keys keep their type, new keys need one, arrays and the alignment are refused', async () => {
  const { file } = readForEdit(await testModel({ seed: 1 }));
  const [c] = planEdits(file, [parseAssignment('llama.rope.freq_base=1000000')]);
  assert.equal(c.type, ValueType.FLOAT32);
  assert.equal(c.value, 1_000_000);
  assert.equal(c.old?.value, 500000);
  assert.throws(() => planEdits(file, [parseAssignment('my.key=1')]), /my\.key is not in .*; to add it, give its type: my\.key:TYPE=1/);
  assert.throws(() => planEdits(file, [parseAssignment('tokenizer.ggml.merges=x')]), /tokenizer\.ggml\.merges is an array \(280147 items of str\); gguf set changes single values only/);
  assert.throws(() => planEdits(file, [parseAssignment('general.alignment=64')]), /general\.alignment cannot be edited/);
  assert.throws(() => planEdits(file, [parseAssignment('general.name=a'), parseAssignment('general.name=b')]), /general\.name is given twice/);
  assert.throws(() => planEdits(file, [parseAssignment('llama.context_length=0.5')]), /llama\.context_length is u32: 0\.5 is not a whole number/);
  assert.throws(() => planEdits(file, [], ['no.such.key']), /no\.such\.key is not in .*; nothing to delete/);
  // A type given for an existing key re-types it.
  assert.equal(planEdits(file, [parseAssignment('llama.context_length:u64=5')])[0].type, ValueType.UINT64);
});

test('same-length edits patch the header in place: only the value bytes change, tensor data is untouched', async () => {
  const path = await tinyCopy();
  const before = readFileSync(path);
  const f0 = readGguf(path, { skipArrays: true, layout: true });
  const data0 = dataHash(f0);
  const { src, changes } = set(path, 'llama.context_length=32768', 'llama.rope.freq_base=1e6');
  const r = await writeEdits(src, changes);
  assert.equal(r.mode, 'patched');
  const after = readFileSync(path);
  assert.equal(after.length, before.length);
  // Each value is the last 4 bytes of its entry; every other byte of the file is as it was.
  const values = ['llama.context_length', 'llama.rope.freq_base'].map((k) => f0.layout!.spans.get(k)!.end - 4);
  const differing: number[] = [];
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) differing.push(i);
  assert.ok(differing.length > 0);
  for (const i of differing) assert.ok(values.some((v) => i >= v && i < v + 4), `byte ${i} changed outside the values`);
  assert.equal(after.readUInt32LE(values[0]), 32768);
  assert.equal(after.readFloatLE(values[1]), 1_000_000);
  // The one write spans from the first changed value to the last.
  assert.equal(r.offset, differing[0]);
  assert.ok(r.offset! + r.bytes! > differing[differing.length - 1]);
  const f = readGguf(path, { skipArrays: true });
  assert.deepEqual(f.metadata.get('llama.context_length'), { key: 'llama.context_length', type: ValueType.UINT32, value: 32768 });
  assert.deepEqual(f.metadata.get('llama.rope.freq_base'), { key: 'llama.rope.freq_base', type: ValueType.FLOAT32, value: 1_000_000 });
  assert.equal(dataHash(f), data0);
  // Setting the same values again writes nothing.
  const again = set(path, 'llama.context_length=32768');
  assert.equal((await writeEdits(again.src, again.changes)).mode, 'unchanged');
});

test('an in-place patch checks the file still holds the bytes it read', async () => {
  const path = await tinyCopy();
  const stale = set(path, 'llama.context_length=16384');
  const other = set(path, 'llama.context_length=32768');
  await writeEdits(other.src, other.changes);
  const now = readFileSync(path);
  await assert.rejects(writeEdits(stale.src, stale.changes), /changed on disk since it was read; nothing was written/);
  assert.ok(readFileSync(path).equals(now));
});

test('a string of another length, a new key and a deletion rewrite the file: data byte-identical, aligned, atomic', async () => {
  const path = await tinyCopy();
  const path0 = join(dir, 'before.gguf');
  copyFileSync(path, path0);
  const f0 = readGguf(path, { skipArrays: true });
  const data0 = dataHash(f0);
  const { src, changes } = set(path, 'general.name=中文 Llama-3 长上下文', 'my.count:u64=18446744073709551615', 'my.flag:bool=true');
  const r = await writeEdits(src, changes);
  assert.equal(r.mode, 'rewritten');
  const f = readGguf(path, { skipArrays: true });
  assert.equal(f.dataOffset % f.alignment, 0);
  assert.notEqual(f.dataOffset, f0.dataOffset);
  assert.equal(dataHash(f), data0);
  assert.deepEqual(f.tensors, f0.tensors);
  assert.equal(f.metadata.get('general.name')?.value, '中文 Llama-3 长上下文');
  assert.deepEqual(f.metadata.get('my.count'), { key: 'my.count', type: ValueType.UINT64, value: 2n ** 64n - 1n });
  assert.deepEqual(f.metadata.get('my.flag'), { key: 'my.flag', type: ValueType.BOOL, value: true });
  // Every other entry, tokenizer arrays included, keeps its exact bytes and its place; new keys come last.
  const entries = (path: string, bytes: Buffer) => [...readGguf(path, { skipArrays: true, layout: true }).layout!.spans]
    .map(([key, span]) => [key, sha(bytes.subarray(span.start, span.end))]);
  const now = entries(path, readFileSync(path));
  const was = entries(path0, readFileSync(path0));
  assert.deepEqual(now.filter(([k]) => k !== 'general.name'), [...was.filter(([k]) => k !== 'general.name'), now[now.length - 2], now[now.length - 1]]);
  assert.deepEqual(now.slice(-2).map(([k]) => k), ['my.count', 'my.flag']);
  assert.deepEqual(leftovers(dir), []);

  const del = readForEdit(path);
  assert.equal((await writeEdits(del, planEdits(del.file, [], ['my.flag']))).mode, 'rewritten');
  assert.equal(readGguf(path, { skipArrays: true }).metadata.has('my.flag'), false);
  assert.equal(dataHash(readGguf(path, { skipArrays: true })), data0);
});

test('--out leaves the original untouched and writes a complete new file', async () => {
  const path = await tinyCopy();
  const original = sha(readFileSync(path));
  const out = join(dir, 'out.gguf');
  const { src, changes } = set(path, 'llama.context_length=32768');
  const r = await writeEdits(src, changes, { out });
  assert.equal(r.mode, 'rewritten');
  assert.equal(sha(readFileSync(path)), original);
  const f = readGguf(out, { skipArrays: true });
  const f0 = readGguf(path, { skipArrays: true });
  assert.equal(f.metadata.get('llama.context_length')?.value, 32768);
  assert.equal(dataHash(f), dataHash(f0));
  assert.equal(f.fileSize, f0.fileSize);
});

test('a rewrite keeps a larger alignment: the data section starts on it', async () => {
  const path = join(dir, 'align64.gguf');
  const a = encodeF32(new Float32Array([1, 2, 3]));
  const b = encodeF32(new Float32Array(40).map((_, i) => i));
  await writeGguf(path, [kv.str('general.architecture', 'llama'), kv.u32('general.alignment', 64), kv.str('s', 'x')], [
    { name: 'a', dims: [3], type: TensorType.F32, data: a },
    { name: 'b', dims: [40], type: TensorType.F32, data: b },
  ], 64);
  const f0 = readGguf(path);
  for (const value of ['a much longer string than before', 'y'.repeat(100)]) {
    const { src, changes } = set(path, `s=${value}`);
    await writeEdits(src, changes);
    const f = readGguf(path);
    assert.equal(f.dataOffset % 64, 0);
    assert.deepEqual(f.tensors, f0.tensors);
    const bytes = readFileSync(path);
    assert.ok(bytes.subarray(f.dataOffset + f.tensors[0].offset, f.dataOffset + f.tensors[0].offset + 12).equals(a));
    assert.ok(bytes.subarray(f.dataOffset + f.tensors[1].offset, f.dataOffset + f.tensors[1].offset + 160).equals(b));
    assert.equal(f.metadata.get('s')?.value, value);
  }
});

test('a string that is not valid UTF-8 is refused before anything is written (it was passed through before)', async () => {
  const path = join(dir, 'latin1.gguf');
  await writeGguf(path, [kv.str('general.architecture', 'llama'), kv.str('odd', 'AB'), kv.u32('n', 1)], []);
  const bytes = readFileSync(path);
  bytes[bytes.indexOf('AB')] = 0xff;
  writeFileSync(path, bytes);
  assert.throws(() => readForEdit(path), /latin1\.gguf: value of odd at byte 92 is not valid UTF-8, so the header is damaged\. Download the file again\.$/);
  assert.ok(readFileSync(path).equals(bytes));
});

test('a failed copy leaves no temp file and the original as it was', async () => {
  const path = await tinyCopy();
  const original = sha(readFileSync(path));
  const { src, changes } = set(path, 'general.name=a longer name than the synthetic one');
  await assert.rejects(writeEdits(src, changes, { onProgress: () => { throw new Error('disk on fire'); } }), /disk on fire/);
  assert.equal(sha(readFileSync(path)), original);
  assert.deepEqual(leftovers(dir), []);
});

test('a file with duplicate keys is refused; editHeader reports no patch for a no-op', async () => {
  const path = join(dir, 'dup.gguf');
  await writeGguf(path, [kv.str('general.architecture', 'llama'), kv.u32('k', 1), kv.u32('k', 2)], []);
  assert.throws(() => readForEdit(path), /dup\.gguf: metadata key k appears twice \(entry 3 of 3\), so the header is damaged/);
  const ok = readForEdit(await testModel({ seed: 1 }));
  assert.equal(editHeader(ok.file, ok.header, planEdits(ok.file, [parseAssignment('llama.block_count=2')])).patch, null);
  const same = editHeader(ok.file, ok.header, planEdits(ok.file, [parseAssignment('general.type=fake!')]));
  assert.equal(same.patch?.new.toString(), 'fake!');
  assert.equal(same.patch?.old.toString(), 'model');
});

test('planGgufContext: the default RoPE base for the context, and a base added where the file has none', async () => {
  const { file } = readForEdit(await testModel({ seed: 1 }));
  const p = (ctx: number, ropeTheta?: number) => planGgufContext(file, { ctx, ropeTheta }).changes.map((c) => [c.key, c.type, c.value]);
  assert.deepEqual(p(32768), [['llama.context_length', ValueType.UINT32, 32768], ['llama.rope.freq_base', ValueType.FLOAT32, 1_000_000]]);
  assert.deepEqual(p(98304), [['llama.context_length', ValueType.UINT32, 98304], ['llama.rope.freq_base', ValueType.FLOAT32, 4_000_000]]);
  assert.deepEqual(p(16384, 2_000_000), [['llama.context_length', ValueType.UINT32, 16384], ['llama.rope.freq_base', ValueType.FLOAT32, 2_000_000]]);
  assert.deepEqual(p(8192), []);
  assert.deepEqual(p(4096), [['llama.context_length', ValueType.UINT32, 4096]]);
  assert.throws(() => p(32768, 1e39), /llama\.rope\.freq_base is f32: 1e\+39 is out of range/);
});

test('a symlinked destination is written through and stays a link (a rename over it used to replace the link)', async () => {
  const path = await tinyCopy();
  const target = join(dir, 'linked-target.gguf');
  const link = join(dir, 'linked.gguf');
  symlinkSync(target, link);
  const { src, changes } = set(path, 'general.name=through a link');
  assert.equal((await writeEdits(src, changes, { out: link })).mode, 'rewritten');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readGguf(target, { skipArrays: true }).metadata.get('general.name')?.value, 'through a link');

  const fresh = join(dir, 'written-target.gguf');
  const freshLink = join(dir, 'written.gguf');
  symlinkSync(fresh, freshLink);
  await writeGguf(freshLink, [kv.str('general.architecture', 'llama')], []);
  assert.ok(lstatSync(freshLink).isSymbolicLink());
  assert.equal(readGguf(fresh).metadata.get('general.architecture')?.value, 'llama');
  assert.deepEqual(leftovers(dir), []);
});
