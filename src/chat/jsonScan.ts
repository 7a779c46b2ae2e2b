/**
 * One JSON value inside a longer text (a model's reply): where it ends, and what it is. JSON.parse takes a whole
 * string only, and a reply has text around its calls; this finds the value's end by its brackets and strings, then
 * lets JSON.parse judge it. Nothing here throws: an unfinished or invalid value is undefined.
 */
export function readJson(s: string, start: number): { value: unknown; end: number } | undefined {
  const end = valueEnd(s, start);
  if (end === undefined) return undefined;
  try {
    return { value: JSON.parse(s.slice(start, end)), end };
  } catch {
    return undefined;
  }
}

const SCALAR = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

function valueEnd(s: string, i: number): number | undefined {
  const c = s[i];
  if (c === '"') return stringEnd(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const ch = s[j];
      if (ch === '"') {
        const e = stringEnd(s, j);
        if (e === undefined) return undefined;
        j = e - 1;
      } else if (ch === '{' || ch === '[') depth++;
      else if ((ch === '}' || ch === ']') && --depth === 0) return j + 1;
    }
    return undefined;
  }
  SCALAR.lastIndex = i;
  return SCALAR.test(s) ? SCALAR.lastIndex : undefined;
}

function stringEnd(s: string, i: number): number | undefined {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '"') return j + 1;
  }
  return undefined;
}
