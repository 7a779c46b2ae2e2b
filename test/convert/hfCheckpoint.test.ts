/**
 * The test helpers that stand in for Hugging Face: writeTinyLlama must write what save_pretrained writes (the
 * forward test is only as good as its checkpoints), and hfForward's pieces must be transformers' formulas.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readCheckpoint } from '../../src/convert/checkpoint.js';
import { PyFloat, pyJson, toBf16, writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { hfForward, invFreq, logSoftmax, topK } from '../helpers/hfForward.js';

const tmp = mkdtempSync(join(tmpdir(), 'llama3zh-hfckpt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('config files are spelled as Python json writes them (sorted keys, indent 2, 1e-05, 500000.0)', () => {
  assert.equal(new PyFloat(1e-5).toString(), '1e-05');
  assert.equal(new PyFloat(500000).toString(), '500000.0');
  assert.equal(new PyFloat(0.02).toString(), '0.02');
  assert.equal(new PyFloat(1e16).toString(), '1e+16');
  assert.equal(new PyFloat(0.0001).toString(), '0.0001');
  assert.equal(pyJson({ b: [1, 2], a: { y: null, x: new PyFloat(8) } }), '{\n  "a": {\n    "x": 8.0,\n    "y": null\n  },\n  "b": [\n    1,\n    2\n  ]\n}');
});

test('a Llama-3.1-shaped folder: config.json, two bf16 shards and an index the project reader accepts', () => {
  const dir = join(tmp, 'sharded');
  const m = writeTinyLlama(dir, { layers: 2, hidden: 64, heads: 8, kvHeads: 2, ff: 128, dtype: 'bf16', shards: 2, ropeScaling: 'llama3', seed: 1, instruct: true });
  const config = readFileSync(join(dir, 'config.json'), 'utf8');
  assert.match(config, /^\{\n  "architectures": \[\n    "LlamaForCausalLM"\n  \],\n  "attention_bias": false,/);
  assert.match(config, /"rope_scaling": \{\n    "factor": 8\.0,\n    "high_freq_factor": 4\.0,\n    "low_freq_factor": 1\.0,\n    "original_max_position_embeddings": 8192,\n    "rope_type": "llama3"\n  \},/);
  assert.match(config, /"rms_norm_eps": 1e-05,\n  "rope_scaling"/);
  assert.match(config, /"eos_token_id": \[\n    128001,\n    128008,\n    128009\n  \],/);
  assert.deepEqual(m.files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  const ck = readCheckpoint(dir);
  assert.equal(ck.tensors.size, 2 + 2 * 9 + 1);
  assert.deepEqual(Object.keys(index.weight_map), [...Object.keys(index.weight_map)].sort());
  let total = 0;
  for (const t of ck.tensors.values()) { total += t.bytes; assert.equal(t.dtype, 'BF16'); }
  assert.equal(index.metadata.total_size, total);
  assert.deepEqual(ck.tensors.get('model.layers.1.self_attn.k_proj.weight')!.shape, [16, 64]);
  assert.deepEqual(ck.tensors.get('lm_head.weight')!.shape, [128256, 64]);
  // safetensors pads its JSON header with spaces to a multiple of 8.
  const head = readFileSync(join(dir, m.files[0])).subarray(0, 8).readBigUInt64LE(0);
  assert.equal(Number(head) % 8, 0);
  assert.ok(statSync(join(dir, 'tokenizer.json')).size > 1e6);
});

test('tied, head_dim and f32: no lm_head; q/o shapes follow head_dim', () => {
  const dir = join(tmp, 'tied');
  writeTinyLlama(dir, { layers: 1, hidden: 64, heads: 4, kvHeads: 1, headDim: 32, ff: 96, dtype: 'f32', tied: true, seed: 2 });
  const ck = readCheckpoint(dir);
  assert.ok(!ck.tensors.has('lm_head.weight'));
  assert.deepEqual(ck.tensors.get('model.layers.0.self_attn.q_proj.weight')!.shape, [128, 64]);
  assert.deepEqual(ck.tensors.get('model.layers.0.self_attn.o_proj.weight')!.shape, [64, 128]);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.tie_word_embeddings, true);
  assert.equal(cfg.head_dim, 32);
  assert.equal(cfg.torch_dtype, 'float32');
  // The reference reads the same folder and ties its output to the embeddings.
  const lp = hfForward(dir).logprobs([128000, 9906]);
  assert.equal(lp.length, 128256);
  assert.ok(Math.abs(lp.reduce((a, x) => a + Math.exp(x), 0) - 1) < 1e-9);
});

test('bf16 rounding is round-to-nearest-even, as torch rounds', () => {
  assert.equal(toBf16(1), 0x3f80);
  assert.equal(toBf16(1 + 2 ** -8), 0x3f80); // halfway, even stays
  assert.equal(toBf16(1 + 3 * 2 ** -8), 0x3f82); // halfway, odd rounds up
  assert.equal(toBf16(-2.5), 0xc020);
});

test("llama3 rope frequencies are transformers' _compute_llama3_parameters", () => {
  const s = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  const base = invFreq(128, 500000);
  const scaled = invFreq(128, 500000, s);
  // High frequencies (wavelength under 8192/4 = 2048) are kept, low ones (over 8192) divided by 8, between: smoothed.
  for (let i = 0; i < 64; i++) {
    const wl = (2 * Math.PI) / base[i];
    if (wl < 2048) assert.equal(scaled[i], base[i]);
    else if (wl > 8192) assert.ok(Math.abs(scaled[i] - base[i] / 8) < 1e-18);
    else {
      const sm = (8192 / wl - 1) / 3;
      assert.ok(Math.abs(scaled[i] - ((1 - sm) * base[i] / 8 + sm * base[i])) < 1e-15);
      assert.ok(scaled[i] < base[i] && scaled[i] > base[i] / 8);
    }
  }
  // Llama-3.1-8B's head_dim 128: wavelength 2π·500000^(i/64) passes 2048 after i = 28 and 8192 at i = 35.
  assert.equal(scaled.filter((f, i) => f === base[i]).length, 29);
  assert.equal(scaled.filter((f, i) => f === base[i] / 8).length, 29);
});

test('topK and logSoftmax', () => {
  assert.deepEqual(topK([3, 1, 4, 1, 5, 9, 2, 6], 3), [5, 7, 4]);
  assert.deepEqual(topK([2, 2, 1], 2), [0, 1]);
  const l = logSoftmax(Float32Array.from([0, Math.log(3)]));
  assert.ok(Math.abs(l[0] - Math.log(0.25)) < 1e-7 && Math.abs(l[1] - Math.log(0.75)) < 1e-7);
});
