/**
 * Values nested deeper than this are refused wherever a file gives us JSON: JSON.parse is iterative and
 * takes any depth, but every recursive walk after it (JSON.stringify, our readers) overflows V8's stack
 * somewhere near 10,000 levels, with "Maximum call stack size exceeded".
 */
export const MAX_DEPTH = 1000;

/** Deeper than MAX_DEPTH? Walks at most MAX_DEPTH levels, so it cannot overflow the stack itself. */
export function tooDeep(v: unknown, depth = 0): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (depth >= MAX_DEPTH) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (tooDeep(v[i], depth + 1)) return true;
    return false;
  }
  for (const k in v) if (tooDeep((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}
