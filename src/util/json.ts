/**
 * How deeply a JSON text nests (`{}` and `[]` count one level each), found by one pass over the text.
 * V8's JSON.parse is iterative and takes any depth, but JSON.stringify and every recursive walk of the result
 * overflow the stack ("Maximum call stack size exceeded") a few thousand levels down; measuring the text
 * first lets a reader refuse such input before anything recursive touches it.
 */
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
