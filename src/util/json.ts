/**
 * Guards against JSON that nests too deeply. V8's JSON.parse is iterative and takes any depth, but JSON.stringify
 * and every recursive walk of the result (ours, node-llama-cpp's grammar builder) overflow the stack
 * ("Maximum call stack size exceeded") a few thousand levels down. Files are refused past MAX_DEPTH; the server
 * sets its own, lower, limit on request bodies.
 */
export const MAX_DEPTH = 1000;

/** How deeply a JSON text nests (`{}` and `[]` count one level each), found by one pass over the text. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return max;
}

/** A parsed value deeper than MAX_DEPTH? Walks at most MAX_DEPTH levels, so it cannot overflow the stack itself. */
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
