import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Rng } from '../../src/gguf/numbers.js';
import { createModel } from '../../src/hub/create.js';
import { staleConversions } from '../../src/hub/created.js';
import { ensureModel } from '../../src/cli/fetchModel.js';
import { writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { randomDense, writeSafetensors } from '../helpers/loraTiny.js';
import { listStore, recordEntry, storeName, useModelsDir } from '../../src/hub/store.js';
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

test("a LoRA merged into a folder (a catalog LoRA with modules_to_save) is not a stale conversion of that folder", async () => {
  const root = mkdtempSync(join(tmpdir(), 'create-stale-'));
  const hf = join(root, 'base');
  writeTinyLlama(hf, { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128, dtype: 'f32', seed: 3, instruct: true });
  const adapter = join(root, 'adapter');
  mkdirSync(adapter);
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: hf, r: 2, lora_alpha: 4, target_modules: ['v_proj'] }));
  const rng = new Rng(9);
  writeSafetensors(join(adapter, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', dtype: 'F32', dense: randomDense(rng, [2, 64], 0.5) },
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight', dtype: 'F32', dense: randomDense(rng, [32, 2], 0.5) },
  ]);
  useModelsDir(join(root, 'models'));
  try {
    // What chat makes for a pulled adapter (convertFirst's adapterFirst), and a plain cached conversion of the base.
    await createModel({ into: { repo: 'someone/lora' }, from: hf, adapter, quantize: 'F16', auto: true, force: true });
    await createModel({ name: 'base-cache', from: hf, quantize: 'F16', auto: true, force: true });
    assert.deepEqual(staleConversions(hf, 'F16').map(storeName), ['base-cache']);
    assert.deepEqual(staleConversions(hf, 'F16', adapter).map(storeName), ['someone/lora:F16']);
  } finally {
    useModelsDir(undefined);
  }
});

test('a merged catalog LoRA whose base folder changed is merged again, not replaced by the bare base', async () => {
  const root = mkdtempSync(join(tmpdir(), 'create-fresh-'));
  const hf = join(root, 'base');
  writeTinyLlama(hf, { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128, dtype: 'f32', seed: 4, instruct: true });
  const models = join(root, 'models');
  // The adapter as pull keeps it: its own repo folder in the store, with a trained norm (modules_to_save).
  const adapter = join(models, 'someone', 'lora');
  mkdirSync(adapter, { recursive: true });
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: hf, r: 2, lora_alpha: 4, target_modules: ['v_proj'], modules_to_save: ['norm'] }));
  const rng = new Rng(10);
  writeSafetensors(join(adapter, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', dtype: 'F32', dense: randomDense(rng, [2, 64], 0.5) },
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight', dtype: 'F32', dense: randomDense(rng, [32, 2], 0.5) },
    { name: 'base_model.model.model.norm.modules_to_save.default.weight', dtype: 'F32', dense: randomDense(rng, [64], 0.5, 1) },
  ]);
  useModelsDir(models);
  try {
    const files = ['adapter_config.json', 'adapter_model.safetensors'].map((f) => ({ path: f, size: statSync(join(adapter, f)).size }));
    recordEntry('someone/lora', { format: 'safetensors', primary: 'adapter_config.json', files, pulledAt: new Date().toISOString() } as Parameters<typeof recordEntry>[1]);
    const first = await ensureModel('someone/lora', { yes: true });
    assert.equal(first.created?.adapter, adapter);
    // The base is saved over (a new checkpoint): the next run converts again, with the adapter merged.
    const later = new Date(Date.now() + 10_000);
    utimesSync(join(hf, 'model.safetensors'), later, later);
    const again = await ensureModel('someone/lora', { yes: true });
    assert.equal(again.created?.adapter, adapter);
    assert.equal(again.path, first.path);
  } finally {
    useModelsDir(undefined);
  }
});
