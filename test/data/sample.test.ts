import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { apportion, mixFiles, parseMixSource } from '../../src/data/mix.js';
import { seededRandom, selection } from '../../src/data/random.js';
import { sampleFraction, sampleN } from '../../src/data/sample.js';
import { splitFile } from '../../src/data/split.js';
import { formatByName } from '../../src/data/formats/index.js';

const dir = mkdtempSync(join(tmpdir(), 'data-sample-'));
const ids = (p: string) => readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).id as number);

const src = join(dir, 'rows.jsonl');
writeFileSync(src, Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: i, text: `第${i}行` })).join('\n') + '\n{broken\n');

test('sample -n: exactly N distinct rows in file order, the same for the same seed', async () => {
  const a = join(dir, 'a.jsonl'), b = join(dir, 'b.jsonl'), c = join(dir, 'c.jsonl');
  const r = await sampleN(src, a, 100, 7);
  assert.deepEqual([r.rows, r.valid, r.written, r.rejected.count], [1001, 1000, 100, 1]);
  const x = ids(a);
  assert.equal(new Set(x).size, 100);
  assert.deepEqual(x, [...x].sort((p, q) => p - q));
  await sampleN(src, b, 100, 7);
  await sampleN(src, c, 100, 8);
  assert.deepEqual(ids(b), x);
  assert.notDeepEqual(ids(c), x);
  const all = join(dir, 'all.jsonl');
  assert.equal((await sampleN(src, all, 5000, 1)).written, 1000);
  assert.deepEqual(ids(all), Array.from({ length: 1000 }, (_, i) => i));
});

test('reservoir sampling is uniform: over 400 seeds every tenth of the file gets its share', async () => {
  const small = join(dir, 'small.jsonl');
  writeFileSync(small, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: i })).join('\n'));
  const deciles = new Array(10).fill(0);
  for (let seed = 0; seed < 400; seed++) {
    const out = join(dir, 'u.jsonl');
    await sampleN(small, out, 10, seed);
    for (const id of ids(out)) deciles[Math.floor(id / 10)]++;
  }
  // 4000 picks, 400 expected per decile; ±20% is more than 5 standard deviations (σ ≈ 19).
  for (const d of deciles) assert.ok(d > 320 && d < 480, `decile counts ${deciles}`);
});

test('sample --fraction and split give exact counts; split is a partition', async () => {
  const f = join(dir, 'f.jsonl');
  assert.equal((await sampleFraction(src, f, 1 / 3, 3)).written, 333);
  assert.equal(ids(f).length, 333);
  const train = join(dir, 'train.jsonl'), val = join(dir, 'val.jsonl');
  const r = await splitFile(src, { val: 0.02, seed: 5, train, valid: val });
  assert.deepEqual([r.train, r.val], [980, 20]);
  const t = ids(train), v = ids(val);
  assert.deepEqual([...t, ...v].sort((p, q) => p - q), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(t, [...t].sort((p, q) => p - q));
  const r2 = await splitFile(src, { val: 37, seed: 5, train, valid: val });
  assert.deepEqual([r2.train, r2.val], [963, 37]);
});

test('selection sampling picks exactly k of n', () => {
  for (const [k, n] of [[0, 10], [3, 10], [10, 10], [1, 1]]) {
    const s = selection(k, n, seededRandom(k * 31 + n));
    let got = 0;
    for (let i = 0; i < n; i++) if (s.take()) got++;
    assert.equal(got, k);
  }
});

test('mix: shares by weight that sum to N, repetition of small sources, one format, deterministic', async () => {
  assert.deepEqual(apportion(10, [0.5, 0.3, 0.2]), [5, 3, 2]);
  assert.deepEqual(apportion(10, [1, 1, 1]), [4, 3, 3]);
  assert.deepEqual(apportion(7, [2, 0]), [7, 0]);
  assert.deepEqual(parseMixSource('a:b/c.jsonl:0.25'), { path: 'a:b/c.jsonl', weight: 0.25 });
  assert.deepEqual(parseMixSource('c.jsonl'), { path: 'c.jsonl', weight: 1 });

  const ff = join(dir, 'ff.jsonl');
  writeFileSync(ff, Array.from({ length: 50 }, (_, i) => JSON.stringify({ conversation_id: `ff${i}`, conversation: [{ human: `问${i}`, assistant: `答${i}` }] })).join('\n'));
  const al = join(dir, 'al.json');
  writeFileSync(al, JSON.stringify(Array.from({ length: 4 }, (_, i) => ({ id: `al${i}`, instruction: `指令${i}`, input: '', output: `输出${i}` }))));
  const out = join(dir, 'mix.jsonl');
  const r = await mixFiles([{ path: ff, weight: 0.6 }, { path: al, weight: 0.4 }], out, { n: 20, seed: 9, to: formatByName('sharegpt', '--to') });
  assert.deepEqual(r.sources.map((s) => [s.format, s.usable, s.taken]), [['firefly', 50, 12], ['alpaca', 4, 8]]);
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 20);
  assert.ok(rows.every((x) => Array.isArray(x.conversations)));
  const from = (p: string) => rows.filter((x) => String(x.id).startsWith(p));
  assert.equal(from('ff').length, 12);
  assert.equal(new Set(from('ff').map((x) => x.id)).size, 12);
  // 8 rows from a 4-row source: each row exactly twice.
  const times = new Map<string, number>();
  for (const x of from('al')) times.set(x.id, (times.get(x.id) ?? 0) + 1);
  assert.deepEqual([...times.values()], [2, 2, 2, 2]);
  // Shuffled: not all firefly rows first.
  assert.notDeepEqual(rows.slice(0, 12).map((x) => String(x.id).slice(0, 2)), new Array(12).fill('ff'));
  const again = join(dir, 'mix2.jsonl');
  await mixFiles([{ path: ff, weight: 0.6 }, { path: al, weight: 0.4 }], again, { n: 20, seed: 9, to: formatByName('sharegpt', '--to') });
  assert.equal(readFileSync(again, 'utf8'), readFileSync(out, 'utf8'));
});
