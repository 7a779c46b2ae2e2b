import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextStream } from '../../src/engine/textStream.js';

// Byte-level "tokens": each token is some bytes; detokenize decodes them like llama.cpp does (U+FFFD for broken UTF-8).
const bytesOf = new Map<number, Uint8Array>();
function tokensOf(s: string, split: number[]): number[] {
  const b = Buffer.from(s, 'utf8');
  const ids: number[] = [];
  let at = 0;
  for (const n of [...split, b.length]) {
    if (n <= at) continue;
    const id = bytesOf.size + 1;
    bytesOf.set(id, b.subarray(at, Math.min(n, b.length)));
    ids.push(id);
    at = n;
  }
  return ids;
}
const detok = (ids: number[]) => new TextDecoder().decode(Buffer.concat(ids.map((i) => bytesOf.get(i)!)));

test('never emits half a UTF-8 character', () => {
  const text = '中文🦙ok';
  const ids = tokensOf(text, [1, 2, 4, 7, 8, 9]); // splits inside 中, 文 and the 4-byte emoji
  const s = new TextStream(detok);
  const deltas = ids.map((t) => s.push(t)).concat(s.flush());
  assert.equal(deltas.join(''), text);
  for (const d of deltas) assert.ok(!d.includes('\uFFFD'), JSON.stringify(deltas));
  assert.deepEqual(deltas.filter(Boolean), ['中', '文', '🦙ok']); // the last token holds the emoji's last byte and "ok"
});

test('holds back a possible stop string and cuts the reply at it', () => {
  const ids = tokensOf('答案是42。\n用户：再问', [3, 6, 9, 11, 12, 15, 18]);
  const s = new TextStream(detok, ['\n用户：']);
  const out: string[] = [];
  for (const t of ids) { out.push(s.push(t)); if (s.done) break; }
  out.push(s.flush());
  assert.equal(out.join(''), '答案是42。');
  assert.equal(s.result, '答案是42。');
  assert.equal(s.stoppedBy, '\n用户：');
});

test('a held-back prefix that does not become a stop string is released', () => {
  const ids = tokensOf('a<b', [1, 2]);
  const s = new TextStream(detok, ['<stop>']);
  assert.equal(s.push(ids[0]), 'a');
  assert.equal(s.push(ids[1]), '');
  assert.equal(s.push(ids[2]), '<b');
  assert.equal(s.flush(), '');
  assert.equal(s.result, 'a<b');
});

test('a request with 200,000 stop strings is served, not a RangeError from spreading them into Math.max', () => {
  const stops = Array.from({ length: 200_000 }, (_, i) => `§${i.toString(36)}`);
  const s = new TextStream(detok, [...stops, 'END']);
  let out = '';
  for (const t of tokensOf('ab END cd', [1, 2, 3, 5, 6, 7])) out += s.push(t);
  out += s.flush();
  assert.equal(out, 'ab ');
  assert.equal(s.stoppedBy, 'END');
});
