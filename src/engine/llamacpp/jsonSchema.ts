/**
 * node-llama-cpp 3.22's JSON-schema grammar (createGrammarForJsonSchema) builds a subset of JSON Schema and quietly
 * does something else with the rest: an unknown "type", or a schema without one, becomes `null`; an empty enum
 * an empty reply; an unknown "format" forces ""; "pattern", "minimum", "anyOf", "allOf"… are dropped; a type list
 * with "object" keeps only its plain types. So each schema is checked here first, and node-llama-cpp gets one it
 * builds exactly: keywords with an exact equivalent in its subset are rewritten ("anyOf" → "oneOf", "definitions"
 * → "$defs", a type list → "oneOf", `{}` and `true` → any JSON value), and the rest is a one-line error naming the
 * keyword and where it is. The walk is iterative, and the limits keep node-llama-cpp's recursive build and
 * llama.cpp's grammar parser within bounds a request cannot push past (measured: a 100,000-value enum takes 37 s
 * of blocked event loop; a bound over 2,000 makes llama.cpp refuse the grammar and print all of it).
 */
import { UserError } from '../../errors.js';
import { emptyCycle, endlessDefinition } from './schemaRecursion.js';

/** Schemas inside schemas; OpenAI's structured outputs allow 10. */
export const MAX_SCHEMA_DEPTH = 64;
/** Schemas in all (OpenAI allows 5,000 object properties). */
export const MAX_SCHEMA_NODES = 5000;
/**
 * enum and const values in all, OpenAI's limit for structured outputs. Building the grammar costs time quadratic in
 * their number, and every sampled token costs llama.cpp time linear in it, while the request holds a slot of the
 * shared decode: measured here (2 cores, scripted model), 64 values ≈ 50 ms a token, 256 ≈ 140 ms,
 * 1,000 ≈ 650 ms, 4,000 ≈ 3.2 s.
 */
export const MAX_SCHEMA_VALUES = 500;
/** One length or item bound: llama.cpp's grammar parser refuses a repeated group × repetitions over 2,000 (MAX_REPETITION_THRESHOLD), and list items repeat two symbols. */
export const MAX_SCHEMA_BOUND = 1000;
/** All length and item bounds together: llama.cpp expands each repetition into that many rule copies. */
export const MAX_SCHEMA_BOUNDS_TOTAL = 20000;

type Json = Record<string, unknown>;

const PLAIN = ['string', 'number', 'integer', 'boolean', 'null'];
const TYPES = new Set([...PLAIN, 'object', 'array']);
const FORMATS = new Set(['date', 'time', 'date-time']);

/** Keywords the grammar would drop, though they decide which replies are valid. */
const UNSUPPORTED: Record<string, string> = {
  pattern: 'regular expressions cannot be enforced by the grammar; describe the format in the prompt instead',
  patternProperties: 'property names by pattern cannot be enforced; list the properties',
  propertyNames: 'property name rules cannot be enforced; list the properties',
  dependentRequired: 'conditional properties cannot be enforced',
  dependentSchemas: 'conditional schemas cannot be enforced',
  dependencies: 'conditional properties cannot be enforced',
  if: 'conditional schemas cannot be enforced',
  then: 'conditional schemas cannot be enforced',
  else: 'conditional schemas cannot be enforced',
  not: 'negated schemas cannot be enforced',
  allOf: 'intersections cannot be enforced; merge the schemas into one',
  unevaluatedProperties: 'cannot be enforced; use "additionalProperties"',
  unevaluatedItems: 'cannot be enforced; use "items"',
  contains: 'cannot be enforced',
  minContains: 'cannot be enforced',
  maxContains: 'cannot be enforced',
  minimum: 'number ranges cannot be enforced by the grammar',
  maximum: 'number ranges cannot be enforced by the grammar',
  exclusiveMinimum: 'number ranges cannot be enforced by the grammar',
  exclusiveMaximum: 'number ranges cannot be enforced by the grammar',
  multipleOf: 'cannot be enforced by the grammar',
  nullable: 'is OpenAPI, not JSON Schema; use "type": [T, "null"]',
  $dynamicRef: 'is not supported; use "$ref": "#/$defs/NAME"',
  $recursiveRef: 'is not supported; use "$ref": "#/$defs/NAME"',
};

/** Keywords that only mean something with a "type"; without one, the grammar would write `null`. */
const TYPED: Record<string, string> = {
  properties: 'object', additionalProperties: 'object', required: 'object', minProperties: 'object', maxProperties: 'object',
  items: 'array', prefixItems: 'array', minItems: 'array', maxItems: 'array',
  minLength: 'string', maxLength: 'string', format: 'string',
};

/** Keywords that say which values are valid; beside "$ref" or "oneOf" the grammar reads none of them. */
const VALIDATING = ['type', 'enum', 'const', 'oneOf', 'anyOf', ...Object.keys(TYPED)];

/** Any JSON value, in the subset node-llama-cpp builds. */
const anyValue = (): Json => ({ oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, { type: 'object', additionalProperties: true }, { type: 'array' }] });

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const quote = (s: string) => JSON.stringify(s);

function fits(v: unknown, type: string): boolean {
  switch (type) {
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number';
    case 'integer': return Number.isInteger(v);
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    default: return false;
  }
}

/** The definition name a "$ref" ends in: JSON pointer escapes (RFC 6901) and, in a URI fragment, %-escapes undone. */
function pointerName(raw: string): string {
  let s = raw;
  try { s = decodeURIComponent(raw); } catch { /* not %-escaped */ }
  return s.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** llama.cpp reads the grammar as a C string: a NUL inside a literal ends it there ("unexpected end of input"). */
function noNul(v: unknown, at: string, what: string) {
  if (typeof v === 'string' && v.includes('\0')) fail(at, `${what} with a NUL character (\\u0000), which the grammar cannot hold`);
}

/** A name in a JSON pointer (RFC 6901 escapes), cut short so that an error stays one readable line. */
const segment = (name: string) => {
  const s = name.replaceAll('~', '~0').replaceAll('/', '~1');
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

function fail(path: string, what: string): never {
  // 64 levels of long names would make a message of many kilobytes: keep the start and the end.
  const at = path.length > 300 ? `${path.slice(0, 100)}…${path.slice(-200)}` : path;
  throw new UserError(`the JSON schema is not supported: ${at} ${what}`);
}

interface Item {
  node: unknown;
  /** A JSON pointer into the schema the client sent, for the errors. */
  path: string;
  depth: number;
  /** Definition names a "$ref" here may name (node-llama-cpp resolves them in the enclosing "$defs"). */
  defs: ReadonlySet<string>;
  /** The definition whose value starts here: no object or list has opened since its start. */
  head?: string;
  put: (v: unknown) => void;
}

type Child = (node: unknown, at: string, put: (v: unknown) => void, defs?: ReadonlySet<string>, head?: string) => void;

interface Budget {
  values: number;
  bounds: number;
  /** Definition → the definitions its value may start with; a cycle here never writes a character. */
  starts: Map<string, Set<string>>;
}

/** The schema node-llama-cpp should build for `schema`, or a UserError saying which keyword at which path it cannot. */
export function grammarSchema(schema: unknown): object {
  let root: unknown;
  const stack: Item[] = [{ node: schema, path: '#', depth: 1, defs: new Set(), put: (v) => { root = v; } }];
  const budget = { nodes: 0, values: 0, bounds: 0, starts: new Map<string, Set<string>>() };
  while (stack.length > 0) {
    const it = stack.pop()!;
    if (++budget.nodes > MAX_SCHEMA_NODES) fail('#', `has more than ${MAX_SCHEMA_NODES} schemas in all; make it smaller`);
    if (it.depth > MAX_SCHEMA_DEPTH) fail(it.path, `is nested more than ${MAX_SCHEMA_DEPTH} schemas deep`);
    it.put(visit(it, stack, budget));
  }
  const cycle = emptyCycle(budget.starts);
  if (cycle) {
    fail(`#/$defs/${segment(cycle[0])}`, `starts with a reference back to itself (${cycle.join(' → ')}), so no value of it could ever be finished; put the reference inside "properties" or "items"`);
  }
  const endless = endlessDefinition(root as Json);
  if (endless) {
    fail(`#/$defs/${segment(endless)}`, 'always contains another value of itself (the grammar writes every listed property, and a list its minimum items), so no value of it could ever be finished; make the reference optional, e.g. "anyOf": [{"$ref": …}, {"type": "null"}]');
  }
  return root as object;
}

function visit(it: Item, stack: Item[], budget: Budget): unknown {
  const { node: s, path } = it;
  if (s === true) return anyValue();
  if (s === false) fail(path, 'is false, which no value matches');
  if (!isObject(s)) fail(path, `must be a schema object (got ${typeOf(s)})`);
  for (const k of Object.keys(UNSUPPORTED)) if (s[k] !== undefined) fail(path, `has ${quote(k)}, which ${UNSUPPORTED[k]}`);
  if (s.uniqueItems === true) fail(path, 'has "uniqueItems", which cannot be enforced by the grammar');
  const child: Child = (node, at, put, defs = it.defs, head = undefined) =>
    stack.push({ node, path: at, depth: it.depth + 1, defs, head, put });
  // Alternatives start where their parent starts.
  const alternative: Child = (node, at, put, defs = it.defs) => child(node, at, put, defs, it.head);
  const out: Json = {};

  // Definitions first: every reference below may name them.
  // Copied only where a node adds definitions: a copy at every node cost nodes × definitions (0.6 s for 2,400).
  let defs = it.defs;
  for (const key of ['$defs', 'definitions']) {
    const d = s[key];
    if (d === undefined) continue;
    if (!isObject(d)) fail(`${path}/${key}`, `must be an object of schemas (got ${typeOf(d)})`);
    const more = defs === it.defs ? new Set(it.defs) : defs as Set<string>;
    for (const name of Object.keys(d)) more.add(name);
    defs = more;
  }
  if (defs.size > it.defs.size) {
    const table: Json = Object.create(null);
    out.$defs = table;
    for (const key of ['$defs', 'definitions']) {
      const d = s[key] as Json | undefined;
      for (const name of Object.keys(d ?? {})) {
        table[name] = null;
        child(d![name], `${path}/${key}/${segment(name)}`, (v) => { table[name] = v; }, defs, name);
      }
    }
  }
  const inner = { ...it, defs };
  const present = (keys: string[]) => keys.filter((k) => s[k] !== undefined);

  if (s.$ref !== undefined) {
    const ref = s.$ref;
    const raw = typeof ref === 'string' ? /^#\/(?:\$defs|definitions)\/([^]*)$/.exec(ref)?.[1] : undefined;
    const name = raw === undefined ? undefined : pointerName(raw);
    if (name === undefined) fail(`${path}/$ref`, `is ${JSON.stringify(ref)}; only "#/$defs/NAME" references are supported`);
    if (!defs.has(name)) fail(`${path}/$ref`, `points to ${quote(ref as string)}, which is not defined in "$defs"`);
    const beside = present(VALIDATING);
    if (beside.length) fail(path, `has ${quote(beside[0])} beside "$ref", and the grammar reads only the reference; move it into the definition`);
    if (it.head !== undefined) {
      const set = budget.starts.get(it.head) ?? new Set<string>();
      budget.starts.set(it.head, set.add(name));
    }
    return { ...out, $ref: `#/$defs/${name}` };
  }

  const alternatives = present(['oneOf', 'anyOf']);
  if (alternatives.length) {
    if (alternatives.length > 1) fail(path, 'has both "oneOf" and "anyOf"; use one');
    const key = alternatives[0];
    const list = s[key];
    if (!Array.isArray(list) || list.length === 0) fail(`${path}/${key}`, 'must be a non-empty list of schemas');
    const beside = present(VALIDATING.filter((k) => k !== key));
    if (beside.length) fail(path, `has ${quote(beside[0])} beside ${quote(key)}, and the grammar reads only the alternatives; move it into each of them`);
    // The grammar writes a value that matches one alternative, which is what "anyOf" asks.
    const oneOf: unknown[] = list.map(() => null);
    list.forEach((alt, i) => alternative(alt, `${path}/${key}/${i}`, (v) => { oneOf[i] = v; }, defs));
    return { ...out, oneOf };
  }

  const type = s.type;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (types.length === 0) fail(`${path}/type`, 'is an empty list');
    for (const t of types) {
      if (typeof t !== 'string' || !TYPES.has(t)) fail(`${path}/type`, `is ${JSON.stringify(t)}; use "string", "number", "integer", "boolean", "null", "object" or "array"`);
    }
    if (types.length > 1 && s.enum === undefined && s.const === undefined) {
      // The grammar reads a type list only for plain types (a list with "object" writes null): one alternative each.
      const rest: Json = { ...s };
      delete rest.$defs;
      delete rest.definitions;
      const oneOf: unknown[] = types.map(() => null);
      types.forEach((t, i) => alternative({ ...rest, type: t }, `${path}/type/${i}`, (v) => { oneOf[i] = v; }, defs));
      return { ...out, oneOf };
    }
  }
  const types = type === undefined ? [] : Array.isArray(type) ? type as string[] : [type as string];

  if (s.const !== undefined || s.enum !== undefined) {
    const key = s.const !== undefined ? 'const' : 'enum';
    const values = key === 'const' ? [s.const] : s.enum;
    if (!Array.isArray(values) || values.length === 0) fail(`${path}/enum`, 'must be a non-empty list (an empty enum matches nothing)');
    budget.values += values.length;
    if (budget.values > MAX_SCHEMA_VALUES) fail(path, `brings the enum and const values to more than ${MAX_SCHEMA_VALUES} in all; make the lists shorter`);
    values.forEach((v, i) => {
      const at = key === 'const' ? `${path}/const` : `${path}/enum/${i}`;
      if (!isScalar(v)) fail(at, `is ${typeOf(v)}; only strings, numbers, true, false and null are supported as ${key} values`);
      noNul(v, at, 'is a string');
      if (types.length && !types.some((t) => fits(v, t))) fail(at, `is ${JSON.stringify(v)}, which is not of type ${types.map(quote).join(' or ')}`);
    });
    return { ...out, [key]: key === 'const' ? s.const : [...values] };
  }

  if (type === undefined) {
    const typed = present(Object.keys(TYPED));
    if (typed.length) fail(path, `has ${quote(typed[0])} but no "type"; add "type": ${quote(TYPED[typed[0]])}`);
    return { ...out, ...anyValue() };
  }
  const t = types[0];
  const bound = (key: string): number | undefined => {
    const v = s[key];
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_SCHEMA_BOUND) {
      fail(`${path}/${key}`, `is ${JSON.stringify(v)}; it must be a whole number from 0 to ${MAX_SCHEMA_BOUND}`);
    }
    return v as number;
  };
  const range = (min: string, max: string) => {
    const lo = bound(min);
    const hi = bound(max);
    if (lo !== undefined && hi !== undefined && hi < lo) fail(path, `has ${quote(max)} ${hi} below ${quote(min)} ${lo}, which no value matches`);
    budget.bounds += hi ?? lo ?? 0;
    if (budget.bounds > MAX_SCHEMA_BOUNDS_TOTAL) fail(path, `brings the length and item bounds to more than ${MAX_SCHEMA_BOUNDS_TOTAL} in all; make them smaller`);
    return { ...(lo !== undefined ? { [min]: lo } : {}), ...(hi !== undefined ? { [max]: hi } : {}) };
  };

  if (t === 'string') {
    const format = s.format;
    if (format !== undefined && (typeof format !== 'string' || !FORMATS.has(format))) {
      fail(`${path}/format`, `is ${JSON.stringify(format)}, which the grammar cannot enforce; supported formats are "date", "time" and "date-time"`);
    }
    return { ...out, type: t, ...range('minLength', 'maxLength'), ...(format !== undefined ? { format } : {}) };
  }
  if (t === 'object') return { ...out, ...objectSchema(s, inner, child) };
  if (t === 'array') {
    const r = range('minItems', 'maxItems');
    const arr: Json = { ...out, type: t, ...r };
    const prefix = s.prefixItems;
    if (prefix !== undefined) {
      if (!Array.isArray(prefix)) fail(`${path}/prefixItems`, `must be a list of schemas (got ${typeOf(prefix)})`);
      if (r.maxItems !== undefined && r.maxItems < prefix.length) fail(path, `has "maxItems" ${r.maxItems} below the ${prefix.length} "prefixItems", which no list matches`);
      const list: unknown[] = prefix.map(() => null);
      arr.prefixItems = list;
      prefix.forEach((p, i) => child(p, `${path}/prefixItems/${i}`, (v) => { list[i] = v; }, defs));
    }
    const items = s.items;
    if (Array.isArray(items)) fail(`${path}/items`, 'is a list (a draft-7 tuple); use "prefixItems" for the positions and "items" for the rest');
    if (items === false) {
      // No items past the prefix: the grammar's way to say it is a maximum.
      const most = Math.min(r.maxItems ?? Infinity, Array.isArray(prefix) ? prefix.length : 0);
      // node-llama-cpp, given maxItems 0 beside minItems 1, writes a list of whatever it likes.
      if ((r.minItems ?? 0) > most) fail(path, `has "minItems" ${r.minItems} but "items": false allows only its ${most} "prefixItems", which no list matches`);
      arr.maxItems = most;
    } else if (items !== undefined) {
      child(items, `${path}/items`, (v) => { arr.items = v; }, defs);
    }
    return arr;
  }
  return { ...out, type: t };
}

function objectSchema(s: Json, it: Item, child: Child): Json {
  const { path, defs } = it;
  const out: Json = { type: 'object' };
  const props = s.properties;
  if (props !== undefined && !isObject(props)) fail(`${path}/properties`, `must be an object of schemas (got ${typeOf(props)})`);
  const names = Object.keys(props ?? {});
  if (props) {
    const table: Json = Object.create(null);
    out.properties = table;
    // Keys in the client's order: the grammar writes the properties in this order.
    for (const name of names) {
      noNul(name, `${path}/properties`, 'has a property name');
      table[name] = null;
      child(props[name], `${path}/properties/${segment(name)}`, (v) => { table[name] = v; }, defs);
    }
  }
  const required = s.required;
  if (required !== undefined) {
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) fail(`${path}/required`, 'must be a list of property names');
    // The grammar writes every listed property, so a required one must be listed (optional ones are written too: still valid).
    const listed = new Set(names);
    const missing = required.find((r) => !listed.has(r));
    if (missing !== undefined) fail(`${path}/required`, `names ${quote(missing)}, which is not in "properties"; the reply has exactly the listed properties`);
  }
  const extra = s.additionalProperties;
  if (extra === undefined) {
    // JSON Schema's default is any further properties; node-llama-cpp's is none, which leaves `{}` as the only
    // reply to {"type": "object"}. With listed properties, none extra is still valid, and what clients mean.
    if (names.length === 0) out.additionalProperties = true;
  } else if (typeof extra === 'boolean') {
    out.additionalProperties = extra;
  } else {
    child(extra, `${path}/additionalProperties`, (v) => { out.additionalProperties = v; }, defs);
  }
  for (const key of ['minProperties', 'maxProperties']) {
    const v = s[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || (v as number) < 0) fail(`${path}/${key}`, `is ${JSON.stringify(v)}; it must be a whole number of at least 0`);
    out[key] = v;
  }
  if (typeof out.maxProperties === 'number' && out.maxProperties < names.length) {
    fail(path, `has "maxProperties" ${out.maxProperties} below its ${names.length} properties; the grammar writes them all`);
  }
  if (typeof out.minProperties === 'number' && out.minProperties > names.length && !out.additionalProperties) {
    fail(path, `has "minProperties" ${out.minProperties} above its ${names.length} properties and no "additionalProperties", which no object matches`);
  }
  return out;
}
