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
