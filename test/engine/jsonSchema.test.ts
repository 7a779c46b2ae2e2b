import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { grammarSchema, grammarSchema as check, MAX_SCHEMA_BOUND, MAX_SCHEMA_DEPTH } from '../../src/engine/llamacpp/jsonSchema.js';

/** What node-llama-cpp's JSON-schema grammar gets: the schemas it builds exactly, and one-line errors for the rest. */

const refused = (schema: unknown, message: string) =>
  assert.throws(() => grammarSchema(schema), (e: Error) => {
    assert.equal(e.name, 'UserError');
    assert.equal(e.message, `the JSON schema is not supported: ${message}`);
    return true;
  });

test('what the grammar would mistranslate is refused, naming the keyword and where it is', () => {
  refused({ type: 'foo' }, '#/type is "foo"; use "string", "number", "integer", "boolean", "null", "object" or "array"');
  refused({ enum: [] }, '#/enum must be a non-empty list (an empty enum matches nothing)');
  refused({ type: 'object', properties: { id: { type: 'string', pattern: '(' } } },
    '#/properties/id has "pattern", which regular expressions cannot be enforced by the grammar; describe the format in the prompt instead');
  refused({ type: 'integer', minimum: 0 }, '# has "minimum", which number ranges cannot be enforced by the grammar');
  refused({ type: 'string', format: 'email' }, '#/format is "email", which the grammar cannot enforce; supported formats are "date", "time" and "date-time"');
  refused({ allOf: [{ type: 'string' }] }, '# has "allOf", which intersections cannot be enforced; merge the schemas into one');
  refused({ type: 'array', items: { type: 'string' }, uniqueItems: true }, '# has "uniqueItems", which cannot be enforced by the grammar');
  refused({ properties: { a: { type: 'string' } } }, '# has "properties" but no "type"; add "type": "object"');
  refused({ type: 'object', properties: { a: { type: 'string' } }, required: ['b'] },
    '#/required names "b", which is not in "properties"; the reply has exactly the listed properties');
  refused({ oneOf: [] }, '#/oneOf must be a non-empty list of schemas');
  refused({ type: 'object', oneOf: [{ type: 'object' }] }, '# has "type" beside "oneOf", and the grammar reads only the alternatives; move it into each of them');
  refused({ $ref: '#/$defs/missing' }, '#/$ref points to "#/$defs/missing", which is not defined in "$defs"');
  refused({ $ref: 'https://example.com/s.json' }, '#/$ref is "https://example.com/s.json"; only "#/$defs/NAME" references are supported');
  refused({ enum: [{ a: 1 }] }, '#/enum/0 is an object; only strings, numbers, true, false and null are supported as enum values');
  refused({ type: 'string', enum: ['a', 1] }, '#/enum/1 is 1, which is not of type "string"');
  refused({ type: 'array', items: [{ type: 'string' }] }, '#/items is a list (a draft-7 tuple); use "prefixItems" for the positions and "items" for the rest');
  refused({ type: 'string', minLength: 5, maxLength: 2 }, '# has "maxLength" 2 below "minLength" 5, which no value matches');
  refused({ type: 'string', maxLength: 1e6 }, `#/maxLength is 1000000; it must be a whole number from 0 to ${MAX_SCHEMA_BOUND}`);
  refused({ type: 'object', properties: { a: false } }, '#/properties/a is false, which no value matches');
  // node-llama-cpp got maxItems 0 beside minItems 1 and wrote a list of strings.
  refused({ type: 'array', items: false, minItems: 1 }, '# has "minItems" 1 but "items": false allows only its 0 "prefixItems", which no list matches');
  refused({ type: 'array', prefixItems: [{ type: 'string' }], items: false, minItems: 2 }, '# has "minItems" 2 but "items": false allows only its 1 "prefixItems", which no list matches');
  refused({ type: 'string', nullable: true }, '# has "nullable", which is OpenAPI, not JSON Schema; use "type": [T, "null"]');
  refused('string', '# must be a schema object (got string)');
  // Left recursion: llama.cpp refused these with only "Failed to parse grammar".
  refused({ $defs: { a: { anyOf: [{ type: 'null' }, { $ref: '#/$defs/a' }] } }, $ref: '#/$defs/a' },
    '#/$defs/a starts with a reference back to itself (a → a), so no value of it could ever be finished; put the reference inside "properties" or "items"');
  assert.throws(() => grammarSchema({ $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' }), /starts with a reference back to itself \((a → b → a|b → a → b)\)/);
  // Every node holds a next node: the grammar would go on until max_tokens. A null alternative lets it end.
  const list = (next: unknown) => ({ $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, next } } }, $ref: '#/$defs/node' });
  refused(list({ $ref: '#/$defs/node' }), '#/$defs/node always contains another value of itself (the grammar writes every listed property, and a list its minimum items), so no value of it could ever be finished; make the reference optional, e.g. "anyOf": [{"$ref": …}, {"type": "null"}]');
  // A chain of definitions, each ending only once the next one does, listed first to last: each is found to end
  // when the one after it does (a worklist, not a pass over all of them per link), and a chain that never ends is named.
  const chain = (last: unknown) => {
    const defs: Record<string, unknown> = {};
    for (let i = 0; i < 2000; i++) defs[`d${i}`] = i === 1999 ? last : { type: 'object', properties: { a: { $ref: `#/$defs/d${i + 1}` } }, required: ['a'] };
    return { $defs: defs, $ref: '#/$defs/d0' };
  };
  assert.equal((grammarSchema(chain({ type: 'string' })) as { $ref: string }).$ref, '#/$defs/d0');
  refused(chain({ type: 'object', properties: { a: { $ref: '#/$defs/d0' } }, required: ['a'] }), '#/$defs/d0 always contains another value of itself (the grammar writes every listed property, and a list its minimum items), so no value of it could ever be finished; make the reference optional, e.g. "anyOf": [{"$ref": …}, {"type": "null"}]');
  refused({ $defs: { t: { type: 'array', items: { $ref: '#/$defs/t' }, minItems: 1 } }, type: 'object', properties: { tree: { $ref: '#/$defs/t' } } }, '#/$defs/t always contains another value of itself (the grammar writes every listed property, and a list its minimum items), so no value of it could ever be finished; make the reference optional, e.g. "anyOf": [{"$ref": …}, {"type": "null"}]');
  assert.ok(grammarSchema(list({ anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] })));
  assert.ok(grammarSchema({ $defs: { t: { type: 'array', items: { $ref: '#/$defs/t' } } }, $ref: '#/$defs/t' }), 'an empty list ends it');
  // llama.cpp reads the grammar as a C string, and printed all of it when a NUL cut it short.
  refused({ enum: ['a\u0000b'] }, '#/enum/0 is a string with a NUL character (\\u0000), which the grammar cannot hold');
  refused({ type: 'object', properties: { '\u0000': { type: 'string' } } }, '#/properties has a property name with a NUL character (\\u0000), which the grammar cannot hold');
  refused({ type: 'object', properties: { [`a/b~${'x'.repeat(50)}`]: { type: 'foo' } } },
    `#/properties/a~1b~0${'x'.repeat(34)}…/type is "foo"; use "string", "number", "integer", "boolean", "null", "object" or "array"`);
});

test('schemas nested past the limit, however deep, are refused without recursion', () => {
  let deep: unknown = { type: 'string' };
  for (let i = 0; i < 100_000; i++) deep = { type: 'array', items: deep };
  // The path of the error keeps its start and its end, so the message stays one readable line.
  const path = `#${'/items'.repeat(MAX_SCHEMA_DEPTH)}`;
  refused(deep, `${path.slice(0, 100)}…${path.slice(-200)} is nested more than ${MAX_SCHEMA_DEPTH} schemas deep`);
  let alts: unknown = { type: 'string' };
  for (let i = 0; i < 100_000; i++) alts = { anyOf: [alts] };
  assert.throws(() => grammarSchema(alts), /is nested more than 64 schemas deep$/);
  const en = Array.from({ length: 501 }, (_, i) => `v${i}`);
  refused({ enum: en }, '# brings the enum and const values to more than 500 in all; make the lists shorter');
  assert.doesNotThrow(() => grammarSchema({ enum: en.slice(0, 500) }));
  const props = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`k${i}`, { type: 'string' }]));
  refused({ type: 'object', properties: props }, '# has more than 5000 schemas in all; make it smaller');
});

test('keywords with an exact equivalent are rewritten into the subset the grammar builds', () => {
  // Property and definition tables have no prototype (a property may be called "__proto__"): compare as JSON.
  const grammarSchema = (s: unknown) => JSON.parse(JSON.stringify(check(s)));
  assert.deepEqual(grammarSchema({ anyOf: [{ type: 'string' }, { type: 'null' }] }), { oneOf: [{ type: 'string' }, { type: 'null' }] });
  assert.deepEqual(grammarSchema({ type: ['object', 'null'], properties: { a: { type: 'integer' } } }), {
    oneOf: [{ type: 'object', properties: { a: { type: 'integer' } } }, { type: 'null' }],
  });
  const any = { oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, { type: 'object', additionalProperties: true }, { type: 'array' }] };
  assert.deepEqual(grammarSchema({}), any);
  assert.deepEqual(grammarSchema({ type: 'object', properties: { x: true } }), { type: 'object', properties: { x: any } });
  assert.deepEqual(grammarSchema({ type: 'object' }), { type: 'object', additionalProperties: true });
  // zod-to-json-schema (OpenAI's zodResponseFormat) writes draft-7 "definitions".
  assert.deepEqual(grammarSchema({ definitions: { p: { type: 'string' } }, type: 'object', properties: { a: { $ref: '#/definitions/p' } } }), {
    $defs: { p: { type: 'string' } }, type: 'object', properties: { a: { $ref: '#/$defs/p' } },
  });
  // References are JSON pointers: ~1 is "/", ~0 is "~", and a URI fragment may %-escape.
  assert.deepEqual(grammarSchema({ $defs: { 'a/b~': { type: 'string' }, 'my def': { type: 'null' } }, type: 'array', prefixItems: [{ $ref: '#/$defs/a~1b~0' }, { $ref: '#/$defs/my%20def' }] }), {
    $defs: { 'a/b~': { type: 'string' }, 'my def': { type: 'null' } }, type: 'array', prefixItems: [{ $ref: '#/$defs/a/b~' }, { $ref: '#/$defs/my def' }],
  });
  assert.deepEqual(grammarSchema({ type: 'array', prefixItems: [{ type: 'string' }], items: false }), { type: 'array', prefixItems: [{ type: 'string' }], maxItems: 1 });
  // Properties keep the client's order (the grammar writes them in it); annotations are fine.
  const ordered = grammarSchema({ type: 'object', title: 'T', properties: { z: { type: 'string', description: 'd' }, a: { type: 'boolean' } }, required: ['z'] }) as { properties: object };
  assert.deepEqual(Object.keys(ordered.properties), ['z', 'a']);
  const proto = check({ type: 'object', properties: JSON.parse('{"__proto__": {"type": "string"}}') }) as { properties: object };
  assert.deepEqual(Object.keys(proto.properties), ['__proto__']);
});

test('every schema the check lets through builds in node-llama-cpp, recursive definitions included', async () => {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, logger: () => {}, progressLogs: false });
  const schemas = [
    {},
    { type: ['object', 'null'], properties: { a: { type: 'integer' } } },
    { $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, next: { anyOf: [{ type: 'null' }, { $ref: '#/$defs/node' }] } } } }, $ref: '#/$defs/node' },
    { type: 'object', properties: { when: { type: 'string', format: 'date-time' }, tags: { type: 'array', items: { type: 'string', maxLength: 20 }, maxItems: MAX_SCHEMA_BOUND } } },
    { type: 'array', prefixItems: [{ const: 1 }, { enum: ['a', null] }], items: false },
    { $defs: { 'a/b~': { type: 'string' } }, type: 'array', items: { $ref: '#/$defs/a~1b~0' } },
  ];
  for (const s of schemas) {
    const g = await llama.createGrammarForJsonSchema(grammarSchema(s) as never);
    assert.ok(g.grammar.length > 0);
  }
});
