/**
 * JSON as Python writes it, for the tool prompts that were trained from Python: LLaMA-Factory's formatters call
 * json.dumps(x, ensure_ascii=False) (items joined with ", ", keys with ": "), and transformers' `tojson` filter is the
 * same call, which is what Meta's and Qwen's Jinja templates put in the prompt. JSON.stringify joins with "," and ":",
 * so a model trained on Python's spacing would see text it never saw. With an indent, Python and JSON.stringify agree
 * (",\n" and ": "). Strings are escaped identically by both (ensure_ascii=False leaves non-ASCII as it is); numbers are
 * written by JavaScript (a float that is a whole number, 1.0 in Python, has already become 1 in JSON.parse).
 */
export function pyJson(value: unknown, indent?: number): string {
  if (indent !== undefined) return JSON.stringify(value, null, indent) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => pyJson(v === undefined ? null : v)).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const items = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${items.map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Python's str() of a JSON value, for the places LLaMA-Factory's default tool prompt formats schema fields with
 * str.format (a "type" that is a list, a non-string enum value): 'a', ['a', 'b'], True, None, {'k': 1}.
 */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyStrRepr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
  return String(value);
}

/** repr() of a str: single quotes unless the text has a ' and no ", backslash and the quote escaped. */
function pyStrRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/[\\\n\r\t]|[\x00-\x1f\x7f]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
}

/** The characters Python's str.isspace() holds true (what str.strip() takes off). */
const PY_SPACE = new Set([...'\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000']);

/**
 * Python's str.strip(), which Jinja's `trim` filter is under transformers: Meta's templates write every message as
 * `message['content'] | trim`. JavaScript's String.trim differs on four characters: it keeps U+0085 (NEL) and
 * U+001C–U+001F, which Python takes off, and takes off U+FEFF (a byte-order mark pasted with a file's text), which
 * Python keeps. A loop, not a regex: /\s+$/ is quadratic on text with long inner runs of spaces.
 */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.has(s[a])) a++;
  while (b > a && PY_SPACE.has(s[b - 1])) b--;
  return s.slice(a, b);
}
