import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CsvParser } from '../../src/data/io/csv.js';
import { JsonArrayParser } from '../../src/data/io/jsonArray.js';
import { jsonErrorAt } from '../../src/data/io/jsonError.js';
import { JsonlParser, TextLinesParser } from '../../src/data/io/jsonl.js';
import { DEFAULT_LIMITS, LineTooLong, type ReadLimits } from '../../src/data/io/limits.js';
import { readRowsRaw } from '../../src/data/io/rawLines.js';
import type { ChunkParser, RawRow } from '../../src/data/io/rawRow.js';
import { RowSink } from '../../src/data/io/sink.js';
import { inspectSource, readRows } from '../../src/data/io/source.js';
import { UserError } from '../../src/errors.js';
import { allRows, feed } from '../helpers/rows.js';
import { writeFileAtomic } from '../../src/util/files.js';

const dir = mkdtempSync(join(tmpdir(), 'data-damaged-'));
const MiB = 1 << 20;

async function allRaw(path: string, read?: ReadLimits): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for await (const b of readRowsRaw(inspectSource(path), undefined, read)) out.push(...b);
  return out;
}

const tooLong = (line: number, what: string) => (e: unknown) => e instanceof LineTooLong && e.line === line && e.what === what && e.limit === 64;
const userError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');

test('every parser refuses a line, record or element over maxLine, naming the line it starts on, however it is chunked', () => {
  for (const size of [5, 1000]) {
    assert.throws(() => feed(new JsonlParser(64), `{"a":1}\n\n{"a":"${'x'.repeat(70)}"}\n`, size), tooLong(3, 'this line'));
    assert.throws(() => feed(new TextLinesParser(64), `ok\n${'y'.repeat(65)}`, size), tooLong(2, 'this line'));
    assert.throws(() => feed(new CsvParser(64), `a,b\n1,2\n"${'z'.repeat(10)}\n`.padEnd(200, 'q'), size), tooLong(3, 'this CSV record (a quote not closed?)'));
    assert.throws(() => feed(new CsvParser(64), `a,b\n1,${'w'.repeat(70)}\n`, size), tooLong(2, 'this CSV record'));
    assert.throws(() => feed(new JsonArrayParser(64), `[{"a":1},\n {"a":"${'v'.repeat(70)}"}]`, size), tooLong(2, 'this array element'));
  }
  // At the limit is still a row.
  assert.deepEqual(feed(new JsonlParser(64), `{"a":"${'x'.repeat(56)}"}\n`, 7), [{ line: 1, value: { a: 'x'.repeat(56) } }]);
});

test('a gzip bomb (one byte repeated, no newline) stops at the line limit with the line number, in both readers', async () => {
  const bomb = join(dir, 'bomb.jsonl.gz');
  writeFileSync(bomb, gzipSync(Buffer.alloc(8 * MiB, 'a'), { level: 9 }));
  const small = { maxLine: MiB, allowBroken: false };
  const msg = /bomb\.jsonl\.gz:1: this line is longer than 1 MiB, the limit \(a damaged file\? if the rows really are this long, raise it with --max-line-mb\)$/;
  await assert.rejects(allRows(bomb, small), userError(msg));
  await assert.rejects(allRaw(bomb, small), userError(msg));
  const spaces = join(dir, 'spaces.jsonl.gz');
  writeFileSync(spaces, gzipSync(Buffer.alloc(8 * MiB, ' '), { level: 9 }));
  await assert.rejects(allRows(spaces, small), userError(/spaces\.jsonl\.gz:1: this line is longer than 1 MiB/));
  await assert.rejects(allRaw(spaces, small), userError(/spaces\.jsonl\.gz:1: this line is longer than 1 MiB/));
});

test('blank lines before and between rows are counted, not kept: line numbers and columns stay exact', async () => {
  const n = 3 * MiB;
  const path = join(dir, 'blanks.jsonl.gz');
  writeFileSync(path, gzipSync(Buffer.concat([Buffer.alloc(n, '\n'), Buffer.from('  {"text": "一"}\n'), Buffer.alloc(n, '\n'), Buffer.from('{"text": tru}\n')])));
  const expect = [
    { line: n + 1, value: { text: '一' } },
    { line: 2 * n + 2, column: 10, reason: 'JSON: unexpected "t"', text: '{"text": tru}' },
  ];
  assert.deepEqual(await allRows(path), expect);
  assert.deepEqual((await allRaw(path)).map((r) => ({ ...r, value: r.value === undefined ? undefined : JSON.parse(JSON.stringify(r.value)) })).map((r) => (r.value === undefined ? { line: r.line, column: r.column, reason: r.reason, text: r.text } : { line: r.line, value: r.value })), expect);
  const arr = join(dir, 'blanks.json');
  writeFileSync(arr, `${'\n'.repeat(5)}   [{"text": "a"},\n {"text": }]`);
  assert.deepEqual(await allRows(arr), [{ line: 6, value: { text: 'a' } }, { line: 7, column: 11, reason: 'JSON: unexpected "}"', text: '{"text": }' }]);
});

test('a file cut short is an error unless allowBroken, which reads the rows before the cut and counts the cut as one broken row', async () => {
  const cases: [string, string | Buffer, RegExp, unknown[]][] = [
    ['cut.json', '[{"text":"a"},\n{"text":"b"}', /cut\.json:2: the file is cut short: the array is not closed with \]; add --allow-broken to use the rows before that point$/, [{ text: 'a' }, { text: 'b' }, 'JSON: the array is not closed with ]']],
    ['cut2.json', '[{"text":"a"},\n{"text":"b', /cut2\.json:2: the file is cut short: the file ends inside this element; the array is not closed with \]/, [{ text: 'a' }, 'JSON: the file ends inside this element; the array is not closed with ]']],
    ['cut.csv', 'text\nfine\n"never closed\nmore\n', /cut\.csv:3: the file is cut short: the file ends inside a quoted field \(a quote not closed\)/, [{ text: 'fine' }, 'CSV: the file ends inside a quoted field (a quote not closed)']],
    ['cut.jsonl.gz', gzipSync('{"text":"a"}\n{"text":"b"}\n').subarray(0, 30), /cut\.jsonl\.gz: the file is cut short: the gzip data is broken or cut short \(unexpected end of file\)/, []],
  ];
  for (const [name, body, msg, rows] of cases) {
    const path = join(dir, name);
    writeFileSync(path, body);
    await assert.rejects(allRows(path), userError(msg), name);
    if (name.endsWith('.gz')) {
      await assert.rejects(allRaw(path), userError(msg), name);
      for (const got of [await allRaw(path, { ...DEFAULT_LIMITS, allowBroken: true }), await allRows(path, { ...DEFAULT_LIMITS, allowBroken: true })]) {
        assert.deepEqual(got.map((r) => [r.line, r.reason ?? JSON.parse(JSON.stringify(r.value))]), [[1, { text: 'a' }], [2, { text: 'b' }], [3, 'gzip: the data is broken or cut short (unexpected end of file)']]);
      }
      continue;
    }
    assert.deepEqual((await allRows(path, { ...DEFAULT_LIMITS, allowBroken: true })).map((r) => r.reason ?? r.value), rows, name);
  }
});

test('rows nested deeper than 1,000 levels are broken rows in every reader, never a stack overflow', async () => {
  const deep = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
  const reason = 'JSON: nested deeper than 1000 levels';
  const jsonl = join(dir, 'deep.jsonl');
  writeFileSync(jsonl, `{"text":"ok","x":${deep(999)}}\n{"text":"a","x":${deep(100_000)}}\n{"text":"b","x":${deep(3000)}\n`);
  for (const rows of [await allRows(jsonl), await allRaw(jsonl)]) {
    assert.deepEqual(rows.map((r) => [r.line, r.reason]), [[1, undefined], [2, reason], [3, 'JSON: nested deeper than 1000 levels']]);
  }
  const arr = join(dir, 'deep.json');
  writeFileSync(arr, `[{"text":"a","x":${deep(100_000)}}, {"text":"b"}]`);
  assert.deepEqual((await allRows(arr)).map((r) => r.reason ?? r.value), [reason, { text: 'b' }]);
  // A CSV cell that would be JSON stays text when it is this deep.
  const csv = join(dir, 'deep.csv');
  writeFileSync(csv, `conversations\n"${deep(100_000)}"\n`);
  assert.deepEqual((await allRows(csv)).map((r) => r.value), [{ conversations: deep(100_000) }]);
  assert.deepEqual(jsonErrorAt(`${'['.repeat(100_000)}x`), { index: 1000, reason: 'nested deeper than 1000 levels' });
});

test('a FIFO or a device as the input is refused at once (opening a FIFO blocks until a writer comes)', () => {
  const fifo = join(dir, 'pipe.jsonl');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => inspectSource(fifo), userError(/pipe\.jsonl is not a regular file \(a pipe, socket or device\); give a data file on disk$/));
  const zero = join(dir, 'zero.jsonl');
  symlinkSync('/dev/zero', zero);
  assert.throws(() => inspectSource(zero), userError(/zero\.jsonl is not a regular file/));
  assert.throws(() => inspectSource(dir), userError(/is a folder, not a data file$/));
});

test('an output that is a symlink is written through to its file and stays a link; a link to a device is refused', () => {
  const real = join(dir, 'real.jsonl');
  writeFileSync(real, 'old\n');
  const link = join(dir, 'link.jsonl');
  symlinkSync('real.jsonl', link);
  const sink = new RowSink(link);
  sink.write({ text: 'new' });
  sink.close();
  assert.equal(readlinkSync(link), 'real.jsonl');
  assert.equal(readFileSync(real, 'utf8'), '{"text":"new"}\n');
  // A link to a file not there yet creates that file.
  const dangling = join(dir, 'dangling.json');
  symlinkSync('later.json', dangling);
  writeFileAtomic(dangling, '{}\n');
  assert.ok(lstatSync(dangling).isSymbolicLink());
  assert.equal(readFileSync(join(dir, 'later.json'), 'utf8'), '{}\n');
  const full = join(dir, 'full.jsonl');
  symlinkSync('/dev/full', full);
  const refused = userError(/^cannot write .*full\.jsonl: it links to \/dev\/full, which is not a regular file \(a device, pipe or socket\); give a file name$/);
  assert.throws(() => new RowSink(full), refused);
  assert.throws(() => writeFileAtomic(full, 'x'), refused);
  assert.equal(readlinkSync(full), '/dev/full');
  mkdirSync(join(dir, 'afolder.jsonl'));
  assert.throws(() => new RowSink(join(dir, 'afolder.jsonl')), userError(/^cannot write .*afolder\.jsonl: it is a folder; give a file name$/));
});
