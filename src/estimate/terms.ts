/** One line of an estimate: what it is, how many bytes, and the arithmetic that gave them (for --explain). */
export interface Term {
  label: string;
  bytes: number;
  formula: string;
  group: 'weights' | 'gradients' | 'optimizer' | 'activations' | 'kv cache' | 'overhead';
}

export const GIB = 2 ** 30;
export const GB = 1e9;

/** 8030261248 → "8,030,261,248". */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes as GiB with one decimal ("15.0 GiB"); small amounts in MiB so they do not read as zero. */
export function gib(bytes: number): string {
  if (bytes > 0 && bytes < 0.1 * GIB) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / GIB).toFixed(1)} GiB`;
}

export function sumBytes(terms: readonly Term[]): number {
  return terms.reduce((s, t) => s + t.bytes, 0);
}
