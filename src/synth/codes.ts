import { UserError } from '../errors.js';

/**
 * Token codes for the context construction (context.ts): unit vectors with entries ±1/√width, the words of a
 * binary code with a large minimum Hamming distance h, so two different codes have a dot product of at most
 * maxDot = 1 − 2h/width. A unit that checks "this slot holds code c" then scores 1 on c and at most maxDot on any
 * other token, which leaves a fixed margin below its firing threshold of ½ (checks.ts).
 */
export interface CodeBook {
  width: number;
  maxDot: number;
  /** The code of token index i: `width` numbers. */
  codes: Float32Array[];
}

/** Narrowest first; greedy lexicodes of these (length, distance) have 16, 128 and 256 words. */
const FAMILIES = [{ width: 8, distance: 4 }, { width: 16, distance: 6 }, { width: 16, distance: 5 }] as const;

export const MAX_CODES = 256;

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/** The greedy lexicographic code: every word at distance ≥ `distance` from all words before it. */
function lexicode(width: number, distance: number, count: number): number[] {
  const words: number[] = [];
  for (let v = 0; v < 2 ** width && words.length < count; v++) {
    if (words.every((w) => popcount(v ^ w) >= distance)) words.push(v);
  }
  return words;
}

/** `count` codes, as narrow as they fit (8 numbers for up to 16 tokens, else 16). */
export function codeBook(count: number): CodeBook {
  for (const f of FAMILIES) {
    const words = lexicode(f.width, f.distance, count);
    if (words.length < count) continue;
    const unit = 1 / Math.sqrt(f.width);
    const codes = words.map((w) => Float32Array.from({ length: f.width }, (_, i) => ((w >>> i) & 1 ? -unit : unit)));
    return { width: f.width, maxDot: 1 - (2 * f.distance) / f.width, codes };
  }
  throw new UserError(`the replies use ${count - 1} different tokens; a scripted model takes at most ${MAX_CODES - 1}`);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
