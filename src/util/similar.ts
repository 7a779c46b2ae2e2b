/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * The `n` candidates closest to what the user typed, for "did you mean" hints: those that contain it (or
 * that it contains) first, then by edit distance; ties keep the candidates' order.
 */
export function closest(query: string, candidates: readonly string[], n = 3): string[] {
  const q = query.toLowerCase();
  return candidates
    .map((c, i) => {
      const l = c.toLowerCase();
      return { c, i, contains: l.includes(q) || q.includes(l), d: editDistance(q, l) };
    })
    .sort((x, y) => Number(y.contains) - Number(x.contains) || x.d - y.d || x.i - y.i)
    .slice(0, n)
    .map((x) => x.c);
}
