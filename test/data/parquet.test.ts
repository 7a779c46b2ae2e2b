import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parquetWriteFile } from 'hyparquet-writer';
import { openDataset } from '../../src/data/dataset.js';
import type { RawRow } from '../../src/data/io/rawRow.js';
import { rowGroupProblem } from '../../src/data/io/parquet.js';
import { readRows } from '../../src/data/io/source.js';
import { UserError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'data-parquet-'));

async function all(path: string): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for await (const b of readRows(path)) out.push(...b);
  return out;
}

test('parquet: flat columns across several row groups, int64 ids as numbers', async () => {
  const path = join(dir, 'alpaca.parquet');
  parquetWriteFile({
    filename: path,
    columnData: [
      { name: 'id', data: [1n, 2n, 3n, 9007199254740993n], type: 'INT64' },
      { name: 'instruction', data: ['翻译', '写诗 🌙', 'say "hi"\n', 'x'], type: 'STRING' },
      { name: 'output', data: ['Hello', '床前明月光', 'hi', 'y'], type: 'STRING' },
    ],
    rowGroupSize: 3,
  });
  const rows = await all(path);
  assert.deepEqual(rows, [
    { line: 1, value: { id: 1, instruction: '翻译', output: 'Hello' } },
    { line: 2, value: { id: 2, instruction: '写诗 🌙', output: '床前明月光' } },
    { line: 3, value: { id: 3, instruction: 'say "hi"\n', output: 'hi' } },
    { line: 4, value: { id: '9007199254740993', instruction: 'x', output: 'y' } }, // beyond 2^53: kept exact, as text
  ]);
  assert.equal((await openDataset(path)).format.name, 'alpaca');
});

test('parquet: a list-of-structs column (ShareGPT as Hugging Face ships it) reads as nested JSON', async () => {
  const path = join(dir, 'sharegpt.parquet');
  parquetWriteFile({
    filename: path,
    columnData: [{ name: 'conversations', data: [[{ from: 'human', value: '你好' }, { from: 'gpt', value: '你好😀' }]] }],
    schema: [
      { name: 'root', num_children: 1 },
      { name: 'conversations', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'from', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ],
  });
  const ds = await openDataset(path);
  assert.equal(ds.format.name, 'sharegpt');
  const rows: RawRow[] = [];
  for await (const b of ds.batches) rows.push(...b);
  assert.deepEqual(ds.format.read(rows[0].value), { kind: 'chat', turns: [{ role: 'user', content: '你好' }, { role: 'assistant', content: '你好😀' }] });
});

test('a file named .parquet that is not Parquet is one clear error', async () => {
  const path = join(dir, 'fake.parquet');
  writeFileSync(path, 'not parquet at all');
  await assert.rejects(all(path), (e) => e instanceof UserError && /fake\.parquet is not a readable Parquet file: /.test(e.message));
});

test('parquet: a footer claiming a huge row group is refused before anything is read', () => {
  assert.equal(rowGroupProblem({ num_rows: 1000n, total_byte_size: 5_000_000n }, 0), undefined);
  assert.equal(rowGroupProblem({ num_rows: 2n ** 40n, total_byte_size: 100n }, 2), 'row group 3 claims 1,099,511,627,776 rows, more than the 16,777,216 read at once');
  assert.equal(rowGroupProblem({ num_rows: 10n, total_byte_size: 3n * 2n ** 30n }, 0), 'row group 1 claims 3.0 GiB of data, more than the 1 GiB read at once');
  assert.equal(rowGroupProblem({ num_rows: -1n, total_byte_size: 1n }, 0), 'row group 1 has a damaged size in the footer');
  assert.equal(rowGroupProblem({ num_rows: 2n ** 64n - 1n, total_byte_size: 1n }, 0), 'row group 1 has a damaged size in the footer');
});
