import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeQ8_0, fromF16, Rng, toF16 } from '../../src/gguf/numbers.js';

test('f16 encoding is exact where f16 can be and rounds to nearest even', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [1e6, 0x7c00],
    [2 ** -24, 0x0001], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [Infinity, 0x7c00],
  ];
  for (const [v, bits] of cases) assert.equal(toF16(v), bits, String(v));
  for (let bits = 0; bits < 0x7c00; bits += 97) assert.equal(toF16(fromF16(bits)), bits);
  assert.ok(Number.isNaN(fromF16(toF16(NaN))));
});

test('Q8_0 blocks hold an f16 scale and 32 int8 values', () => {
  const v = new Float32Array(32).map((_, i) => (i - 16) / 16);
  const q = Buffer.from(encodeQ8_0(v));
  assert.equal(q.length, 34);
  const d = fromF16(q.readUInt16LE(0));
  assert.ok(Math.abs(d - 1 / 127) < 1e-5);
  assert.equal(q.readInt8(2), -127);
  assert.equal(q.readInt8(2 + 16), 0);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(q.readInt8(2 + i) * d - v[i]) <= d);
});

test('the PRNG is seeded', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextU32()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.nextU32()));
});
