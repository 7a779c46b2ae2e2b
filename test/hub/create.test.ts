import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel } from '../../src/hub/create.js';
import { listStore, storeName, useModelsDir } from '../../src/hub/store.js';
import { REPLY, testModel } from '../helpers/models.js';

test('two creates of one NAME at once: the second to finish is refused, and the store has one model of that name', async () => {
  const src = await testModel({ reply: REPLY });
  const models = mkdtempSync(join(tmpdir(), 'create-race-'));
  useModelsDir(models);
  try {
    // Both look the name up before either is recorded: the copy finishes first, the quantization after it.
    const [copied, quantized] = await Promise.allSettled([
      createModel({ name: 'twin', from: src }),
      createModel({ name: 'twin', from: src, quantize: 'q8_0', threads: 1 }),
    ]);
    assert.equal(copied.status, 'fulfilled');
    assert.equal(quantized.status, 'rejected');
    assert.match((quantized as PromiseRejectedResult).reason.message, /^a model named twin is in the store already \(.*twin-F16\.gguf\); pass --force to replace it, or choose another name$/);
    assert.deepEqual(listStore().map((m) => [storeName(m), m.quant]), [['twin', 'F16']]);
    assert.deepEqual(readdirSync(join(models, 'local', 'twin')).sort(), ['.llama3-zh.json', 'twin-F16.gguf']);
  } finally {
    useModelsDir(undefined);
  }
});
