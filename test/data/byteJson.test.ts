import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertFile } from '../../src/data/convert.js';
import { formatByName } from '../../src/data/formats/index.js';
import { isInvalidJson, JsonBytesWriter, parseJsonBytes } from '../../src/data/io/byteJson.js';
import { isBlank, RawText } from '../../src/data/text.js';

const dir = mkdtempSync(join(tmpdir(), 'data-bytes-'));
const bytes = (s: string) => Buffer.from(s);
const parse = (s: string) => { const b = bytes(s); return parseJsonBytes(b, 0, b.length); };

const VALID = [
  '{"a":"中文😀","b":[1,-2.5,3e10,0,true,false,null],"c":{"d":""}}',
  '  {"esc": "\\u4e2d\\n\\t\\"\\\\\\/\\b\\f\\r", "k\\u0065y": "v"}  ',
  '[]', '{}', '"just a string"', '-1.5e-3', '{"__proto__": {"x": 1}, "y": "z"}', '[[[[["deep"]]]]]',
  '{"a":"\u2028 line separator, U+3000:\u3000"}',
];
const INVALID = [
  '{"a":1,}', '{"a":"tab\there"}', '{"a":"\\x"}', '{"a":"\\u12G4"}', "{'a':1}", '{"a":01}', '{"a":+1}', '{"a":.5}',
  '{"a":1} {"b":2}', '{"a":tru}', '{"a":"unterminated}', '[1,2', '{"a" 1}', '', 'nul', '{"a":1e}', '{"a":--1}',
];

test('the byte parser accepts what JSON.parse accepts, with the same values, and rejects the rest', () => {
  for (const s of VALID) assert.deepEqual(JSON.parse(JSON.stringify(parse(s))), JSON.parse(s), s);
  for (const s of INVALID) {
    assert.throws(() => JSON.parse(s), SyntaxError, `JSON.parse accepts ${s}`);
    assert.throws(() => parse(s), (e) => isInvalidJson(e), s);
  }
  const o = parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.ok(Object.hasOwn(o, '__proto__'));
});

test('strings stay raw bytes until asked for; the writer copies them through unchanged', () => {
  const v = parse('{"t": "\\u4e2d文 \\"q\\"", "n": 5}') as { t: RawText; n: number };
  assert.ok(v.t instanceof RawText);
  assert.equal(v.t.toString(), '中文 "q"');
  const w = new JsonBytesWriter();
  w.value({ out: v.t, mine: '新的\n', n: v.n, list: [v.t, null], skip: undefined });
  assert.equal(w.buf.toString('utf8', 0, w.len), '{"out":"\\u4e2d文 \\"q\\"","mine":"新的\\n","n":5,"list":["\\u4e2d文 \\"q\\"",null]}');
});

test('blank detection on raw text decodes only what could be blank', () => {
  const raw = (s: string) => parse(JSON.stringify(s)) as RawText;
  for (const s of ['', ' ', '\n\t', '\u3000', '\u00a0 ', '\ufeff']) assert.equal(isBlank(raw(s)), true, JSON.stringify(s));
  for (const s of ['x', ' 中', '中', '\u3000a', '😀']) assert.equal(isBlank(raw(s)), false, JSON.stringify(s));
  assert.equal(isBlank(parse('"\\n \\u3000"') as RawText), true);
});

test('convert through the byte path gives what the string path gives, errors included', async () => {
  const src = join(dir, 'in.jsonl');
  writeFileSync(src, '\uFEFF' + [
    '{"conversation_id": 1, "system": "", "conversation": [{"human": "\\u4f60\\u597d", "assistant": "中文😀 \\"q\\" \\\\ end"}]}',
    '{"conversation_id": 2, "conversation": [{"human": "q", "assistant": "\\u3000\\n"}]}',
    '{"conversation_id": 3, "conversation": [{"human": "tab\there", "assistant": "x"}]}',
    '{"conversation_id": 4, "system": "系统", "conversation": [{"human": "a", "assistant": "b"}, {"human": "c", "assistant": "d"}]}',
  ].join('\r\n'));
  const out = join(dir, 'out.jsonl');
  const r = await convertFile(src, out, { to: formatByName('openai', '--to') });
  assert.deepEqual([r.rows, r.written], [4, 2]);
  assert.deepEqual(r.rejected.first, [
    { line: 2, reason: 'turn 2: empty assistant message' },
    { line: 3, column: 55, reason: 'JSON: control character in a string (escape it, e.g. \\n)' },
  ]);
  const text = readFileSync(out, 'utf8');
  assert.equal(text.split('\n')[0], '{"id":1,"messages":[{"role":"user","content":"\\u4f60\\u597d"},{"role":"assistant","content":"中文😀 \\"q\\" \\\\ end"}]}');
  assert.deepEqual(text.trim().split('\n').map((l) => JSON.parse(l)), [
    { id: 1, messages: [{ role: 'user', content: '你好' }, { role: 'assistant', content: '中文😀 "q" \\ end' }] },
    { id: 4, messages: [{ role: 'system', content: '系统' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }, { role: 'assistant', content: 'd' }] },
  ]);
  // alpaca needs the characters (instruction + "\n" + input): raw texts decode on demand.
  const al = join(dir, 'al.jsonl');
  writeFileSync(al, '{"instruction": "\\u7ffb\\u8bd1", "input": "你好", "output": "Hello"}\n');
  await convertFile(al, join(dir, 'al.out.jsonl'), { to: formatByName('sharegpt', '--to') });
  assert.equal(readFileSync(join(dir, 'al.out.jsonl'), 'utf8'), '{"conversations":[{"from":"human","value":"翻译\\n你好"},{"from":"gpt","value":"Hello"}]}\n');
});

test('convert writes gzip and JSON-array outputs from the byte path, and reads gzip input', async () => {
  const src = join(dir, 'g.jsonl');
  writeFileSync(src, Array.from({ length: 3 }, (_, i) => JSON.stringify({ conversation: [{ human: `问${i}`, assistant: `答${i} 😀` }] })).join('\n'));
  const gz = join(dir, 'g.sharegpt.jsonl.gz');
  await convertFile(src, gz, { to: formatByName('sharegpt', '--to') });
  const arr = join(dir, 'g.back.json');
  const r = await convertFile(gz, arr, { to: formatByName('firefly', '--to') });
  assert.equal(r.written, 3);
  assert.deepEqual(JSON.parse(readFileSync(arr, 'utf8')), Array.from({ length: 3 }, (_, i) => ({ conversation: [{ human: `问${i}`, assistant: `答${i} 😀` }] })));
});
