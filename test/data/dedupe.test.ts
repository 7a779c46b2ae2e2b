import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dedupeFile, normalise, rowText } from '../../src/data/dedupe.js';
import { bandsFor, minhash, PERMS } from '../../src/data/minhash.js';
import { seededRandom } from '../../src/data/random.js';

const dir = mkdtempSync(join(tmpdir(), 'data-dedupe-'));
const ids = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id);

const jaccard = (a: string, b: string, k: number) => {
  const sh = (s: string) => new Set(Array.from({ length: s.length - k + 1 }, (_, i) => s.slice(i, i + k)));
  const A = sh(a), B = sh(b);
  let both = 0;
  for (const x of A) if (B.has(x)) both++;
  return both / (A.size + B.size - both);
};
const estimate = (a: string, b: string, k: number) => {
  const x = minhash(a, k), y = minhash(b, k, new Uint32Array(PERMS));
  let same = 0;
  for (let i = 0; i < PERMS; i++) if (x[i] === y[i]) same++;
  return same / PERMS;
};

/** Random Chinese text from the 500 commonest-looking code points, the same for the same seed. */
function chinese(rand: () => number, n: number) {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x4e00 + Math.floor(rand() * 500));
  return s;
}
function edit(rand: () => number, s: string, edits: number) {
  const a = [...s];
  for (let e = 0; e < edits; e++) a[Math.floor(rand() * a.length)] = String.fromCharCode(0x6000 + Math.floor(rand() * 500));
  return a.join('');
}

test('normalising ignores width, case, spaces and punctuation; row text leaves ids and roles out', () => {
  assert.equal(normalise('Ｈｅｌｌｏ， World！ 你好。'), 'helloworld你好');
  assert.deepEqual(rowText({ id: 'x', conversations: [{ from: 'human', value: '问' }, { from: 'gpt', value: '答' }], system: '系统' }), ['问', '答', '系统']);
});

test('MinHash estimates Jaccard similarity of character shingles', () => {
  const rand = seededRandom(1);
  for (const edits of [2, 10, 40]) {
    const a = chinese(rand, 300);
    const b = edit(rand, a, edits);
    assert.ok(Math.abs(estimate(a, b, 3) - jaccard(a, b, 3)) < 0.15, `${edits} edits: ${estimate(a, b, 3)} vs ${jaccard(a, b, 3)}`);
  }
  assert.equal(estimate('完全相同的一句话', '完全相同的一句话', 3), 1);
  assert.deepEqual(bandsFor(0.7), { bands: 16, rows: 4 });
  assert.deepEqual(bandsFor(0.9), { bands: 8, rows: 8 });
});

test('dedupe finds exactly the planted exact and near duplicates, and nothing else', async () => {
  const rand = seededRandom(2);
  const rows: { id: string; text: string }[] = [];
  const originals = Array.from({ length: 300 }, () => chinese(rand, 200));
  originals.forEach((t, i) => rows.push({ id: `o${i}`, text: t }));
  for (let i = 0; i < 40; i++) rows.push({ id: `e${i}`, text: ` ${originals[i * 7]}。 ` }); // exact after normalising
  for (let i = 0; i < 60; i++) rows.push({ id: `n${i}`, text: edit(rand, originals[i * 5 + 1], 3) }); // 3 edits in 200: Jaccard ≈ 0.9
  const src = join(dir, 'planted.jsonl');
  writeFileSync(src, rows.map((r) => JSON.stringify(r)).join('\n'));
  const out = join(dir, 'out.jsonl');
  const removed = join(dir, 'removed.jsonl');
  const r = await dedupeFile(src, out, { near: true, threshold: 0.7, shingle: 3, removed });
  assert.deepEqual([r.rows, r.kept, r.exact, r.near], [400, 300, 40, 60]);
  assert.deepEqual(ids(out), originals.map((_, i) => `o${i}`));
  const rm = readFileSync(removed, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rm.filter((x) => x.kind === 'near').map((x) => x.duplicate_of), Array.from({ length: 60 }, (_, i) => i * 5 + 2)); // line = index + 1
  const exactOnly = await dedupeFile(src, join(dir, 'exact.jsonl'), { near: false, threshold: 0.7, shingle: 3 });
  assert.deepEqual([exactOnly.kept, exactOnly.exact, exactOnly.near], [360, 40, 0]);
});
