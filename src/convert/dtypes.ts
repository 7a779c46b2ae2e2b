/**
 * Element conversions for the converter, bit for bit as convert_hf_to_gguf.py does them. Its pipeline is: any
 * dtype but F16/F32 is first widened to F32 (torch `.to(float32)`, exact for BF16), then gguf-py's quants.quantize
 * makes the output type: F16 by numpy `astype(float16)` (round to nearest even, overflow to ±inf), BF16 by
 * ggml_compute_fp32_to_bf16's rule (quiet every NaN, else round to nearest even on the top 16 bits), Q8_0 by
 * quants.py's block code (f32 arithmetic, np_roundf rounds half away from zero). Every 16-bit → 16-bit path is one
 * lookup in a 65536-entry table, so a bf16 → f16 conversion of an 8B model runs near the speed of a copy.
 */
import { toF16 } from '../gguf/numbers.js';

export type SrcDtype = 'F32' | 'F16' | 'BF16';
export type OutType = 'F32' | 'F16' | 'BF16' | 'Q8_0';

/** ggml type ids (ggml.h) of the types the converter writes. */
export const GGML_TYPE: Record<OutType, number> = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };

/** llama_ftype (general.file_type) of each output type: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32. */
export const FILE_TYPE: Record<OutType, number> = { F32: 0, F16: 1, Q8_0: 7, BF16: 32 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 bits → bf16 bits, ggml_compute_fp32_to_bf16: NaN made quiet (bit 6 of the high half), else nearest even. */
export function bf16FromF32Bits(n: number): number {
  if ((n & 0x7fffffff) >>> 0 > 0x7f800000) return ((n >>> 16) | 64) & 0xffff;
  // In 64-bit arithmetic in gguf-py: n + 0x7fff + lsb never overflows there; >>> 16 of a u32 sum can exceed 16 bits
  // only for NaN patterns, handled above.
  return Math.floor(((n >>> 0) + 0x7fff + ((n >>> 16) & 1)) / 65536) & 0xffff;
}

/**
 * f32 → f16 as numpy's npy_floatbits_to_halfbits: round to nearest even, overflow to ±inf, NaN keeps its top
 * payload bits (and stays a NaN). toF16 (gguf/numbers) rounds the same way; only its NaN payload differs.
 */
export function f16FromF32Bits(n: number): number {
  if ((n & 0x7f800000) === 0x7f800000 && (n & 0x7fffff) !== 0) {
    let h = 0x7c00 + ((n & 0x7fffff) >>> 13);
    if (h === 0x7c00) h++;
    return ((n >>> 16) & 0x8000) | h;
  }
  u32[0] = n;
  return toF16(f32[0]);
}

let tables: { f16ToF32: Uint32Array; bf16ToF16: Uint16Array; f16ToBf16: Uint16Array; bf16ToBf16: Uint16Array } | undefined;

/** The four 16-bit tables, built once (0.3 MB; a few ms). */
function t() {
  if (!tables) {
    const f16ToF32 = new Uint32Array(65536);
    const bf16ToF16 = new Uint16Array(65536);
    const f16ToBf16 = new Uint16Array(65536);
    const bf16ToBf16 = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) {
      f16ToF32[i] = f16BitsToF32Bits(i);
      bf16ToF16[i] = f16FromF32Bits((i << 16) >>> 0);
      f16ToBf16[i] = bf16FromF32Bits(f16ToF32[i]);
      bf16ToBf16[i] = bf16FromF32Bits((i << 16) >>> 0);
    }
    tables = { f16ToF32, bf16ToF16, f16ToBf16, bf16ToBf16 };
  }
  return tables;
}

/** IEEE half bits → single bits, exactly (subnormals normalised, NaN payload kept as numpy's halfbits_to_floatbits). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    let e = -1;
    do { e++; mant <<= 1; } while ((mant & 0x400) === 0);
    return (sign | ((127 - 15 - e) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/** Raw little-endian source bytes → f32 values (what torch's `.to(float32)` gives). */
export function decodeToF32(src: Uint8Array, dtype: SrcDtype): Float32Array {
  const a = copyAligned(src);
  if (dtype === 'F32') return new Float32Array(a.buffer, a.byteOffset, a.byteLength / 4).slice();
  const s = new Uint16Array(a.buffer, a.byteOffset, a.byteLength / 2);
  const out = new Uint32Array(s.length);
  if (dtype === 'BF16') for (let i = 0; i < s.length; i++) out[i] = s[i] << 16;
  else { const tab = t().f16ToF32; for (let i = 0; i < s.length; i++) out[i] = tab[s[i]]; }
  return new Float32Array(out.buffer);
}

/** A Uint8Array whose offset is 4-aligned (typed views need it); a copy only when it is not. */
function copyAligned(b: Uint8Array): Uint8Array {
  return b.byteOffset % 4 === 0 && b.byteLength % 2 === 0 ? b : new Uint8Array(b);
}

/** f32 values → output bytes (F32, F16, BF16 or Q8_0). */
export function encodeFromF32(v: Float32Array, out: OutType): Uint8Array {
  const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
  if (out === 'F32') return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (out === 'Q8_0') return quantizeQ8_0(v);
  const r = new Uint16Array(v.length);
  if (out === 'BF16') for (let i = 0; i < v.length; i++) r[i] = bf16FromF32Bits(bits[i]);
  else for (let i = 0; i < v.length; i++) r[i] = f16FromF32Bits(bits[i]);
  return new Uint8Array(r.buffer);
}

/**
 * Source bytes → output bytes, the fast way for each pair (16-bit pairs by table, F32 out by widening). A 16-bit
 * pair writes into `into` when given (4-byte aligned, at least src's length), so a conversion can reuse its buffers.
 */
export function convertBytes(src: Uint8Array, dtype: SrcDtype, out: OutType, into?: Uint8Array): Uint8Array {
  if (dtype === out && dtype !== 'BF16') return src; // F32→F32 and F16→F16 are exact copies
  if (out === 'Q8_0' || dtype === 'F32') return encodeFromF32(decodeToF32(src, dtype), out);
  if (out === 'F32') return new Uint8Array(decodeToF32(src, dtype).buffer);
  const a = copyAligned(src);
  const s = new Uint16Array(a.buffer, a.byteOffset, a.byteLength / 2);
  if (dtype === 'BF16' && out === 'BF16') {
    // Identity but for NaNs, which ggml's rule makes quiet: copy nothing unless there is one.
    let nan = false;
    for (let i = 0; i < s.length; i++) if ((s[i] & 0x7fff) > 0x7f80) { nan = true; break; }
    if (!nan) return src;
  }
  const tab = dtype === 'BF16' ? (out === 'F16' ? t().bf16ToF16 : t().bf16ToBf16) : t().f16ToBf16;
  const r = into ? new Uint16Array(into.buffer, into.byteOffset, s.length) : new Uint16Array(s.length);
  // Two values per 32-bit word: half the loads and stores of a 16-bit loop (about 2x faster in V8, measured: 0.5 → 1 GB/s of bf16 → f16).
  const even = s.length & ~1;
  const s32 = new Uint32Array(s.buffer, s.byteOffset, even / 2);
  const r32 = new Uint32Array(r.buffer, 0, even / 2);
  for (let i = 0; i < s32.length; i++) {
    const w = s32[i];
    r32[i] = tab[w & 0xffff] | (tab[w >>> 16] << 16);
  }
  if (even < s.length) r[even] = tab[s[even]];
  return new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
}

/**
 * Q8_0 as gguf-py quants.py Q8_0.quantize_blocks ("bit-exact with ggml-quants.c's reference"): per block of 32,
 * d = max|x| / 127 in f32, id = 1/d (0 when d is 0), q = np_roundf(x·id) (half away from zero), d stored as f16.
 * A product or quotient of two f32 done in double and rounded once to f32 is the f32 result (53 ≥ 2·24+2 bits).
 */
export function quantizeQ8_0(v: Float32Array): Uint8Array {
  if (v.length % 32) throw new Error('Q8_0 needs a multiple of 32 values');
  const out = new Uint8Array((v.length / 32) * 34);
  const fr = Math.fround;
  for (let b = 0, o = 0; b < v.length; b += 32, o += 34) {
    let amax = 0;
    for (let i = 0; i < 32; i++) { const a = Math.abs(v[b + i]); if (a > amax || a !== a) amax = a; }
    const d = fr(amax / 127);
    const id = d === 0 ? 0 : fr(1 / d);
    f32[0] = d;
    const h = f16FromF32Bits(u32[0]);
    out[o] = h & 0xff; out[o + 1] = h >>> 8;
    for (let i = 0; i < 32; i++) {
      const x = fr(v[b + i] * id);
      const a = Math.abs(x);
      const fl = Math.floor(a);
      const q = Math.sign(x) * (fl + Math.floor(fr(2 * fr(a - fl))));
      // numpy's astype(int8) of a value outside [-128, 127] (only NaN/inf inputs) is platform-defined; clamp.
      out[o + 2 + i] = (q !== q ? 0 : Math.max(-128, Math.min(127, q))) & 0xff;
    }
  }
  return out;
}
