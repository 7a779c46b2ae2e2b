import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CsvParser } from '../../src/data/io/csv.js';
import { JsonArrayParser } from '../../src/data/io/jsonArray.js';
import { jsonErrorAt } from '../../src/data/io/jsonError.js';
import { JsonlParser } from '../../src/data/io/jsonl.js';
import type { ChunkParser, RawRow } from '../../src/data/io/rawRow.js';
import { RowSink } from '../../src/data/io/sink.js';
import { readRows } from '../../src/data/io/source.js';
import { sharegpt } from '../../src/data/formats/index.js';
import { allRows, feed } from '../helpers/rows.js';
import { ALL } from './records.js';

const dir = mkdtempSync(join(tmpdir(), 'data-io-'));

const ROWS = ALL.filter((r) => r.kind !== 'text').map((r) => sharegpt.write(r, () => {}));

test('rows written as .jsonl, .json, .csv and their .gz read back the same', async () => {
  for (const name of ['a.jsonl', 'a.json', 'a.csv', 'a.jsonl.gz', 'a.json.gz', 'a.csv.gz']) {
    const path = join(dir, name);
    const sink = new RowSink(path, { columns: sharegpt.fields });
    for (const r of ROWS) sink.write(r);
    sink.close();
    const back = await allRows(path);
    assert.deepEqual(back.map((r) => r.reason), ROWS.map(() => undefined), name);
    // CSV: an empty cell is an absent field; numbers read back as text.
    const cell = (v: unknown) => (typeof v === 'number' ? String(v) : v);
    const expect = name.includes('csv')
      ? ROWS.map((r) => Object.fromEntries(sharegpt.fields.filter((k) => r[k] !== undefined && r[k] !== '').map((k) => [k, cell(r[k])])))
      : ROWS;
    assert.deepEqual(back.map((r) => r.value), expect, name);
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  assert.equal(gunzipSync(readFileSync(join(dir, 'a.jsonl.gz'))).toString(), readFileSync(join(dir, 'a.jsonl'), 'utf8'));
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')), ROWS);
});

test('JSON Lines: line numbers count blank lines; a broken line is reported with its column and the rest read', () => {
  const text = '{"a":1}\r\n\n  \n{"a":"中文😀"}\n{"a": tru}\n{"a":2} {"b":3}\n{"a":"\\x"}\n{"a":3}';
  for (const size of [1, 3, 7, 1000]) {
    const rows = feed(new JsonlParser(), text, size);
    assert.deepEqual(rows, [
      { line: 1, value: { a: 1 } },
      { line: 4, value: { a: '中文😀' } },
      { line: 5, column: 7, reason: 'JSON: unexpected "t"', text: '{"a": tru}' },
      { line: 6, column: 9, reason: 'JSON: more text after the JSON value (two rows on one line?)', text: '{"a":2} {"b":3}' },
      { line: 7, column: 7, reason: 'JSON: bad escape \\x', text: '{"a":"\\x"}' },
      { line: 8, value: { a: 3 } },
    ], `chunks of ${size}`);
  }
});

test('a JSON array is read element by element, with each broken element placed exactly', () => {
  const text = '\uFEFF[\n  {"q": "一,]}", "n": [1, {"x": "\\"]"}]},\n  {"q": "二",\n   "n": }\n  ,{"q": "三"}\n]\n';
  for (const size of [1, 2, 5, 1000]) {
    const rows = feed(new JsonArrayParser(), text.slice(1), size);
    assert.deepEqual(rows, [
      { line: 2, value: { q: '一,]}', n: [1, { x: '"]' }] } },
      { line: 4, column: 9, reason: 'JSON: unexpected "}"', text: '{"q": "二",\n   "n": }' },
      { line: 5, value: { q: '三' } },
    ], `chunks of ${size}`);
  }
  assert.deepEqual(feed(new JsonArrayParser(), '[{"a":1},{"a":2}', 4).map((r) => r.reason ?? r.value), [{ a: 1 }, { a: 2 }, 'JSON: the array is not closed with ]']);
  assert.deepEqual(feed(new JsonArrayParser(), '{"a":1}', 4).map((r) => r.reason), ['JSON: a .json file must hold an array of rows ([{…}, {…}])']);
});

test('CSV: quoted fields hold commas, quotes and newlines; structured columns read as JSON, texts stay texts', () => {
  const text = 'instruction,input,output,history\r\n"翻译, 请","say ""hi""","第一行\n第二行",\nplain,,"[1,2]","[[""q"",""a""]]"\nshort,row\n';
  for (const size of [1, 4, 1000]) {
    assert.deepEqual(feed(new CsvParser(), text, size), [
      { line: 2, value: { instruction: '翻译, 请', input: 'say "hi"', output: '第一行\n第二行' } },
      { line: 4, value: { instruction: 'plain', output: '[1,2]', history: [['q', 'a']] } },
      { line: 5, column: 1, reason: 'CSV: 2 fields, the header has 4', text: 'short,row' },
    ], `chunks of ${size}`);
  }
});

test('the JSON error locator names the problem and its position', () => {
  assert.deepEqual(jsonErrorAt('{"a":1,}'), { index: 7, reason: 'expected a "key" in double quotes' });
  assert.deepEqual(jsonErrorAt('{"a":1'), { index: 6, reason: "unexpected end of the text: '}' missing" });
  assert.deepEqual(jsonErrorAt("{'a':1}"), { index: 1, reason: 'expected a "key" in double quotes' });
  assert.deepEqual(jsonErrorAt('{"a":"x\ty"}'), { index: 7, reason: 'control character in a string (escape it, e.g. \\n)' });
  assert.deepEqual(jsonErrorAt('{"a":"abc'), { index: 9, reason: 'unterminated string' });
  assert.deepEqual(jsonErrorAt('{"a" 1}'), { index: 5, reason: "expected ':' after the key" });
});

test('input type is told by content, not only by name: gzip magic and the first character', async () => {
  const p = join(dir, 'noext');
  writeFileSync(p, gzipSync('  \n[{"text": "一"}, {"text": "二"}]'));
  assert.deepEqual((await allRows(p)).map((r) => r.value), [{ text: '一' }, { text: '二' }]);
  const q = join(dir, 'lines.json');
  writeFileSync(q, '{"text": "a"}\n{"text": "b"}\n');
  assert.deepEqual((await allRows(q)).map((r) => r.line), [1, 2]);
});
