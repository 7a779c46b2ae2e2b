import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { convertAdapter, adapterBaseShape } from '../../src/convert/lora.js';
import { convertModel } from '../../src/convert/convert.js';
import { readLlamaModel } from '../../src/convert/hfModel.js';
import { mergeHook } from '../../src/convert/merge.js';
import { readPeftAdapter } from '../../src/convert/peft.js';
import { resolveAdapterBase } from '../../src/hub/adapterBase.js';
import { loadEngine } from '../../src/engine/load.js';
import { GREEDY } from '../../src/engine/types.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { hfForward, loadWeights, topK } from '../helpers/hfForward.js';
import { UserError } from '../../src/errors.js';
import { encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import { Rng } from '../../src/gguf/numbers.js';
import { readGguf } from '../../src/gguf/reader.js';
import { meta, ValueType } from '../../src/gguf/types.js';
import {
  type Dense, TINY, randomDense, roundBf16, type Tiny, withDeltas, writeBaseGguf, writeHfFolder,
  writeSafetensors,
} from '../helpers/loraTiny.js';

/**
 * PEFT adapters built here as PEFT's save_pretrained writes them, on a tiny Llama checkpoint, checked against real
 * llama.cpp: the runtime LoRA GGUF on the base GGUF, and the merged model, each against an independent forward pass
 * of the checkpoint with W + s·B·A computed in this file.
 */

const root = mkdtempSync(join(tmpdir(), 'lora-'));
process.env.LLAMA3ZH_HOME = join(root, 'home'); // an empty store
after(() => rmSync(root, { recursive: true, force: true }));

const hfDir = join(root, 'base-hf');
const baseGguf = join(root, 'base.gguf');
let tiny: Tiny;
const PROMPT = [TOKEN.BOS, ...encode('你好，请介绍一下你自己')];
const STEPS = 6;

interface Lora { module: string; a: Dense; b: Dense }

const PROJ = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

function loras(rng: Rng, r: number, modules: string[], amp: number): Lora[] {
  const out: Lora[] = [];
  for (let l = 0; l < tiny.config.layers; l++) {
    for (const m of modules) {
      const module = `model.layers.${l}.${m}`;
      const [rows, cols] = tiny.tensors.get(`${module}.weight`)!.shape;
      out.push({ module, a: randomDense(rng, [r, cols], amp), b: randomDense(rng, [rows, r], amp) });
    }
  }
  return out;
}

/** An adapter folder as PEFT writes it: adapter_config.json + adapter_model.safetensors. */
function writeAdapter(dir: string, config: Record<string, unknown>, ls: Lora[], o: { dtype?: 'F32' | 'BF16'; keyInfix?: string; full?: Map<string, Dense> } = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: '/root/models/tiny-llama', bias: 'none',
    fan_in_fan_out: false, inference_mode: true, lora_dropout: 0, use_dora: false, use_rslora: false,
    layers_to_transform: null, rank_pattern: {}, alpha_pattern: {}, modules_to_save: null, ...config,
  }, null, 2));
  const infix = o.keyInfix ?? '';
  const tensors = ls.flatMap((l) => [
    { name: `base_model.model.${l.module}.lora_A${infix}.weight`, dtype: o.dtype ?? 'F32' as const, dense: l.a },
    { name: `base_model.model.${l.module}.lora_B${infix}.weight`, dtype: o.dtype ?? 'F32' as const, dense: l.b },
  ]);
  for (const [name, dense] of o.full ?? []) tensors.push({ name: `base_model.model.${name}`, dtype: o.dtype ?? 'F32', dense });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
}

let refs = 0;

/** How far below the reference's best token llama.cpp's greedy pick may be: f16 KV cache rounding, a near-tie. */
const TIE = 0.03;

/**
 * llama.cpp on `model` (+ `lora`) against hfForward on `ref` (written out as a checkpoint): each greedy token is the
 * reference's argmax after the same tokens (or, where the reference has a near-tie, within TIE nats of it), and the
 * log-probabilities of the reference's top 5 after the prompt agree within 0.02.
 */
async function matches(model: string, ref: Tiny, lora?: string) {
  const dir = join(root, `ref-${refs++}`);
  writeHfFolder(dir, ref);
  const hf = hfForward(dir);
  const lp = hf.logprobs(PROMPT);
  const top = topK(lp, 5);
  const e = await loadEngine({ modelPath: model, threads: 2, contextSize: 64, gpu: false, lora: lora ? [{ path: lora, scale: 1 }] : undefined });
  let tokens: number[];
  try {
    tokens = (await e.generate({ prompt: PROMPT, maxTokens: STEPS, sampling: GREEDY, ignoreEndOfGeneration: true })).tokens;
    const got = await e.nextTokenLogprobs(PROMPT, top);
    for (let i = 0; i < top.length; i++) assert.ok(Math.abs(got[i] - lp[top[i]]) < 0.02, `token ${top[i]}: llama.cpp ${got[i]}, reference ${lp[top[i]]}`);
  } finally {
    await e.close();
  }
  assert.equal(tokens.length, STEPS);
  let exact = 0;
  for (let i = 0; i < STEPS; i++) {
    const step = hf.logprobs([...PROMPT, ...tokens.slice(0, i)]);
    const best = topK(step, 1)[0];
    if (tokens[i] === best) exact++;
    else assert.ok(step[best] - step[tokens[i]] < TIE, `step ${i}: llama.cpp chose ${tokens[i]}, the reference ${best} by ${step[best] - step[tokens[i]]} nats`);
  }
  assert.ok(exact >= STEPS - 1, `only ${exact} of ${STEPS} greedy tokens are the reference's own`);
  rmSync(dir, { recursive: true });
  return tokens;
}

let baseTokens: number[];

before(async () => {
  // Helper fwd's checkpoint: bf16, as transformers saves one; its weights decoded (exactly) for the references.
  writeTinyLlama(hfDir, { layers: TINY.layers, hidden: TINY.hidden, heads: TINY.heads, kvHeads: TINY.kvHeads, ff: TINY.ff, dtype: 'bf16', seed: 8 });
  tiny = { config: TINY, tensors: loadWeights(hfDir) };
  await writeBaseGguf(baseGguf, tiny);
});

test('the base GGUF written by the test computes what the checkpoint computes', async () => {
  baseTokens = await matches(baseGguf, tiny);
});

async function userError(p: Promise<unknown> | (() => unknown), message: string) {
  const promise = typeof p === 'function' ? Promise.resolve().then(p) : p;
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.equal((e as Error).message, message);
    return true;
  });
}

function readF32(path: string, name: string): Float32Array {
  const f = readGguf(path, { skipArrays: true });
  const t = f.tensors.find((x) => x.name === name)!;
  const n = t.dims.reduce((a, d) => a * d, 1);
  const buf = readFileSync(path).subarray(f.dataOffset + t.offset, f.dataOffset + t.offset + n * 4);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

test('a plain LoRA: the llama.cpp LoRA GGUF is laid out as convert_lora_to_gguf writes it, and runs as the merged weights do', async () => {
  const dir = join(root, 'plain');
  const rng = new Rng(11);
  const ls = loras(rng, 4, PROJ, 0.3);
  writeAdapter(dir, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, ls);
  const out = join(root, 'plain.gguf');
  const res = await convertAdapter({ dir, base: hfDir, out });
  const ref = withDeltas(tiny, ls.map((l) => ({ target: `${l.module}.weight`, a: l.a, b: l.b, scale: 8 / 4 })));
  const tokens = await matches(baseGguf, ref, out);
  assert.notDeepEqual(tokens, baseTokens, 'the adapter changes what the model says');
  assert.equal(res.alpha, 8);
  const f = readGguf(out);
  // The script's keys in its order; general.* names from metadata.py on the folder name; the size label counts each
  // pair as the matrix it stands for (2 layers × 36864); no general.file_type (LoraModel writes none).
  assert.deepEqual([...f.metadata.values()].map((k) => [k.key, k.type, k.value]), [
    ['general.architecture', ValueType.STRING, 'llama'],
    ['general.type', ValueType.STRING, 'adapter'],
    ['adapter.type', ValueType.STRING, 'lora'],
    ['general.name', ValueType.STRING, 'Plain'],
    ['general.size_label', ValueType.STRING, '74K'],
    ['adapter.lora.alpha', ValueType.FLOAT32, 8],
    ['general.quantization_version', ValueType.UINT32, 2],
  ]);
  // Sorted by PEFT key, as safetensors.torch.load_file hands them to the script; A then B; all F32 (--outtype f32).
  const gg: Record<string, string> = { 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down' };
  const want = [...ls].sort((x, y) => (x.module < y.module ? -1 : 1)).flatMap((l) => {
    const [layer, m] = [l.module.split('.')[2], l.module.split('.').slice(3).join('.')];
    return [
      { name: `blk.${layer}.${gg[m]}.weight.lora_a`, dims: [l.a.shape[1], 4], type: 0 },
      { name: `blk.${layer}.${gg[m]}.weight.lora_b`, dims: [4, l.b.shape[0]], type: 0 },
    ];
  });
  assert.deepEqual(f.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type })), want);
  // A untouched; B's rows (and only B's) permuted for q (4 heads) and k (2 kv heads): GGUF row h·d+2i+j = HF row h·d+j·d/2+i.
  const q = ls.find((l) => l.module === 'model.layers.0.self_attn.q_proj')!;
  assert.deepEqual(readF32(out, 'blk.0.attn_q.weight.lora_a'), q.a.values);
  const qb = readF32(out, 'blk.0.attn_q.weight.lora_b');
  assert.deepEqual([...qb.subarray(4, 8)], [...q.b.values.subarray(8 * 4, 9 * 4)]); // GGUF row 1 = HF row 8 (d = 16)
  const k = ls.find((l) => l.module === 'model.layers.1.self_attn.k_proj')!;
  const kb = readF32(out, 'blk.1.attn_k.weight.lora_b');
  assert.deepEqual([...kb.subarray(19 * 4, 20 * 4)], [...k.b.values.subarray(25 * 4, 26 * 4)]); // head 1, i=1, j=1: 16+8+1
  const v = ls.find((l) => l.module === 'model.layers.0.self_attn.v_proj')!;
  assert.deepEqual(readF32(out, 'blk.0.attn_v.weight.lora_b'), v.b.values);


  // (b) merged while converting (core's convertModel with the hook).
  const merged = join(root, 'plain-merged.gguf');
  await convertModel({ src: hfDir, out: merged, type: 'f32', hook: mergeHook(readPeftAdapter(dir), readLlamaModel(hfDir).shape) });
  await matches(merged, ref);
});

test('rsLoRA (BF16, keys with the adapter name): alpha·√r is written so llama.cpp applies alpha/√r', async () => {
  const dir = join(root, 'rslora');
  const rng = new Rng(26);
  const ls = loras(rng, 8, ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'], 0.2).map((l) => ({ ...l, a: roundBf16(l.a), b: roundBf16(l.b) }));
  writeAdapter(dir, { r: 8, lora_alpha: 16, use_rslora: true, target_modules: ['q_proj', 'k_proj', 'v_proj'] }, ls, { dtype: 'BF16', keyInfix: '.default' });
  const out = join(root, 'rslora.gguf');
  const res = await convertAdapter({ dir, base: hfDir, out });
  const ref = withDeltas(tiny, ls.map((l) => ({ target: `${l.module}.weight`, a: l.a, b: l.b, scale: 16 / Math.sqrt(8) })));
  const tokens = await matches(baseGguf, ref, out);
  assert.notDeepEqual(tokens, baseTokens);
  assert.equal(res.alpha, Math.fround(16 * Math.sqrt(8)));
  assert.equal(meta(readGguf(out), 'adapter.lora.alpha'), Math.fround(16 * Math.sqrt(8)));
  const f16 = join(root, 'rslora-f16.gguf');
  await convertAdapter({ dir, base: hfDir, out: f16, type: 'f16' });
  assert.deepEqual([...new Set(readGguf(f16).tensors.map((t) => t.type))], [1]);
  // auto: the first matrix is BF16, so BF16 (base.py's GUESSED rule).
  const auto = join(root, 'rslora-auto.gguf');
  assert.equal((await convertAdapter({ dir, base: hfDir, out: auto, type: 'auto' })).type, 'bf16');
  assert.deepEqual([...new Set(readGguf(auto).tensors.map((t) => t.type))], [30]);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(convertAdapter({ dir, base: hfDir, out: join(root, 'aborted.gguf'), signal: ac.signal }));
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('aborted')), []);
});

test('modules_to_save (lm_head and the norms) is refused as a runtime LoRA, and merges', async () => {
  const dir = join(root, 'dpo');
  const rng = new Rng(13);
  const ls = loras(rng, 4, ['self_attn.q_proj', 'self_attn.v_proj'], 0.3);
  const full = new Map<string, Dense>();
  full.set('lm_head.weight', randomDense(rng, [tiny.config.vocab, tiny.config.hidden], 1));
  full.set('model.norm.weight', randomDense(rng, [tiny.config.hidden], 0.3, 1));
  for (let l = 0; l < tiny.config.layers; l++) {
    full.set(`model.layers.${l}.input_layernorm.weight`, randomDense(rng, [tiny.config.hidden], 0.3, 1));
    full.set(`model.layers.${l}.post_attention_layernorm.weight`, randomDense(rng, [tiny.config.hidden], 0.3, 1));
  }
  writeAdapter(dir, { r: 4, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], modules_to_save: ['lm_head', 'norm', 'input_layernorm', 'post_attention_layernorm'] }, ls, { full });
  const out = join(root, 'dpo.gguf');
  await userError(convertAdapter({ dir, base: hfDir, out }),
    `${dir}: the adapter saves whole modules (modules_to_save: lm_head, model.norm, model.layers.0.input_layernorm and 3 more), which a llama.cpp LoRA cannot carry; merge it into the model instead: llama3-zh convert BASE --adapter ${dir} --out model.gguf (or llama3-zh create NAME --from BASE --adapter ${dir})`);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('dpo.gguf')), []);
  const ref = withDeltas(tiny, ls.map((l) => ({ target: `${l.module}.weight`, a: l.a, b: l.b, scale: 16 / 4 })), full);
  const merged = join(root, 'dpo-merged.gguf');
  await convertModel({ src: hfDir, out: merged, type: 'f32', hook: mergeHook(readPeftAdapter(dir), readLlamaModel(hfDir).shape) });
  const tokens = await matches(merged, ref);
  assert.notDeepEqual(tokens, baseTokens);
});

test('bad adapters: each one line, nothing written', async () => {
  const out = join(root, 'bad.gguf');
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await userError(convertAdapter({ dir: empty, base: hfDir, out }),
    `${empty} has no adapter_config.json: not a PEFT adapter folder (give the folder save_pretrained wrote)`);

  const bin = join(root, 'bin');
  writeAdapter(bin, { r: 4, lora_alpha: 8 }, []);
  rmSync(join(bin, 'adapter_model.safetensors'));
  writeFileSync(join(bin, 'adapter_model.bin'), 'PK\x03\x04 pickle');
  await userError(convertAdapter({ dir: bin, base: hfDir, out }),
    `${bin} has only adapter_model.bin (a Python pickle, which we do not load); resave it as safetensors: PeftModel.from_pretrained(base, "${bin}").save_pretrained("${bin}", safe_serialization=True)`);

  const rng = new Rng(14);
  const ls = loras(rng, 2, ['self_attn.q_proj'], 0.3);
  const dora = join(root, 'dora');
  writeAdapter(dora, { r: 2, lora_alpha: 2, use_dora: true }, ls);
  await userError(convertAdapter({ dir: dora, base: hfDir, out }),
    `${join(dora, 'adapter_config.json')}: use_dora is true; DoRA adapters (a learned magnitude per weight) cannot be converted, only plain LoRA`);

  const stray = join(root, 'stray');
  writeAdapter(stray, { r: 2, lora_alpha: 2 }, [...ls, { module: 'model.layers.7.self_attn.q_proj', a: ls[0].a, b: ls[0].b }]);
  await userError(convertAdapter({ dir: stray, base: hfDir, out }),
    `${stray}: the adapter changes "model.layers.7.self_attn.q_proj.weight", which the base model has no tensor for; is it an adapter for another model?`);
  await userError(() => mergeHook(readPeftAdapter(stray), adapterBaseShape(hfDir)),
    `${stray}: the adapter changes "model.layers.7.self_attn.q_proj.weight", which the base model has no tensor for; is it an adapter for another model?`);

  const wide = join(root, 'wide');
  writeAdapter(wide, { r: 2, lora_alpha: 2 }, [{ module: 'model.layers.0.self_attn.k_proj', a: ls[0].a, b: ls[0].b }]);
  await userError(convertAdapter({ dir: wide, base: hfDir, out }),
    `${wide}: "model.layers.0.self_attn.k_proj" gives a 64×64 update but the base model's model.layers.0.self_attn.k_proj.weight is 32×64; the adapter was trained on another model`);

  // base_model_name_or_path names the training machine's path: not here, not in the store.
  const plain = join(root, 'plain');
  await userError((async () => resolveAdapterBase(readPeftAdapter(plain)))(),
    'the adapter\'s base model "/root/models/tiny-llama" is not here; pass its Hugging Face folder: --base /path/to/tiny-llama');
  await userError((async () => resolveAdapterBase(readPeftAdapter(plain), join(root, 'nowhere')))(),
    `--base ${join(root, 'nowhere')}: no such folder, and no model of that name is in the store (pull it first: llama3-zh pull ${join(root, 'nowhere')})`);
  assert.equal(resolveAdapterBase(readPeftAdapter(plain), hfDir), hfDir);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('bad.gguf')), []);
});

test('rank_pattern and alpha_pattern: per-module r and alpha, as PEFT scales them', async () => {
  const rng = new Rng(15);
  const q = loras(rng, 4, ['self_attn.q_proj'], 0.3);
  const v = loras(rng, 2, ['self_attn.v_proj'], 0.3);
  // rank_pattern alone: llama.cpp divides alpha by each tensor's own rank, so one alpha still fits.
  const ranks = join(root, 'ranks');
  writeAdapter(ranks, { r: 4, lora_alpha: 8, rank_pattern: { v_proj: 2 } }, [...q, ...v]);
  const out = join(root, 'ranks.gguf');
  assert.equal((await convertAdapter({ dir: ranks, base: hfDir, out })).alpha, 8);
  assert.deepEqual(readGguf(out).tensors.find((t) => t.name === 'blk.0.attn_v.weight.lora_b')!.dims, [2, 32]);
  assert.deepEqual(readPeftAdapter(ranks).pairs.map((p) => p.scale), [2, 2, 4, 4]);

  // alpha_pattern: q gets alpha 32 (scale 8), v keeps 8/2 = 4; one alpha cannot say that at runtime, the merge can.
  const alphas = join(root, 'alphas');
  writeAdapter(alphas, { r: 4, lora_alpha: 8, rank_pattern: { v_proj: 2 }, alpha_pattern: { 'model.layers.1.self_attn.q_proj': 32 } }, [...q, ...v]);
  await userError(convertAdapter({ dir: alphas, base: hfDir, out: join(root, 'alphas.gguf') }),
    `${alphas}: its modules have different LoRA scales (alpha_pattern), which a llama.cpp LoRA (one alpha for all) cannot carry; merge it into the model instead: llama3-zh convert BASE --adapter ${alphas} --out model.gguf (or llama3-zh create NAME --from BASE --adapter ${alphas})`);
  const hook = mergeHook(readPeftAdapter(alphas), readLlamaModel(hfDir).shape);
  const name = 'model.layers.1.self_attn.q_proj.weight';
  assert.equal(hook.touches(name), true);
  assert.equal(hook.touches('model.layers.1.self_attn.k_proj.weight'), false);
  const w = Float32Array.from(tiny.tensors.get(name)!.values);
  hook.apply(name, w, [64, 64]);
  const l = q.find((x) => `${x.module}.weight` === name)!;
  const want = withDeltas(tiny, [{ target: name, a: l.a, b: l.b, scale: 32 / 4 }]).tensors.get(name)!.values;
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i] - want[i]) < 1e-4, `element ${i}: ${w[i]} vs ${want[i]}`);
});

test('the base model named in adapter_config.json is found in the store by repo id', () => {
  const dir = join(root, 'hub-named');
  writeAdapter(dir, { r: 2, lora_alpha: 2, base_model_name_or_path: 'Someone/Tiny-Llama' }, loras(new Rng(16), 2, ['self_attn.q_proj'], 0.3));
  const stored = join(root, 'home', 'models', 'Someone', 'Tiny-Llama');
  mkdirSync(stored, { recursive: true });
  writeFileSync(join(stored, 'config.json'), readFileSync(join(hfDir, 'config.json')));
  assert.equal(resolveAdapterBase(readPeftAdapter(dir)), stored);
  assert.equal(resolveAdapterBase(readPeftAdapter(dir), 'Someone/Tiny-Llama'), stored);
});

test('LoRA on embed_tokens (lora_embedding_A/B) and lm_head: token_embd\'s lora_a is transposed, as the script does', async () => {
  const dir = join(root, 'embed');
  const rng = new Rng(17);
  const { vocab, hidden } = tiny.config;
  const embA = randomDense(rng, [4, vocab], 0.5), embB = randomDense(rng, [hidden, 4], 0.5);
  const head: Lora = { module: 'lm_head', a: randomDense(rng, [4, hidden], 0.5), b: randomDense(rng, [vocab, 4], 0.5) };
  writeAdapter(dir, { r: 4, lora_alpha: 4, target_modules: ['embed_tokens', 'lm_head'] }, [head]);
  // PEFT's Embedding keeps its factors in a ParameterDict: keys without ".weight", the adapter name dropped.
  const st = join(dir, 'adapter_model.safetensors');
  writeSafetensors(st, [
    { name: 'base_model.model.lm_head.lora_A.weight', dtype: 'F32', dense: head.a },
    { name: 'base_model.model.lm_head.lora_B.weight', dtype: 'F32', dense: head.b },
    { name: 'base_model.model.model.embed_tokens.lora_embedding_A', dtype: 'F32', dense: embA },
    { name: 'base_model.model.model.embed_tokens.lora_embedding_B', dtype: 'F32', dense: embB },
  ]);
  const out = join(root, 'embed.gguf');
  await convertAdapter({ dir, base: hfDir, out });
  assert.deepEqual(readGguf(out).tensors.map((t) => [t.name, t.dims]), [
    ['output.weight.lora_a', [hidden, 4]], ['output.weight.lora_b', [4, vocab]],
    ['token_embd.weight.lora_a', [4, vocab]], ['token_embd.weight.lora_b', [4, hidden]],
  ]);
  // The reference: embed_tokens += (B·A)ᵀ (vocab × dim), lm_head += B·A; scale 4/4.
  const ref = withDeltas(tiny, [{ target: 'lm_head.weight', a: head.a, b: head.b, scale: 1 }]);
  const e = ref.tensors.get('model.embed_tokens.weight')!.values;
  for (let v = 0; v < vocab; v++) {
    for (let d = 0; d < hidden; d++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += embB.values[d * 4 + k] * embA.values[k * vocab + v];
      e[v * hidden + d] += s;
    }
  }
  const tokens = await matches(baseGguf, ref, out);
  assert.notDeepEqual(tokens, baseTokens);
  const merged = join(root, 'embed-merged.gguf');
  await convertModel({ src: hfDir, out: merged, type: 'f32', hook: mergeHook(readPeftAdapter(dir), readLlamaModel(hfDir).shape) });
  await matches(merged, ref);
});

test('the CLI: convert PEFT_DIR --base SRC writes the LoRA GGUF, --adapter merges, refusals are one line', async () => {
  const plain = join(root, 'plain');
  const out = join(root, 'cli-plain.gguf');
  const r = await runCli(['convert', plain, '--base', hfDir, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `wrote ${out}: LoRA adapter for 14 weights (28 tensors, f32), alpha 8; use it with --lora ${out}\n`);
  assert.deepEqual(readFileSync(out), readFileSync(join(root, 'plain.gguf')));

  const merged = join(root, 'cli-merged.gguf');
  const m = await runCli(['convert', hfDir, '--adapter', plain, '--type', 'f32', '--out', merged]);
  assert.equal(m.code, 0, m.stderr);
  assert.deepEqual(readFileSync(merged), readFileSync(join(root, 'plain-merged.gguf')));

  const dpo = join(root, 'dpo');
  assertOneLineError(await runCli(['convert', dpo, '--base', hfDir, '--out', join(root, 'cli-dpo.gguf')]),
    /^llama3-zh convert: .*dpo: the adapter saves whole modules \(modules_to_save: lm_head, model\.norm, model\.layers\.0\.input_layernorm and 3 more\), which a llama\.cpp LoRA cannot carry; merge it into the model instead: llama3-zh convert BASE --adapter .*dpo --out model\.gguf/);
  assertOneLineError(await runCli(['convert', plain, '--out', join(root, 'cli-nobase.gguf')]),
    /the adapter's base model "\/root\/models\/tiny-llama" is not here; pass its Hugging Face folder: --base \/path\/to\/tiny-llama$/);
  assertOneLineError(await runCli(['convert', hfDir, '--base', hfDir, '--out', join(root, 'cli-x.gguf')]), /--base is for a PEFT adapter folder as SRC/);
  assertOneLineError(await runCli(['convert', plain, '--base', hfDir, '--type', 'q4_k_m', '--out', join(root, 'cli-x.gguf')]),
    /--type q4_k_m: a LoRA adapter converts to f32, f16, bf16, q8_0 or auto, as convert_lora_to_gguf does \(quantize the base model for the rest\)$/);
  assertOneLineError(await runCli(['convert', plain, '--base', hfDir, '--out', join(plain, 'adapter_model.safetensors'), '--force']),
    /is .*adapter_model\.safetensors, one of the adapter's own files; give another output file$/);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('cli-') && n !== 'cli-plain.gguf' && n !== 'cli-merged.gguf'), []);
});

test('PEFT key spellings: modules_to_save as <module>.modules_to_save.default.weight or .default.weight; base_layer copies checked and skipped; lora_bias refused', async () => {
  const rng = new Rng(18);
  const ls = loras(rng, 2, ['self_attn.q_proj'], 0.3);
  const { vocab, hidden } = tiny.config;
  const dir = join(root, 'spellings');
  writeAdapter(dir, { r: 2, lora_alpha: 2 }, ls);
  const norm = randomDense(rng, [hidden], 0.2, 1);
  writeSafetensors(join(dir, 'adapter_model.safetensors'), [
    ...ls.flatMap((l) => [
      { name: `base_model.model.${l.module}.lora_A.weight`, dtype: 'F32' as const, dense: l.a },
      { name: `base_model.model.${l.module}.lora_B.weight`, dtype: 'F32' as const, dense: l.b },
    ]),
    { name: 'base_model.model.model.norm.modules_to_save.default.weight', dtype: 'F32', dense: norm },
    { name: 'base_model.model.model.layers.0.input_layernorm.default.weight', dtype: 'F32', dense: norm },
    { name: 'base_model.model.model.embed_tokens.base_layer.weight', dtype: 'F32', dense: tiny.tensors.get('model.embed_tokens.weight')! },
  ]);
  const a = readPeftAdapter(dir);
  assert.deepEqual([...a.full.keys()], ['model.norm.weight', 'model.layers.0.input_layernorm.weight']);
  assert.deepEqual([...a.baseLayers.keys()], ['model.embed_tokens.weight']);
  const hook = mergeHook(a, readLlamaModel(hfDir).shape);
  assert.deepEqual([...hook.replacements!.get('model.norm.weight')!.values], [...norm.values]);

  const resized = join(root, 'resized');
  writeAdapter(resized, { r: 2, lora_alpha: 2 }, ls);
  writeSafetensors(join(resized, 'adapter_model.safetensors'), [
    ...ls.flatMap((l) => [
      { name: `base_model.model.${l.module}.lora_A.weight`, dtype: 'F32' as const, dense: l.a },
      { name: `base_model.model.${l.module}.lora_B.weight`, dtype: 'F32' as const, dense: l.b },
    ]),
    { name: 'base_model.model.model.embed_tokens.base_layer.weight', dtype: 'F32', dense: randomDense(rng, [vocab + 8, hidden], 1) },
  ]);
  await userError(convertAdapter({ dir: resized, base: hfDir, out: join(root, 'resized.gguf') }),
    `${resized}: the adapter's copy of "model.embed_tokens.weight" is ${vocab + 8}×64 but the base model's is ${vocab}×64: it was trained with tokens added to the vocabulary, which this base model does not have`);

  // A tied base: a saved lm_head becomes an output layer of its own; a LoRA on lm_head has no lm_head to add to.
  const tied = { ...readLlamaModel(hfDir).shape, tied: true };
  const head = join(root, 'tied-head');
  writeAdapter(head, { r: 2, lora_alpha: 2, modules_to_save: ['lm_head'] }, ls, { full: new Map([['lm_head.weight', tiny.tensors.get('lm_head.weight')!]]) });
  assert.equal(mergeHook(readPeftAdapter(head), tied).replacements!.get('lm_head.weight')!.shape.join('×'), `${vocab}×64`);
  const headLora = join(root, 'tied-lora');
  writeAdapter(headLora, { r: 2, lora_alpha: 2 }, [{ module: 'lm_head', a: randomDense(rng, [2, hidden], 0.3), b: randomDense(rng, [vocab, 2], 0.3) }]);
  await userError(() => mergeHook(readPeftAdapter(headLora), tied),
    `${headLora}: the adapter changes "lm_head.weight", which the base model has no tensor for (the base model ties lm_head to embed_tokens, so it has no lm_head of its own); is it an adapter for another model?`);

  const bias = join(root, 'bias');
  writeAdapter(bias, { r: 2, lora_alpha: 2, lora_bias: true }, ls);
  await userError(() => readPeftAdapter(bias),
    `${join(bias, 'adapter_config.json')}: lora_bias is true; the adapter trains biases, which Llama's layers do not have, so it cannot be converted`);
  const ia3 = join(root, 'ia3');
  writeAdapter(ia3, { peft_type: 'IA3' }, []);
  await userError(() => readPeftAdapter(ia3), `${join(ia3, 'adapter_config.json')}: peft_type is "IA3"; only LoRA adapters (peft_type "LORA") convert`);
});
