import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { convertAdapter, adapterBaseShape } from '../../src/convert/lora.js';
import { mergeHook } from '../../src/convert/merge.js';
import { readPeftAdapter } from '../../src/convert/peft.js';
import { resolveAdapterBase } from '../../src/convert/adapterBase.js';
import { loadEngine } from '../../src/engine/load.js';
import { GREEDY } from '../../src/engine/types.js';
import { UserError } from '../../src/errors.js';
import { encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import { Rng } from '../../src/gguf/numbers.js';
import { readGguf } from '../../src/gguf/reader.js';
import { meta } from '../../src/gguf/types.js';
import {
  type Dense, forward, greedy, logSoftmax, makeTiny, randomDense, roundBf16, type Tiny, withDeltas, writeBaseGguf, writeHfFolder,
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

async function matches(model: string, ref: Tiny, lora?: string) {
  const want = greedy(ref, PROMPT, STEPS);
  const lp = logSoftmax(forward(ref, PROMPT));
  const top = [...lp.keys()].sort((x, y) => lp[y] - lp[x]).slice(0, 5);
  const e = await loadEngine({ modelPath: model, threads: 2, contextSize: 64, gpu: false, lora: lora ? [{ path: lora, scale: 1 }] : undefined });
  try {
    const g = await e.generate({ prompt: PROMPT, maxTokens: STEPS, sampling: GREEDY, ignoreEndOfGeneration: true });
    assert.deepEqual(g.tokens, want);
    const got = await e.nextTokenLogprobs(PROMPT, top);
    for (let i = 0; i < top.length; i++) assert.ok(Math.abs(got[i] - lp[top[i]]) < 0.02, `token ${top[i]}: llama.cpp ${got[i]}, reference ${lp[top[i]]}`);
  } finally {
    await e.close();
  }
  return want;
}

let baseTokens: number[];

before(async () => {
  tiny = makeTiny(3);
  writeHfFolder(hfDir, tiny);
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
  assert.equal(meta(f, 'general.architecture'), 'llama');
  assert.equal(meta(f, 'general.type'), 'adapter');
  assert.equal(meta(f, 'adapter.type'), 'lora');
  assert.equal(meta(f, 'adapter.lora.alpha'), 8);
  assert.equal(f.metadata.get('adapter.lora.alpha')!.type, 6); // FLOAT32
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


  // (b) merged while converting, through the converter's hook.
  const merged = join(root, 'plain-merged.gguf');
  await writeBaseGguf(merged, tiny, mergeHook(readPeftAdapter(dir), adapterBaseShape(hfDir)));
  await matches(merged, ref);
});

test('rsLoRA (BF16, keys with the adapter name): alpha·√r is written so llama.cpp applies alpha/√r', async () => {
  const dir = join(root, 'rslora');
  const rng = new Rng(12);
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
  await writeBaseGguf(merged, tiny, mergeHook(readPeftAdapter(dir), adapterBaseShape(hfDir)));
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
  await userError(convertAdapter({ dir: plain, out }),
    'the adapter\'s base model "/root/models/tiny-llama" is not here; pass its Hugging Face folder: --base /path/to/tiny-llama');
  await userError(convertAdapter({ dir: plain, base: join(root, 'nowhere'), out }),
    `--base ${join(root, 'nowhere')}: no such folder, and no model of that name is in the store (pull it first: llama3-zh pull ${join(root, 'nowhere')})`);
  assert.equal(resolveAdapterBase(readPeftAdapter(plain), hfDir), hfDir);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('bad.gguf')), []);
});
