import { seededRandom } from './random.js';

/** MurmurHash3's finaliser: a cheap, well-mixed 32-bit permutation. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const PERMS = 64;
const SEEDS = (() => { const r = seededRandom(0x6d696e68); return Uint32Array.from({ length: PERMS }, () => Math.floor(r() * 2 ** 32)); })();

/**
 * The MinHash signature of a text over its character k-shingles (k characters in a row, so it works for
 * Chinese, which has no spaces between words): for each of 64 hash functions, the smallest hash of any
 * shingle. Two texts agree on a signature position with probability equal to their Jaccard similarity.
 */
export function minhash(text: string, k: number, sig = new Uint32Array(PERMS)): Uint32Array {
  sig.fill(0xffffffff);
  const n = Math.max(1, text.length - k + 1);
  for (let s = 0; s < n; s++) {
    let h = 0x811c9dc5; // FNV-1a over the shingle's code units
    const end = Math.min(text.length, s + k);
    for (let i = s; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    for (let p = 0; p < PERMS; p++) {
      const v = fmix32(h ^ SEEDS[p]);
      if (v < sig[p]) sig[p] = v;
    }
  }
  return sig;
}

/** Pick bands × rows-per-band (within 64 values) so a pair at the threshold becomes a candidate with ≥ 97% probability. */
export function bandsFor(threshold: number): { bands: number; rows: number } {
  for (let rows = 8; rows >= 1; rows--) {
    const bands = Math.floor(PERMS / rows);
    if (1 - (1 - threshold ** rows) ** bands >= 0.97) return { bands, rows };
  }
  return { bands: PERMS, rows: 1 };
}

/**
 * Near-duplicate finder by locality-sensitive hashing: each signature is cut into bands; texts sharing
 * any whole band become candidates, and a candidate counts as a duplicate only when the signatures agree
 * on at least `threshold` of their 64 positions (the estimated Jaccard similarity). Memory per kept text:
 * its signature truncated to 16 bits a position (128 bytes) and one map entry per band.
 */
export class NearDuplicates {
  private readonly bandMaps: Map<number, number>[];
  private readonly pages: Uint16Array[] = [];
  private count = 0;
  private readonly PAGE = 1 << 14;
  readonly bands: number;
  readonly rows: number;

  constructor(readonly threshold: number) {
    ({ bands: this.bands, rows: this.rows } = bandsFor(threshold));
    this.bandMaps = Array.from({ length: this.bands }, () => new Map());
  }

  private stored(i: number): Uint16Array {
    const page = this.pages[Math.floor(i / this.PAGE)];
    const at = (i % this.PAGE) * PERMS;
    return page.subarray(at, at + PERMS);
  }

  /** The earlier text this one nearly duplicates (its id and similarity), or undefined after adding it. */
  check(sig: Uint32Array, id: number): { of: number; similarity: number } | undefined {
    const keys = new Array<number>(this.bands);
    const tried = new Set<number>();
    for (let b = 0; b < this.bands; b++) {
      let h1 = fmix32(b + 1);
      for (let r = 0; r < this.rows; r++) h1 = fmix32(h1 ^ sig[b * this.rows + r]);
      const h2 = fmix32(h1 ^ 0x5bd1e995) & 0x1fffff;
      const key = h1 * 0x200000 + h2; // 53 bits: collisions between different bands' values are negligible
      keys[b] = key;
      const other = this.bandMaps[b].get(key);
      if (other === undefined || tried.has(other)) continue;
      tried.add(other);
      const s = this.stored(other);
      let agree = 0;
      for (let p = 0; p < PERMS; p++) if (s[p] === (sig[p] & 0xffff)) agree++;
      const similarity = agree / PERMS;
      if (similarity >= this.threshold) return { of: this.ids[other], similarity };
    }
    // Not a duplicate: remember it.
    const i = this.count++;
    if (i % this.PAGE === 0) this.pages.push(new Uint16Array(this.PAGE * PERMS));
    const s = this.stored(i);
    for (let p = 0; p < PERMS; p++) s[p] = sig[p] & 0xffff;
    this.ids.push(id);
    for (let b = 0; b < this.bands; b++) if (!this.bandMaps[b].has(keys[b])) this.bandMaps[b].set(keys[b], i);
    return undefined;
  }

  private readonly ids: number[] = [];
}
