import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import type { Message } from '../../src/chat/messages.js';
import { histogram, percentile, statsFile } from '../../src/data/stats.js';
import { countChars } from '../../src/data/textMeasure.js';
import { llama3Tokens } from '../../src/data/tokens.js';
import { encode } from '../../src/gguf/llama3Vocab.js';
import { svgHistogram, terminalHistogram } from '../../src/data/plot.js';
import { sharegpt } from '../../src/data/formats/index.js';
import { CHAT, PAIR, SINGLE, TEXT } from './records.js';

const dir = mkdtempSync(join(tmpdir(), 'data-stats-'));

test('token counts equal the Llama-3 tokenizer on the official template, special tokens included', () => {
  for (const r of [CHAT, SINGLE]) {
    const messages: Message[] = [...(r.system ? [{ role: 'system' as const, content: r.system }] : []), ...r.turns];
    assert.equal(llama3Tokens(r), encode(NATIVE_TEMPLATES.llama3.render(messages, false)).length);
  }
  assert.equal(llama3Tokens(SINGLE), 1 + 5 + encode('床前明月光的下一句是？').length + 5 + encode('疑是地上霜。').length);
  // A pair: the prompt and the longer of its two answers.
  const messages: Message[] = [{ role: 'system', content: PAIR.system! }, ...PAIR.prompt, { role: 'assistant', content: PAIR.chosen }];
  assert.equal(llama3Tokens(PAIR), encode(NATIVE_TEMPLATES.llama3.render(messages, false)).length);
  assert.equal(llama3Tokens(TEXT), 1 + encode(TEXT.text).length);
});

test('characters: emoji count once; Han characters, including extension B, are Chinese', () => {
  const c = { chars: 0, nonSpace: 0, han: 0 };
  countChars('中文 ab😀\u3000𠀀\n', c);
  assert.deepEqual(c, { chars: 9, nonSpace: 6, han: 3 });
});

test('percentiles are nearest-rank; histogram bins double', () => {
  const v = new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
  assert.deepEqual([50, 90, 95, 99, 100].map((p) => percentile(v, p)), [5, 9, 100, 100, 100]);
  assert.deepEqual(histogram(new Uint32Array([0, 31, 32, 63, 64, 300])), [
    { from: 0, to: 32, count: 2 }, { from: 32, to: 64, count: 2 }, { from: 64, to: 128, count: 1 }, { from: 128, to: 256, count: 0 }, { from: 256, to: 512, count: 1 },
  ]);
  assert.deepEqual(terminalHistogram([{ from: 0, to: 32, count: 4 }, { from: 32, to: 64, count: 1 }], 40, 8), [
    '   0–31 ████████ 4',
    '  32–63 ██       1  (partly over cutoff)',
  ]);
  const svg = svgHistogram([{ from: 0, to: 32, count: 4 }, { from: 32, to: 64, count: 1 }], { title: 'a<b', unit: 'tokens', cutoff: 40 });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 2);
  assert.match(svg, /a&lt;b/);
  assert.match(svg, /cutoff 40/);
});

test('statsFile counts rows, turns, tokens and rows over the cutoff exactly', async () => {
  const path = join(dir, 's.jsonl');
  writeFileSync(path, [CHAT, SINGLE, PAIR].map((r) => JSON.stringify(sharegpt.write(r, () => {}))).join('\n') + '\n{broken\n');
  const r = await statsFile(path, { tokens: true, cutoff: 30 });
  const lens = [CHAT, SINGLE, PAIR].map(llama3Tokens).sort((a, b) => a - b);
  assert.equal(r.format, 'sharegpt');
  assert.equal(r.rows, 4);
  assert.equal(r.counted, 3);
  assert.equal(r.rejected.count, 1);
  assert.equal(r.turns, 4 + 2 + 4);
  assert.equal(r.withSystem, 2);
  assert.equal(r.pairs, 1);
  assert.equal(r.total, lens[0] + lens[1] + lens[2]);
  assert.deepEqual([r.min, r.max, r.percentiles.p50], [lens[0], lens[2], lens[1]]);
  assert.equal(r.overCutoff, lens.filter((l) => l > 30).length);
  assert.equal(readFileSync(path, 'utf8').split('\n').length, 5);
});
