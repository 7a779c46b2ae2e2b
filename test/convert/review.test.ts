import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { spawn } from 'node:child_process';
import { assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';
import { randomDense, writeSafetensors } from '../helpers/loraTiny.js';
import { convertModel } from '../../src/convert/convert.js';
import { readLlamaModel } from '../../src/convert/hfModel.js';
import { mergeHook } from '../../src/convert/merge.js';
import { readPeftAdapter } from '../../src/convert/peft.js';
import { Rng } from '../../src/gguf/numbers.js';
import { readGguf } from '../../src/gguf/reader.js';

/* Defects found in review of the converter, each pinned by the input that showed it. */

const root = realpathSync(mkdtempSync(join(tmpdir(), 'convert-review-')));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(root, `${name}-${n++}`);
const tiny = (extra: Record<string, unknown> = {}) =>
  writeTinyLlama(fresh('m'), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ff: 64, dtype: 'bf16', seed: 7, instruct: true, ...extra });
/** tiny() for the tests that only read the folder: the same checkpoint, written once for all of them. */
let shared: ReturnType<typeof tiny> | undefined;
const tinyReadOnly = () => (shared ??= tiny());

function editConfig(dir: string, patch: Record<string, unknown>) {
  const p = join(dir, 'config.json');
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), ...patch }, null, 2));
}

test('a config value over a GGUF uint32 is one clear line, not an internal error, and nothing is written', async () => {
  const m = tiny();
  editConfig(m.dir, { max_position_embeddings: 5_000_000_000 });
  const out = join(root, `huge-${n++}`);
  const r = await runCli(['convert', m.dir, '--out', join(out + '.gguf')]);
  assert.equal(r.code, 1);
  assertOneLineError(r, /"max_position_embeddings" is 5000000000, over the 4294967295 a GGUF can hold; fix config\.json$/);
  assert.deepEqual(readdirSync(root).filter((f) => f.includes('huge')), []);
});

/** A PEFT folder for tiny(): a q_proj LoRA, and lm_head saved whole (modules_to_save) as bf16. */
function adapter(vocab: number, hidden: number) {
  const dir = fresh('peft');
  mkdirSync(dir);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'], modules_to_save: ['lm_head'] }));
  const rng = new Rng(3);
  const head = randomDense(rng, [vocab, hidden], 0.05);
  writeSafetensors(join(dir, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', dtype: 'F32', dense: randomDense(rng, [2, hidden], 0.1) },
    { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', dtype: 'F32', dense: randomDense(rng, [hidden, 2], 0.1) },
    { name: 'base_model.model.lm_head.weight', dtype: 'BF16', dense: head },
  ]);
  return dir;
}

test('--out may not be the adapter\'s own file: the adapter is left as it was (before, the GGUF replaced it)', async () => {
  const m = tinyReadOnly();
  const ad = adapter(128256, 32);
  const weights = join(ad, 'adapter_model.safetensors');
  const before = readFileSync(weights);
  const r = await runCli(['convert', m.dir, '--adapter', ad, '--out', weights, '--force']);
  assert.equal(r.code, 2);
  assertOneLineError(r, new RegExp(`--out ${weights} is ${weights}, one of the model's own files; give another output file$`));
  assert.deepEqual(readFileSync(weights), before);
  const cfg = join(ad, 'adapter_config.json');
  const r2 = await runCli(['convert', m.dir, '--adapter', ad, '--out', cfg, '--force']);
  assert.equal(r2.code, 2);
  assert.match(JSON.parse(readFileSync(cfg, 'utf8')).peft_type, /^LORA$/);
});

test('a modules_to_save tensor streams from the adapter file (never whole in f32) and its bytes land unchanged', async () => {
  const m = tinyReadOnly();
  const ad = adapter(128256, 32);
  const hook = mergeHook(readPeftAdapter(ad), readLlamaModel(m.dir).shape);
  for (const rep of hook.replacements!.values()) {
    Object.defineProperty(rep, 'values', { get() { throw new Error('the whole tensor was decoded to f32'); } });
  }
  const out = join(root, `stream-${n++}.gguf`);
  await convertModel({ src: m.dir, out, hook });
  const g = readGguf(out);
  const t = g.tensors.find((x) => x.name === 'output.weight')!;
  assert.deepEqual(t.dims, [32, 128256]);
  const file = readFileSync(out);
  const st = readFileSync(join(ad, 'adapter_model.safetensors'));
  const hdr = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString());
  const [b, e] = hdr['base_model.model.lm_head.weight'].data_offsets as number[];
  const from = 8 + Number(st.readBigUInt64LE(0)) + b;
  const at = g.dataOffset + t.offset;
  assert.equal(Buffer.compare(file.subarray(at, at + (e - b)), st.subarray(from, from + (e - b))), 0);
});

test('an activated LoRA (aLoRA): the LoRA GGUF carries adapter.alora.invocation_tokens; a merge is refused', async () => {
  const m = tinyReadOnly();
  const ad = adapter(128256, 32);
  // A runtime LoRA cannot carry lm_head; keep only the q_proj pair.
  const st = join(ad, 'adapter_model.safetensors');
  const rng = new Rng(5);
  writeSafetensors(st, [
    { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', dtype: 'F32', dense: randomDense(rng, [2, 32], 0.1) },
    { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', dtype: 'F32', dense: randomDense(rng, [32, 2], 0.1) },
  ]);
  writeFileSync(join(ad, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'], alora_invocation_tokens: [128006, 78191, 128007] }));
  const out = join(root, `alora-${n++}.gguf`);
  const r = await runCli(['convert', ad, '--base', m.dir, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const kvAlora = readGguf(out).metadata.get('adapter.alora.invocation_tokens')!;
  assert.deepEqual({ type: kvAlora.type, itemType: kvAlora.itemType, value: kvAlora.value }, { type: 9, itemType: 4, value: [128006, 78191, 128007] });
  const merged = join(root, `alora-merged-${n++}.gguf`);
  const r2 = await runCli(['convert', m.dir, '--adapter', ad, '--out', merged]);
  assert.equal(r2.code, 1);
  assertOneLineError(r2, /an activated LoRA \(aLoRA, alora_invocation_tokens\) changes only the tokens after its invocation, which merged weights cannot do; convert it to a LoRA GGUF instead: llama3-zh convert .* --base BASE --out adapter\.gguf$/);
  assert.equal(readdirSync(root).some((f) => f.startsWith('alora-merged')), false);
});

test('an adapter_config.json without lora_alpha scales by PEFT\'s default alpha 8, not by r', () => {
  const ad = adapter(128256, 32);
  writeFileSync(join(ad, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, target_modules: ['q_proj'], modules_to_save: ['lm_head'] }));
  const a = readPeftAdapter(ad);
  assert.deepEqual({ alpha: a.alpha, scale: a.pairs[0].scale }, { alpha: 8, scale: 4 });
});

test('a checkpoint with more layers than num_hidden_layers says the config and the weights disagree (not "is it a Llama at all?")', async () => {
  const m = writeTinyLlama(fresh('m'), { layers: 2, hidden: 32, heads: 2, kvHeads: 1, ff: 64, dtype: 'bf16', seed: 7 });
  editConfig(m.dir, { num_hidden_layers: 1 });
  const r = await runCli(['convert', m.dir, '--out', join(root, `layers-${n++}.gguf`)]);
  assert.equal(r.code, 1);
  assertOneLineError(r, /: config\.json has num_hidden_layers 1 but the checkpoint has layer 1 \("model\.layers\.1\.input_layernorm\.weight"\); the config and the weights disagree$/);
});

test('LoRA --type bf16 / f16 encode NaNs as gguf-py does (bf16 quiet bit 6 of the high half; numpy f16 payload)', async () => {
  const m = tinyReadOnly();
  const dir = fresh('nan');
  mkdirSync(dir);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['v_proj'] }));
  const bits = new Uint32Array(2 * 32).fill(0x3f800000);
  bits[0] = 0x7f800001; // a signalling NaN whose payload is all in the low half
  bits[1] = 0xff800001;
  bits[2] = 0x7fa00000;
  const a = { shape: [2, 32], values: new Float32Array(bits.buffer) };
  writeSafetensors(join(dir, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', dtype: 'F32', dense: a },
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight', dtype: 'F32', dense: randomDense(new Rng(1), [16, 2], 0.1) },
  ]);
  const first = async (type: string) => {
    const out = join(root, `nan-${type}-${n++}.gguf`);
    const r = await runCli(['convert', dir, '--base', m.dir, '--out', out, '--type', type]);
    assert.equal(r.code, 0, r.stderr);
    const g = readGguf(out);
    const t = g.tensors.find((x) => x.name === 'blk.0.attn_v.weight.lora_a')!;
    const buf = readFileSync(out).subarray(g.dataOffset + t.offset);
    return [0, 1, 2, 3].map((i) => buf.readUInt16LE(2 * i));
  };
  assert.deepEqual(await first('bf16'), [0x7fc0, 0xffc0, 0x7fe0, 0x3f80]);
  assert.deepEqual(await first('f16'), [0x7c01, 0xfc01, 0x7d00, 0x3c00]);
});

test('a model folder that also ships its adapter (adapter_config.json beside the merged weights) converts as the model', async () => {
  const m = tiny();
  const ad = adapter(128256, 32);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) writeFileSync(join(m.dir, f), readFileSync(join(ad, f)));
  const out = join(root, `both-${n++}.gguf`);
  const r = await runCli(['convert', m.dir, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readGguf(out).metadata.get('general.type')!.value, 'model');
  // --base says the adapter is meant: it is refused as a runtime LoRA (it saves lm_head whole).
  const r2 = await runCli(['convert', m.dir, '--base', m.dir, '--out', join(root, `both-${n++}.gguf`)]);
  assert.equal(r2.code, 1);
  assertOneLineError(r2, /the adapter saves whole modules \(modules_to_save: lm_head\), which a llama\.cpp LoRA cannot carry/);
});

test('a merge streams its tensors a chunk of rows at a time (applyRows), byte for byte what the whole-tensor merge writes', async () => {
  const m = tiny({ hidden: 64, heads: 4, kvHeads: 2 });
  const dir = fresh('rows');
  mkdirSync(dir);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'k_proj', 'embed_tokens'] }));
  const rng = new Rng(11);
  const p = 'base_model.model.model.';
  writeSafetensors(join(dir, 'adapter_model.safetensors'), [
    // The embedding's bf16 is 128256 × 64 × 2 bytes, over the converter's 8 MiB chunk: it merges in two steps.
    { name: `${p}embed_tokens.lora_embedding_A`, dtype: 'F32', dense: randomDense(rng, [2, 128256], 0.5) },
    { name: `${p}embed_tokens.lora_embedding_B`, dtype: 'F32', dense: randomDense(rng, [64, 2], 0.5) },
    { name: `${p}layers.0.self_attn.q_proj.lora_A.weight`, dtype: 'F32', dense: randomDense(rng, [2, 64], 0.5) },
    { name: `${p}layers.0.self_attn.q_proj.lora_B.weight`, dtype: 'F32', dense: randomDense(rng, [64, 2], 0.5) },
    { name: `${p}layers.0.self_attn.k_proj.lora_A.weight`, dtype: 'F32', dense: randomDense(rng, [2, 64], 0.5) },
    { name: `${p}layers.0.self_attn.k_proj.lora_B.weight`, dtype: 'F32', dense: randomDense(rng, [32, 2], 0.5) },
  ]);
  const shape = readLlamaModel(m.dir).shape;
  const rowsHook = mergeHook(readPeftAdapter(dir), shape);
  const chunks: Array<[string, number, number]> = [];
  const applyRows = rowsHook.applyRows!;
  rowsHook.applyRows = (name, v, dims, row0, count) => { chunks.push([name, row0, count]); applyRows(name, v, dims, row0, count); };
  rowsHook.apply = () => { throw new Error('a whole tensor was decoded to f32'); };
  const wholeHook = mergeHook(readPeftAdapter(dir), shape);
  delete wholeHook.applyRows;
  const [a, b, plain] = [join(root, `rows-${n++}.gguf`), join(root, `whole-${n++}.gguf`), join(root, `plain-${n++}.gguf`)];
  await convertModel({ src: m.dir, out: a, hook: rowsHook });
  await convertModel({ src: m.dir, out: b, hook: wholeHook });
  await convertModel({ src: m.dir, out: plain });
  assert.deepEqual(chunks.filter(([name]) => name.includes('embed')), [['model.embed_tokens.weight', 0, 65536], ['model.embed_tokens.weight', 65536, 62720]]);
  assert.equal(Buffer.compare(readFileSync(a), readFileSync(b)), 0);
  const g = readGguf(a);
  const differs = (name: string) => {
    const t = g.tensors.find((x) => x.name === name)!;
    const at = g.dataOffset + t.offset;
    return Buffer.compare(readFileSync(a).subarray(at, at + 1024), readFileSync(plain).subarray(at, at + 1024)) !== 0;
  };
  assert.deepEqual(['token_embd.weight', 'blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.attn_v.weight'].map(differs), [true, true, true, false]);
});

test('SIGTERM during a conversion: exit 143 (128 + 15, not SIGINT\'s 130), no output and no temp file', async () => {
  // Big enough (two 128256 × 256 matrices, 125 MiB of bf16) that the conversion is still running when the first
  // stderr line comes; convert.test's Ctrl-C case needs only 128 wide.
  const m = writeTinyLlama(fresh('m'), { layers: 1, hidden: 256, heads: 8, kvHeads: 4, ff: 64, dtype: 'bf16', seed: 7 });
  const dir = fresh('sigterm');
  mkdirSync(dir);
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'convert', m.dir, '--out', join(dir, 'o.gguf')], { env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (!stderr) child.kill('SIGTERM'); stderr += d; });
  const code = await new Promise((res) => child.on('close', res));
  assert.equal(code, 143, stderr);
  assert.match(stderr.trim().split('\n').pop()!, /interrupted; nothing was written$/);
  assert.deepEqual(readdirSync(dir), []);
});

test('LoRA --type q8_0 as convert_lora_to_gguf: lora_a in Q8_0, lora_b (rows r long, not whole 32-blocks) in F16', async () => {
  const m = tinyReadOnly();
  const dir = fresh('q8');
  mkdirSync(dir);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['v_proj'] }));
  const rng = new Rng(2);
  const b = randomDense(rng, [16, 2], 0.1);
  writeSafetensors(join(dir, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', dtype: 'F32', dense: randomDense(rng, [2, 32], 0.1) },
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight', dtype: 'F32', dense: b },
  ]);
  const out = join(root, `q8-${n++}.gguf`);
  const r = await runCli(['convert', dir, '--base', m.dir, '--out', out, '--type', 'q8_0']);
  assert.equal(r.code, 0, r.stderr);
  const g = readGguf(out);
  assert.deepEqual(g.tensors.map((t) => [t.name, t.type, t.dims]), [
    ['blk.0.attn_v.weight.lora_a', 8, [32, 2]],
    ['blk.0.attn_v.weight.lora_b', 1, [2, 16]],
  ]);
  const t = g.tensors[1];
  const at = g.dataOffset + t.offset;
  const half = readFileSync(out).subarray(at, at + 64);
  const f16 = (h: number) => { const e = (h >> 10) & 31, f = h & 1023, s = h >> 15 ? -1 : 1; return s * (e ? 2 ** (e - 15) * (1 + f / 1024) : 2 ** -14 * (f / 1024)); };
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(f16(half.readUInt16LE(2 * i)) - b.values[i]) <= Math.abs(b.values[i]) / 1024 + 1e-7);
});
