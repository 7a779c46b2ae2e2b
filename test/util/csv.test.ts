import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CsvParser } from '../../src/data/io/csv.js';
import { parseCsv } from '../../src/eval/csv.js';
import { type CsvRecord, CsvTokenizer } from '../../src/util/csv.js';
import { feed } from '../helpers/rows.js';

// Quoted commas, "" escapes, CRLF, newlines (and a CRLF) in quotes, text after a closing quote, a trailing comma.
const TRICKY = 'a,b,c,d\r\n"x, y","say ""hi""",plain,\r\n"multi\nline\r\nfield","q"tail,"",end\r\n1,2,3,4';
const RECORDS: CsvRecord[] = [
  { fields: ['a', 'b', 'c', 'd'], line: 1 },
  { fields: ['x, y', 'say "hi"', 'plain', ''], line: 2 },
  { fields: ['multi\nline\r\nfield', 'qtail', '', 'end'], line: 3 },
  { fields: ['1', '2', '3', '4'], line: 6 },
];

test('the tokenizer reads the same records wherever the chunks split', () => {
  for (let size = 1; size <= TRICKY.length; size++) {
    const t = new CsvTokenizer();
    const out: CsvRecord[] = [];
    for (let i = 0; i < TRICKY.length; i += size) t.push(TRICKY.slice(i, i + size), out);
    assert.equal(t.end(out), undefined);
    assert.deepEqual(out, RECORDS, `chunks of ${size}`);
  }
});

test("eval's parseCsv and data's CsvParser agree on a tricky text", () => {
  const records = parseCsv(TRICKY);
  assert.deepEqual(records, RECORDS);
  const [header, ...rest] = records;
  // Data reads empty cells as absent fields; otherwise a row is its record under the header.
  const expected = rest.map(({ fields, line }) => ({
    line,
    value: Object.fromEntries(header.fields.map((k, j) => [k, fields[j]]).filter(([, v]) => v !== '')),
  }));
  for (const size of [1, 2, 7, TRICKY.length]) assert.deepEqual(feed(new CsvParser(), TRICKY, size), expected, `chunks of ${size}`);
});

test('an open quote at the end names the line its field starts on', () => {
  const t = new CsvTokenizer();
  const out: CsvRecord[] = [];
  t.push('a,b\nc,"never\nclosed\n', out);
  assert.deepEqual(t.end(out), { line: 2, recordLine: 2, text: 'never\nclosed\n' });
  assert.deepEqual(out, [{ fields: ['a', 'b'], line: 1 }]);
});
