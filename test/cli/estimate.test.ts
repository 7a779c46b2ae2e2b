import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, emptyHome, runCli } from '../helpers/cli.js';
import { testModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'estimate-cli-'));
const estimate = (...args: string[]) => runCli(['estimate', ...args]);

test('estimate --params 8b: inference by quant type and training by method', async () => {
  const r = await estimate('--params', '8b');
  assert.equal(r.code, 0, r.stderr);
  for (const line of [
    /^Llama-3-8B: 8,030,261,248 parameters \(8\.03B\)$/m,
    /^ {2}32 layers × 4096 wide, FFN 14336, 32 heads \/ 8 KV heads of 128, vocabulary 128256, context 8192$/m,
    /^Inference with llama\.cpp: 8192 tokens × 1 sequence \(GiB = 2\^30 bytes\)$/m,
    /^ {2}KV cache \(f16\) +1\.0 GiB$/m,
    /^ {2}F16 +16\.00 +15\.0 +16\.7 +17\.9$/m,
    /^ {2}Q4_K_M +4\.90 +4\.6 +6\.3 +6\.8$/m,
    /^ {2}full-amp +8,030,261,248 +44\.9 +29\.9 +59\.8 /m,
    /^ {2}lora +20,971,520 +15\.0 /m,
  ]) assert.match(r.stdout, line);
  const four = await estimate('--params', '8b', '--parallel', '4', '--quant', 'q4_k_m');
  assert.match(four.stdout, /^Inference with llama\.cpp: 8192 tokens × 4 sequences/m);
  assert.match(four.stdout, /^ {2}KV cache \(f16\) +4\.0 GiB$/m);
  assert.doesNotMatch(four.stdout, /Training/); // --quant alone: inference only
  assert.doesNotMatch((await estimate('--params', '8b', '--method', 'lora')).stdout, /Inference/);
});

test("estimate --explain shows shareAI's DPO recipe term by term", async () => {
  const r = await estimate('--params', '8b', '--method', 'lora', '--lora-rank', '128', '--lora-targets', 'all', '--train-extra', 'lm_head,norms', '--dpo', '--explain');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /LoRA params = 128 × Σ\(in\+out\) over q,k,v,o,gate,up,down = 128 × 81,920 × 32 layers = 335,544,320; \+ lm_head 128256×4096 \+ input_layernorm 32×4096 \+ post_attention_layernorm 32×4096 \+ norm 4096 = 525,602,816; trainable = 861,147,136$/m);
  assert.match(r.stdout, /^ {4}frozen bf16 base +15\.0 GiB {2}= 8,030,261,248 params × 2 B$/m);
  assert.match(r.stdout, /^ {4}logits and loss over the vocabulary +3\.4 GiB {2}= 1 × 2 \(chosen \+ rejected\) × 1024 tokens × 128256 × 14 B/m);
  assert.match(r.stdout, /assumes: DPO reference = the same base with the adapters switched off, so no second copy of the model/);
  assert.match(r.stdout, /^ {2}lora +861,147,136 /m);
  const j = JSON.parse((await estimate('--params', '8b', '--method', 'lora', '--lora-rank', '128', '--train-extra', 'lm_head,norms', '--dpo', '--json')).stdout);
  assert.equal(j.training.length, 1);
  assert.equal(j.training[0].trainable, 861_147_136);
  assert.equal(j.training[0].total, j.training[0].terms.reduce((n: number, t: { bytes: number }) => n + t.bytes, 0));
  assert.equal(j.inference, undefined);
});

test("estimate --table puts our estimate next to each cell of the README's table", async () => {
  const r = await estimate('--table');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Method +Bits +7B +13B +30B +70B +8x7B$/m);
  assert.match(r.stdout, /^Full +AMP +120 → 124 \+3% +240 → 237 -1% +600 → 589 -2% +1200 → 1246 \+4% +900 → 843 -6%$/m);
  assert.match(r.stdout, /^QLoRA +4 +6 → 6\.4 \+7% /m);
  assert.match(r.stdout, /^Worst cell: LoRA\/GaLore\/BAdam 16 8x7B, README 120 GB, ours 97\.7 GB \(-18\.6%\)\.$/m);
  assert.match(r.stdout, /^Every cell is within ±25%\./m);
  assert.doesNotMatch(r.stdout, /!/);
  const j = JSON.parse((await estimate('--table', '--json')).stdout);
  assert.equal(j.cells.length, 25);
  assert.deepEqual(j.outside, []);
  assertOneLineError(await estimate('--table', '--params', '8b'), /--table compares the README's fixed table; it takes no MODEL or other options \(got --params\)/);
});

test('estimate MODEL reads a GGUF file or a Hugging Face folder', async () => {
  const g = await estimate(await testModel(), '--quant', 'F16', '--method', 'full-16');
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stdout, /^ {2}2 layers × 64 wide, FFN 128, 4 heads \/ 2 KV heads of 16, vocabulary 128256, context 8192$/m);
  assert.match(g.stdout, /^ {2}file: .*\.gguf, 38\.9 MiB; tensor data \(F16 100%, F32 <1% of the weights\): 31\.5 MiB$/m);
  assert.match(g.stdout, /^ {2}this file +16\.00 +31\.5 /m);
  assert.match(g.stdout, /^Inference with llama\.cpp: 8192 tokens × 1 sequence \(MiB = 2\^20 bytes\)$/m);
  const gj = JSON.parse((await estimate(await testModel(), '--json')).stdout);
  assert.equal(gj.model.params, 16_490_816);
  assert.equal(gj.inference.fileWeights, 32_982_272);

  // A model in the local store, by its repo name.
  const home = emptyHome();
  mkdirSync(join(home, 'models', 'shareAI', 'tiny'), { recursive: true });
  symlinkSync(await testModel(), join(home, 'models', 'shareAI', 'tiny', 'tiny-f16.gguf'));
  const st = await runCli(['estimate', 'shareAI/tiny', '--quant', 'F16'], { env: { LLAMA3ZH_HOME: home } });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /^ {2}file: .*shareAI\/tiny\/tiny-f16\.gguf, 38\.9 MiB/m);

  const hf = join(dir, 'Llama3-8B-Chinese-Chat');
  mkdirSync(hf);
  writeFileSync(join(hf, 'config.json'), JSON.stringify({
    hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8,
    vocab_size: 128256, max_position_embeddings: 8192, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  }));
  const h = await estimate(hf, '--ctx', '4096');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^Llama3-8B-Chinese-Chat: 8,030,261,248 parameters \(8\.03B\)$/m);
  assert.match(h.stdout, /^ {2}KV cache \(f16\) +0\.5 GiB$/m);
});

test('estimate: bad input is one line saying what to do', async () => {
  mkdirSync(join(dir, 'no-config'));
  assertOneLineError(await estimate('--params', '8b', '--method', 'sgd'), /unknown --method "sgd"; choose one of: full-amp, full-16, lora, qlora-8, qlora-4/);
  assertOneLineError(await estimate('--params', 'banana'), /--params "banana" is not a model size; use one of 1b, 3b, 8b, 70b/);
  assertOneLineError(await estimate(join(dir, 'missing.gguf')), /missing\.gguf: no such file or folder; give a \.gguf file, a Hugging Face model folder with config\.json, or --params 8b/);
  assertOneLineError(await estimate(join(dir, 'no-config')), /no-config has no config\.json; give a Hugging Face model folder, a \.gguf file, or --params 8b/);
  assertOneLineError(await estimate(), /give a MODEL \(\.gguf file or Hugging Face folder\) or --params SIZE such as 8b/);
  assertOneLineError(await estimate('--params', '8b', '--method', 'full-16', '--lora-rank', '16'), /--lora-rank applies to lora, qlora-8, qlora-4, not to --method full-16/);
  assertOneLineError(await estimate('--params', '8b', '--ctx', 'lots'), /--ctx must be a whole number from 16 to 10000000 \(got "lots"\)/);
  assertOneLineError(await estimate('--params', '8b', '--kv-type', 'q9'), /unknown --kv-type "q9"/);
  const help = await estimate('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--lora-targets all --train-extra lm_head,norms --dpo --explain/);
});
