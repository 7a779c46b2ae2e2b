/**
 * One JSON value inside a longer text (a model's reply): where it ends, and what it is. JSON.parse takes a whole
 * string only, and a reply has text around its calls; this finds the value's end by its brackets and strings, then
 * lets JSON.parse judge it. Nothing here throws: an unfinished or invalid value is undefined.
 */
export function readJson(s: string, start: number, ends?: ValueEnds): { value: unknown; end: number } | undefined {
  const end = ends ? ends.end(start) : valueEnd(s, start);
  if (end === undefined) return undefined;
  try {
    return { value: JSON.parse(s.slice(start, end)), end };
  } catch {
    return undefined;
  }
}

const SCALAR = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** Where the JSON value at i ends, by its brackets and strings; undefined when the text ends first. */
export function valueEnd(s: string, i: number, budget = { left: Infinity }): number | undefined {
  const c = s[i];
  if (budget.left < 0) return undefined;
  if (c === '"') {
    const e = stringEnd(s, i);
    budget.left -= (e ?? s.length) - i;
    return e;
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      if (--budget.left < 0) return undefined;
      const ch = s[j];
      if (ch === '"') {
        const e = stringEnd(s, j);
        budget.left -= (e ?? s.length) - j;
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

/** Where the string that opens at i ends (after its closing quote), undefined when it is not closed. */
export function stringEnd(s: string, i: number): number | undefined {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '"') return j + 1;
  }
  return undefined;
}

/**
 * valueEnd for many starts in one text, in time linear in the text. Asking each possible call start for its end
 * scans to the end of the text for every unfinished one (a reply of 8000 '{"name": ' took seconds, and the streaming
 * check asks again at every token). One scan from `from` matches every bracket it passes outside a string, and a
 * bracket's match is exactly where valueEnd from it would stop (same strings from there on, depth counted from it).
 * Any other start is scanned on its own, within a budget of a few times the text: past it, an end is unknown
 * (undefined, as for an unfinished value), which only adversarial text reaches.
 */
export class ValueEnds {
  private readonly ends = new Map<number, number>();
  private readonly budget: { left: number };

  constructor(private readonly s: string, from: number) {
    this.budget = { left: 4 * s.length + 65536 };
    const open: number[] = [];
    for (let j = from; j < s.length; j++) {
      const ch = s[j];
      if (ch === '"') {
        const e = stringEnd(s, j);
        if (e === undefined) break;
        j = e - 1;
      } else if (ch === '{' || ch === '[') open.push(j);
      else if ((ch === '}' || ch === ']') && open.length) this.ends.set(open.pop()!, j + 1);
    }
    for (const j of open) this.ends.set(j, -1);
  }

  end(i: number): number | undefined {
    const known = this.ends.get(i);
    if (known !== undefined) return known < 0 ? undefined : known;
    return valueEnd(this.s, i, this.budget);
  }
}

/**
 * How deep a JSON value may nest. JSON Schemas and call arguments are a few levels deep; one thousands deep would
 * overflow the stack of every writer that walks it (JSON.stringify, the templates, a Jinja renderer), so it is
 * refused where it comes in, with its field.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `v` nests more than `max` arrays and objects deep (counted without recursion). */
export function nestsDeeper(v: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d + 1 > max) return true;
    for (const y of Array.isArray(x) ? x : Object.values(x)) if (y !== null && typeof y === 'object') stack.push([y, d + 1]);
  }
  return false;
}
