import { UserError } from '../errors.js';

/**
 * A seeded random number generator (sfc32 over a 128-bit state from the seed): the same seed gives the
 * same sample, split or mix on every machine and Node version, which Math.random cannot promise.
 */
export function seededRandom(seed: number): () => number {
  // splitmix32 spreads the seed over the state so nearby seeds give unrelated streams.
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next();
  return () => next() / 4294967296;
}

export function parseSeed(v: string | undefined): number {
  if (v === undefined) return 42;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UserError(`--seed must be a whole number from 0 to 4294967295 (got ${JSON.stringify(v)})`, 2);
  return n;
}

/** Fisher–Yates, in place. */
export function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Knuth's selection sampling: given the total, pick exactly k of n items in one pass, keeping their
 * order and holding nothing in memory. Call `take()` once per item, in order.
 */
export function selection(k: number, n: number, rand: () => number) {
  let seen = 0, chosen = 0;
  return {
    take(): boolean {
      const pick = (n - seen) * rand() < k - chosen;
      seen++;
      if (pick) chosen++;
      return pick;
    },
  };
}
