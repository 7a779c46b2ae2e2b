import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { countParams } from '../../src/estimate/shape.js';
import { loadSource } from '../../src/estimate/source.js';
import { testModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'estimate-src-'));

const LLAMA3_8B_CONFIG = {
  architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 8192, tie_word_embeddings: false, torch_dtype: 'bfloat16', rope_theta: 500000,
};

test('a GGUF file gives its shape from the metadata and its actual weight bytes', async () => {
  const src = loadSource(await testModel());
  assert.equal(src.kind, 'gguf');
  assert.deepEqual({ ...src.shape, name: '' }, {
    name: '', layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 128256, contextLength: 8192, tied: false,
  });
  assert.equal(src.params, 16_490_816);
  assert.equal(countParams(src.shape).total, src.params);
  // 16 F16 matrices and 5 F32 norm vectors (2 × 2 layers + the final one, 64 each).
  assert.equal(src.weights!.bytes, 2 * (16_490_816 - 320) + 4 * 320);
  assert.match(src.weights!.what, /^tensor data \(F16 100%, F32 <1% of the weights\)$/);
  assert.ok(src.fileSize! > src.weights!.bytes);
});

test('a Hugging Face folder gives its shape from config.json', () => {
  const hf = join(dir, 'Meta-Llama-3-8B');
  mkdirSync(hf);
  writeFileSync(join(hf, 'config.json'), JSON.stringify(LLAMA3_8B_CONFIG));
  const src = loadSource(hf);
  assert.equal(src.kind, 'hf');
  assert.equal(src.shape.name, 'Meta-Llama-3-8B');
  assert.equal(src.params, 8_030_261_248);
  assert.deepEqual(src.weights, { bytes: 2 * 8_030_261_248, what: 'bfloat16 (config.json torch_dtype), no weight files in the folder' });
  // The config.json path works as well; weight files on disk are counted.
  writeFileSync(join(hf, 'model-00001-of-00002.safetensors'), Buffer.alloc(1000));
  writeFileSync(join(hf, 'model-00002-of-00002.safetensors'), Buffer.alloc(24));
  assert.deepEqual(loadSource(join(hf, 'config.json')).weights, { bytes: 1024, what: '2 weight files on disk' });
  // Tied output (Llama-3.2-1B) and MoE (Mixtral) configs.
  const tied = join(dir, 'tied');
  mkdirSync(tied);
  writeFileSync(join(tied, 'config.json'), JSON.stringify({ ...LLAMA3_8B_CONFIG, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, tie_word_embeddings: true, head_dim: 64 }));
  assert.equal(loadSource(tied).params, 1_235_814_400);
  const moe = join(dir, 'mixtral');
  mkdirSync(moe);
  writeFileSync(join(moe, 'config.json'), JSON.stringify({ ...LLAMA3_8B_CONFIG, vocab_size: 32000, num_local_experts: 8, num_experts_per_tok: 2 }));
  assert.equal(loadSource(moe).params, 46_702_792_704);
  assert.equal(loadSource(moe).shape.expertsUsed, 2);
});

test('bad model arguments are one clear error each', () => {
  const fails = (arg: string, re: RegExp) => assert.throws(() => loadSource(arg), (e: unknown) => e instanceof UserError && re.test(e.message), arg);
  fails(join(dir, 'nope.gguf'), /nope\.gguf: no such file or folder; give a \.gguf file, a Hugging Face model folder with config\.json, or --params 8b/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  fails(empty, /empty has no config\.json; give a Hugging Face model folder/);
  const broken = join(dir, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'config.json'), '{"hidden_size": 4096,');
  fails(broken, /config\.json is not valid JSON/);
  writeFileSync(join(broken, 'config.json'), JSON.stringify({ hidden_size: 4096 }));
  fails(broken, /config\.json has no num_attention_heads, so the model's shape is unknown/);
  const notGguf = join(dir, 'notes.txt');
  writeFileSync(notGguf, 'hello world');
  fails(notGguf, /not a GGUF file/);
});
