/**
 * Where the values of a JSON text are, as offsets into it: a function call's arguments move from a ShareGPT
 * function_call value (`{"name": …, "arguments": {…}}`) to OpenAI's `arguments` string as the very characters the
 * dataset wrote (1.0 stays 1.0, escapes and key order stay), which a parse and a re-serialisation would not keep.
 * The text must already have passed JSON.parse: this only skips over values, it does not check them.
 */

export interface Span { start: number; end: number }

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** The end of the string whose opening quote is at i (just past its closing quote). */
function skipString(s: string, i: number): number {
  for (i++; ; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
}

/** The end of the value that starts at i (no leading blanks). */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x22) return skipString(s, i);
  if (c !== 0x7b && c !== 0x5b) {
    while (i < s.length && !isWs(s.charCodeAt(i)) && !',]}'.includes(s[i])) i++;
    return i;
  }
  let depth = 0;
  for (;;) {
    const d = s.charCodeAt(i);
    if (d === 0x22) { i = skipString(s, i); continue; }
    if (d === 0x7b || d === 0x5b) depth++;
    else if (d === 0x7d || d === 0x5d) { if (--depth === 0) return i + 1; }
    i++;
  }
}

/** The span of each element of the array at `at`. */
export function elementSpans(s: string, at: Span = { start: 0, end: s.length }): Span[] {
  const out: Span[] = [];
  let i = skipWs(s, skipWs(s, at.start) + 1);
  if (s[i] === ']') return out;
  for (;;) {
    i = skipWs(s, i);
    const end = skipValue(s, i);
    out.push({ start: i, end });
    i = skipWs(s, end);
    if (s[i++] === ']') return out;
  }
}

/** The span of each member's value of the object at `at`, by key (a repeated key: the last, as JSON.parse takes). */
export function memberSpans(s: string, at: Span = { start: 0, end: s.length }): Map<string, Span> {
  const out = new Map<string, Span>();
  let i = skipWs(s, skipWs(s, at.start) + 1);
  if (s[i] === '}') return out;
  for (;;) {
    i = skipWs(s, i);
    const keyEnd = skipString(s, i);
    const key = JSON.parse(s.slice(i, keyEnd)) as string;
    i = skipWs(s, skipWs(s, keyEnd) + 1); // past the colon
    const end = skipValue(s, i);
    out.set(key, { start: i, end });
    i = skipWs(s, end);
    if (s[i++] === '}') return out;
  }
}

/**
 * The JSON text with each string *value* (never a key) passed through `f`, which gets the decoded string, the
 * key of the member it is in (for an array element, the array's key) and how many containers hold it. Values
 * `f` leaves as they are keep their characters; changed ones are written as JSON.stringify writes them. So a
 * rewrite of the texts inside a function call cannot break the JSON around them (data rewrite).
 */
export function mapJsonStrings(s: string, f: (v: string, key: string | undefined, depth: number) => string): string {
  let out = '';
  let last = 0;
  const keys: (string | undefined)[] = []; // per open container: the key its current member has
  const objects: boolean[] = [];
  let expectKey = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      const end = skipString(s, i);
      const v = JSON.parse(s.slice(i, end)) as string;
      if (expectKey) {
        keys[keys.length - 1] = v;
        expectKey = false;
      } else {
        const w = f(v, keys[keys.length - 1], keys.length);
        if (w !== v) { out += s.slice(last, i) + JSON.stringify(w); last = end; }
      }
      i = end - 1;
    } else if (c === 0x7b || c === 0x5b) {
      const inherited = keys[keys.length - 1];
      objects.push(c === 0x7b);
      keys.push(c === 0x7b ? undefined : inherited);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      objects.pop();
      keys.pop();
    } else if (c === 0x2c) {
      expectKey = objects[objects.length - 1] === true;
    }
  }
  return out + s.slice(last);
}
