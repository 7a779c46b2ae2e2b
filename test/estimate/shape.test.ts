import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { countParams, NAMED_SHAPES, shapeFromParams } from '../../src/estimate/shape.js';

test('parameter counts of the real shapes are exact', () => {
  const expected: Record<string, number> = {
    '8b': 8_030_261_248, // Llama-3-8B
    '70b': 70_553_706_496, // Llama-3-70B
    '8x7b': 46_702_792_704, // Mixtral-8x7B
    '405b': 405_853_388_800, // Llama-3.1-405B
    '1b': 1_235_814_400, // Llama-3.2-1B (tied output)
    '3b': 3_212_749_824, // Llama-3.2-3B (tied output)
    '7b': 6_738_415_616, // Llama-2-7B
    '13b': 13_015_864_320, // Llama-2-13B
    '30b': 32_528_943_616, // LLaMA-33B
    'llama2-70b': 68_976_648_192, // Llama-2-70B
  };
  assert.deepEqual(Object.keys(NAMED_SHAPES).sort(), Object.keys(expected).sort());
  for (const [k, n] of Object.entries(expected)) assert.equal(countParams(shapeFromParams(k)).total, n, k);
});

test('the count is split the way QLoRA and the explanation need it', () => {
  const p = countParams(shapeFromParams('8b'));
  assert.equal(p.embedding, 128256 * 4096);
  assert.equal(p.output, 128256 * 4096);
  // GQA: k and v are 4096 × 1024.
  assert.equal(p.attention, 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024));
  assert.equal(p.ffn, 32 * 3 * 4096 * 14336);
  assert.equal(p.norms, 65 * 4096);
  assert.equal(p.router, 0);
  const mix = countParams(shapeFromParams('8x7b'));
  assert.equal(mix.router, 32 * 4096 * 8);
  assert.equal(mix.ffn, 32 * 8 * 3 * 4096 * 14336);
  assert.equal(countParams(shapeFromParams('1b')).output, 0);
});

test('--params takes names in any case, and a bare size gets a generic shape that says so', () => {
  assert.equal(shapeFromParams('8B').name, 'Llama-3-8B');
  assert.equal(shapeFromParams(' Llama2-70B ').name, 'Llama-2-70B');
  const g = shapeFromParams('14b');
  assert.match(g.generic!, /made-up Llama-3-like shape of about 14b parameters, not a real model/);
  assert.ok(Math.abs(countParams(g).total / 14e9 - 1) < 0.1, String(countParams(g).total));
  assert.equal(g.headDim, 128);
  assert.equal(g.heads * g.headDim, g.hidden);
  const m = shapeFromParams('500m');
  assert.ok(Math.abs(countParams(m).total / 5e8 - 1) < 0.25, String(countParams(m).total));
  for (const bad of ['banana', '8', '0.01b', '9000b', '']) {
    assert.throws(() => shapeFromParams(bad), (e: unknown) => e instanceof UserError && /is not a model size; use one of 1b, 3b, 8b/.test(e.message), bad);
  }
});
