import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareReadmeTable, README_TABLE, README_TOLERANCE } from '../../src/estimate/readmeTable.js';

test("every cell of the README's training table is within the tolerance, with one model", () => {
  const cells = compareReadmeTable();
  assert.equal(cells.length, 25);
  assert.equal(README_TOLERANCE, 0.25);
  for (const c of cells) {
    assert.ok(Math.abs(c.diff) <= README_TOLERANCE, `${c.method} ${c.column}: README ${c.readmeGB} GB, ours ${(c.oursBytes / 1e9).toFixed(1)} GB`);
  }
  // The rule of thumb behind the table: full AMP ≈ 18 bytes and full 16-bit ≈ 8 bytes per parameter.
  assert.deepEqual(README_TABLE.map((r) => r.gb['7b']), [120, 60, 16, 10, 6]);
  assert.deepEqual(README_TABLE.map((r) => r.gb['8x7b']), [900, 400, 120, 60, 30]);
  const worst = cells.reduce((a, b) => (Math.abs(b.diff) > Math.abs(a.diff) ? b : a));
  assert.equal(`${worst.method} ${worst.column}`, 'lora 8x7b');
  assert.ok(worst.diff > -0.2 && worst.diff < -0.18, String(worst.diff));
});
