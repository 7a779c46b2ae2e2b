import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { encodeHeader, kv, writeGguf } from '../../src/gguf/writer.js';
import { TensorType, ValueType, type KV } from '../../src/gguf/types.js';
import { encodeF32 } from '../../src/gguf/numbers.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-'));

const ALL_TYPES: KV[] = [
  { key: 'u8', type: ValueType.UINT8, value: 255 },
  { key: 'i8', type: ValueType.INT8, value: -128 },
  { key: 'u16', type: ValueType.UINT16, value: 65535 },
  { key: 'i16', type: ValueType.INT16, value: -32768 },
  { key: 'u32', type: ValueType.UINT32, value: 4294967295 },
  { key: 'i32', type: ValueType.INT32, value: -2147483648 },
  { key: 'f32', type: ValueType.FLOAT32, value: 0.5 },
  { key: 'bool', type: ValueType.BOOL, value: true },
  { key: 'str', type: ValueType.STRING, value: '你好 🦙' },
  { key: 'u64', type: ValueType.UINT64, value: 2n ** 63n },
  { key: 'i64', type: ValueType.INT64, value: -5 },
  { key: 'f64', type: ValueType.FLOAT64, value: Math.PI },
  { key: 'arr', type: ValueType.ARRAY, itemType: ValueType.STRING, value: ['a', '乙', ''] },
  { key: 'arr_i32', type: ValueType.ARRAY, itemType: ValueType.INT32, value: [1, -2, 3] },
];

async function sample(name = 'ok.gguf') {
  const path = join(dir, name);
  await writeGguf(path, ALL_TYPES, [
    { name: 'a', dims: [4], type: TensorType.F32, data: encodeF32(new Float32Array([1, 2, 3, 4])) },
    { name: 'b', dims: [32, 2], type: TensorType.Q8_0, data: new Uint8Array(68) },
  ]);
  return path;
}

test('metadata of every value type and tensor infos round-trip', async () => {
  const f = readGguf(await sample());
  assert.equal(f.version, 3);
  for (const m of ALL_TYPES) assert.deepEqual(f.metadata.get(m.key), m, m.key);
  assert.deepEqual(f.tensors, [
    { name: 'a', dims: [4], type: 0, offset: 0 },
    { name: 'b', dims: [32, 2], type: 8, offset: 32 },
  ]);
  assert.equal(f.dataOffset % 32, 0);
  const bytes = readFileSync(f.path);
  assert.deepEqual([...new Float32Array(bytes.buffer.slice(bytes.byteOffset + f.dataOffset, bytes.byteOffset + f.dataOffset + 16))], [1, 2, 3, 4]);
  assert.equal(f.fileSize, f.dataOffset + 32 + 96); // each tensor padded to the alignment
});

function mutate(name: string, change: (b: Buffer) => Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, change(Buffer.from(readFileSync(join(dir, 'ok.gguf')))));
  return path;
}

test('bad files give a clear error, never a crash or a huge allocation', async () => {
  const ok = await sample();
  const size = readFileSync(ok).length;
  const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['magic', (b) => { b.write('GGML', 0); return b; }, /not a GGUF file \(starts with "GGML"/],
    ['empty', () => Buffer.alloc(0), /not a GGUF file \(only 0 bytes\)/],
    ['version', (b) => { b.writeUInt32LE(7, 4); return b; }, /GGUF version 7 is not supported/],
    ['truncated-header', (b) => b.subarray(0, 100), /truncated/],
    ['truncated-data', (b) => b.subarray(0, size - 40), /truncated: tensor b ends at byte \d+ but the file has \d+ bytes/],
    ['lying-kv-count', (b) => { b.writeBigUInt64LE(10n ** 12n, 16); return b; }, /corrupt header: 1000000000000 metadata entries/],
    ['lying-tensor-count', (b) => { b.writeBigUInt64LE(2n ** 40n, 8); return b; }, /corrupt header/],
    ['lying-key-length', (b) => { b.writeBigUInt64LE(2n ** 50n, 24); return b; }, /claims 1125899906842624 bytes/],
    ['absurd-length', (b) => { b.writeBigUInt64LE(2n ** 63n, 24); return b; }, /length of metadata key is 9223372036854775808, which cannot be right/],
  ];
  for (const [name, change, pattern] of cases) {
    assert.throws(() => readGguf(mutate(`${name}.gguf`, change)), pattern, name);
  }
  assert.throws(() => readGguf(join(dir, 'missing.gguf')), /^UserError: no such GGUF file: .*missing\.gguf$/);
  assert.throws(() => readGguf(dir), /is a folder/);
});

test('a lying array count is caught before allocating', () => {
  const { header } = encodeHeader([kv.strs('big', ['x'])], []);
  const b = Buffer.from(header);
  // Layout: magic, version, n_tensors, n_kv, key(8+3), type(4), item type(4), count(8)
  const countAt = 4 + 4 + 8 + 8 + 8 + 3 + 4 + 4;
  assert.equal(b.readBigUInt64LE(countAt), 1n);
  b.writeBigUInt64LE(10n ** 15n, countAt);
  const path = join(dir, 'lying-array.gguf');
  writeFileSync(path, b);
  assert.throws(() => readGguf(path), /array big claims 1000000000000000 items/);
});

test('too many dimensions is an error', () => {
  const { header } = encodeHeader([], [{ name: 't', dims: [1, 1, 1, 1], type: 0 }]);
  const b = Buffer.from(header);
  b.writeUInt32LE(9, 4 + 4 + 8 + 8 + 8 + 1); // n_dims after the name
  const path = join(dir, 'dims.gguf');
  writeFileSync(path, b);
  assert.throws(() => readGguf(path), /tensor t has 9 dimensions/);
});

test('the writer never leaves a partial file under the real name', async () => {
  const path = join(dir, 'atomic.gguf');
  await assert.rejects(writeGguf(path, [], [{ name: 'x', dims: [4], type: TensorType.F32, data: new Uint8Array(3) }]), /wrote 3 bytes, expected 16/);
  assert.throws(() => readFileSync(path), /ENOENT/);
});

test('skipArrays walks past large arrays and keeps their count', async () => {
  const path = join(dir, 'arrays.gguf');
  const big = Array.from({ length: 1000 }, (_, i) => `t${i}`);
  await writeGguf(path, [kv.strs('tokens', big), kv.i32s('types', big.map(() => 1)), kv.str('after', 'ok')], []);
  const f = readGguf(path, { skipArrays: true });
  assert.deepEqual(f.metadata.get('tokens'), { key: 'tokens', type: ValueType.ARRAY, itemType: ValueType.STRING, value: [], skipped: 1000 });
  assert.equal(f.metadata.get('types')?.skipped, 1000);
  assert.equal(f.metadata.get('after')?.value, 'ok');
  assert.deepEqual(readGguf(path).metadata.get('tokens')?.value, big);
});
