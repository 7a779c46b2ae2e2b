/** Number encodings for tensor data: f16, Q8_0, and a seeded PRNG to fill random weights fast. */

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE 754 half precision bits of `v`, rounded to nearest even. */
export function toF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function fromF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function encodeF32(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

export function encodeF16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toF16(values[i]);
  return new Uint8Array(out.buffer);
}

/** Q8_0: blocks of 32 values, each an f16 scale followed by 32 int8 (ggml's quantize_row_q8_0_ref). */
export function encodeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % 32) throw new Error('Q8_0 needs a multiple of 32 values');
  const out = Buffer.alloc((values.length / 32) * 34);
  for (let b = 0, o = 0; b < values.length; b += 32, o += 34) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[b + i]));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    out.writeUInt16LE(toF16(d), o);
    for (let i = 0; i < 32; i++) out.writeInt8(Math.round(values[b + i] * id), o + 2 + i);
  }
  return out;
}

/** xorshift128: tiny, seeded and fast enough to fill gigabytes of benchmark weights. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    // splitmix32 to spread the seed over the state
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.s[i] = (t ^ (t >>> 16)) >>> 0 || 1;
    }
  }
  nextU32(): number {
    const s = this.s;
    let t = s[3];
    const x = s[0];
    s[3] = s[2]; s[2] = s[1]; s[1] = x;
    t ^= t << 11; t ^= t >>> 8;
    s[0] = (t ^ x ^ (x >>> 19)) >>> 0;
    return s[0];
  }
  fill(out: Uint32Array) {
    for (let i = 0; i < out.length; i++) out[i] = this.nextU32();
  }
  /** Uniform in [-a, a). */
  uniform(a: number): number {
    return (this.nextU32() / 0x100000000) * 2 * a - a;
  }
}
