/** The summaries the benchmarks print: percentiles of samples, and numbers shown with a dash for none. */

/** The p-th percentile (nearest rank) of `xs`; NaN for no samples. */
export const pct = (xs: number[], p: number): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export const median = (xs: number[]): number => pct(xs, 50);

/** `x` with `d` decimals, or "—" when there was nothing to measure. */
export const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
