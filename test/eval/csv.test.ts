import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CsvError, parseCsv } from '../../src/eval/csv.js';

test('quoted fields hold commas, doubled quotes and newlines; each record knows its first line', () => {
  const text = '\ufeffid,question\r\n0,"a, b"\n1,"say ""hi""\nand go",x\n\n2,plain\n';
  assert.deepEqual(parseCsv(text), [
    { fields: ['id', 'question'], line: 1 },
    { fields: ['0', 'a, b'], line: 2 },
    { fields: ['1', 'say "hi"\nand go', 'x'], line: 3 },
    { fields: ['2', 'plain'], line: 6 },
  ]);
});

test('a last line without a newline and empty trailing fields are kept', () => {
  assert.deepEqual(parseCsv('a,b,\nc'), [{ fields: ['a', 'b', ''], line: 1 }, { fields: ['c'], line: 2 }]);
});

test('an unterminated quote is an error at the line where the field opens', () => {
  assert.throws(() => parseCsv('a,b\nc,"never\nclosed\n'), (e: unknown) => e instanceof CsvError && e.line === 2 && /never closed/.test(e.message));
});
