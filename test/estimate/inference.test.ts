import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contextTerms, defaultContext, estimateInference, findQuant, QUANT_TYPES } from '../../src/estimate/inference.js';
import { countParams, shapeFromParams } from '../../src/estimate/shape.js';
import { GIB } from '../../src/estimate/terms.js';

const s8 = shapeFromParams('8b');
const kv = (ctx: number, parallel: number, kvType = 'f16') => contextTerms(s8, { ctx, parallel, kvType })[0].bytes;

test('KV cache: 2 × layers × tokens × KV heads × head size × bytes', () => {
  assert.equal(kv(8192, 1), GIB); // exactly 1 GiB for Llama-3-8B at 8192 tokens in f16
  assert.equal(kv(8192, 4), 4 * GIB); // serve's default --parallel 4: ctx × parallel tokens
  assert.equal(kv(8192, 1, 'q8_0'), (1.0625 / 2) * GIB); // 34 bytes per 32 values instead of 64
  assert.equal(kv(8192, 1, 'q4_0'), (0.5625 / 2) * GIB);
  assert.equal(kv(1000, 1), kv(1024, 1)); // llama.cpp rounds the context up to 256
  assert.equal(kv(300, 4), 4 * kv(512, 1)); // … per sequence: each has its own KV stream
  // Llama-2-7B has no GQA: four times the cache of Llama-3-8B.
  assert.equal(contextTerms(shapeFromParams('7b'), { ctx: 4096, parallel: 1, kvType: 'f16' })[0].bytes, 2 * GIB);
  assert.throws(() => kv(8192, 1, 'q9'), /unknown --kv-type "q9"/);
});

test('the compute buffer allowance: one batch of attention scores over one sequence, and its logits', () => {
  const buf = (parallel: number) => contextTerms(s8, { ctx: 8192, parallel, kvType: 'f16' })[1].bytes;
  assert.equal(buf(1), 4 * 512 * (4096 + 8192 * 32) + 4 * 512 * 128256);
  assert.equal(buf(4), buf(1));
  assert.equal(contextTerms(s8, { ctx: 100, parallel: 1, kvType: 'f16' })[1].bytes, 4 * 256 * (4096 + 256 * 32) + 4 * 256 * 128256);
});

test('the default context is the model’s, at most 8192, as in the engine', () => {
  assert.equal(defaultContext(shapeFromParams('405b')), 8192);
  assert.equal(defaultContext(shapeFromParams('7b')), 4096);
  assert.equal(defaultContext(shapeFromParams('30b')), 2048);
});

test('weights at each quant type use llama.cpp’s own sizes for Llama-3-8B', () => {
  const P = countParams(s8).total;
  const e = estimateInference(s8, P, { ctx: 8192, parallel: 1, kvType: 'f16' }, QUANT_TYPES.filter((q) => q.common));
  const row = (q: string) => e.rows.find((r) => r.quant === q)!;
  assert.equal(row('F16').weights, 2 * P);
  assert.equal(row('F32').weights, 4 * P);
  assert.equal(row('Q8_0').weights, (P * 8.5) / 8);
  // The README's default model file, llama3.1_8b_chinese_chat_q4_k_m, is 4.9 GB: 4.58 GiB.
  assert.ok(Math.abs(row('Q4_K_M').weights - 4.58 * GIB) < 1);
  assert.ok(Math.abs(row('Q6_K').weights - 6.14 * GIB) < 1);
  for (const r of e.rows) assert.equal(r.total, r.weights + e.contextBytes);
  // Ordered from the largest to the smallest.
  for (let i = 1; i < e.rows.length; i++) assert.ok(e.rows[i].bpw <= e.rows[i - 1].bpw, e.rows[i].quant);
  assert.equal(findQuant('q4_k_m').name, 'Q4_K_M');
  assert.throws(() => findQuant('Q7'), /unknown --quant "Q7"; choose one of: F32, F16/);
});
