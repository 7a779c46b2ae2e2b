import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tokenizer from 'llama3-tokenizer-js';
import { writeLlama3Tokenizer } from '../helpers/hfTokenizer.js';
import { convertModel } from '../../src/convert/convert.js';
import { bf16FromF32Bits, convertBytes, encodeFromF32 } from '../../src/convert/dtypes.js';
import { modelNames } from '../../src/convert/naming.js';
import { loadEngine } from '../../src/engine/load.js';
import { readGguf } from '../../src/gguf/reader.js';
import { Rng } from '../../src/gguf/numbers.js';
import { tensorTypeName, ValueType } from '../../src/gguf/types.js';
import { spawn } from 'node:child_process';
import { assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';

/*
 * Tiny Hugging Face checkpoints built here from known f32 values; every expectation below is computed in this file
 * from those values (the reshape/swapaxes permutation, bf16/f16 rounding, Q8_0, the llama3 rope formula), never by
 * the converter's own code. The output is parsed with the project's GGUF reader (src/gguf, not part of convert).
 */

const root = realpathSync(mkdtempSync(join(tmpdir(), 'convert-')));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => { const d = join(root, `${name}-${n++}`); mkdirSync(d); return d; };

type Dtype = 'BF16' | 'F16' | 'F32';
interface Opts { layers?: number; hidden?: number; heads?: number; kvHeads?: number; headDim?: number; ff?: number; dtype?: Dtype; shards?: number;
  tied?: boolean; llama3Rope?: boolean; seed?: number; arch?: string; extra?: Record<string, number[]> }

/** f16 bits by plain arithmetic (round half to even), for finite values in range: the test's own reference. */
function refF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; if (2 ** (e + 1) <= a) e++;
  if (e < -14) { // subnormal: units of 2^-24
    const q = a / 2 ** -24; let r = Math.round(q); if (Math.abs(q - Math.trunc(q) - 0.5) < 1e-300 && r % 2) r--; return sign | r;
  }
  const q = (a / 2 ** e - 1) * 1024; let m = Math.floor(q); const rem = q - m;
  if (rem > 0.5 || (rem === 0.5 && m % 2)) m++;
  if (m === 1024) { m = 0; e++; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}
// One shared f32 cell seen as two u16 halves (little-endian: [1] is the high half), not a Buffer per value: the
// checkpoints here hold 8-16M values each, and a Buffer per value was most of every conversion test's time.
const cellF32 = new Float32Array(1);
const cellU16 = new Uint16Array(cellF32.buffer);
/** The high half of x's f32 bits (truncation, the test's own bf16 of a value it then stores exactly). */
const bf16Of = (x: number) => { cellF32[0] = x; return cellU16[1]; };
const fromBf16 = (h: number) => { cellU16[0] = 0; cellU16[1] = h; return cellF32[0]; };

/** Values exactly representable in the dtype, so the checkpoint holds exactly them. */
function values(rng: Rng, count: number, dtype: Dtype, scale = 0.05): Float32Array {
  const v = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const x = Math.fround(rng.uniform(scale));
    v[i] = dtype === 'BF16' ? fromBf16(bf16Of(x)) : dtype === 'F16' ? f16ToNumber(refF16(x)) : x;
  }
  return v;
}
function f16ToNumber(h: number) { const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1; return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15); }

function encode(v: Float32Array, dtype: Dtype): Buffer {
  if (dtype === 'F32') return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const bits = new Uint16Array(v.length); // little-endian, as safetensors stores them
  for (let i = 0; i < v.length; i++) bits[i] = dtype === 'BF16' ? bf16Of(v[i]) : refF16(v[i]);
  return Buffer.from(bits.buffer);
}

function writeSafetensors(path: string, ts: Array<{ name: string; dtype: string; shape: number[]; data: Buffer }>) {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of ts) { header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] }; off += t.data.length; }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, ...ts.map((t) => t.data)]));
}

const templates = new Map<string, string>();
/** A fresh copy of a tiny checkpoint, for a test that damages it: each shape is made once and copied. */
function tinyCopy(name: string, opts: Opts = {}): { dir: string } {
  const key = JSON.stringify(opts);
  let t = templates.get(key);
  if (t === undefined) { t = writeTiny(fresh('template'), opts).dir; templates.set(key, t); }
  const dir = fresh(name);
  cpSync(t, dir, { recursive: true });
  return { dir };
}

interface Tiny { dir: string; raw: Map<string, { v: Float32Array; shape: number[] }>; o: Required<Omit<Opts, 'headDim' | 'extra'>> & { headDim?: number } }

function writeTiny(dir: string, opts: Opts = {}): Tiny {
  const o = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 96, dtype: 'BF16' as Dtype, shards: 1, tied: false, llama3Rope: false, seed: 1, arch: 'LlamaForCausalLM', ...opts };
  const hd = o.headDim ?? o.hidden / o.heads;
  const rng = new Rng(o.seed);
  const V = 128256;
  const shapes: Array<[string, number[]]> = [['model.embed_tokens.weight', [V, o.hidden]], ['model.norm.weight', [o.hidden]]];
  if (!o.tied) shapes.push(['lm_head.weight', [V, o.hidden]]);
  for (let l = 0; l < o.layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.push([`${p}self_attn.q_proj.weight`, [o.heads * hd, o.hidden]], [`${p}self_attn.k_proj.weight`, [o.kvHeads * hd, o.hidden]],
      [`${p}self_attn.v_proj.weight`, [o.kvHeads * hd, o.hidden]], [`${p}self_attn.o_proj.weight`, [o.hidden, o.heads * hd]],
      [`${p}mlp.gate_proj.weight`, [o.ff, o.hidden]], [`${p}mlp.up_proj.weight`, [o.ff, o.hidden]], [`${p}mlp.down_proj.weight`, [o.hidden, o.ff]],
      [`${p}input_layernorm.weight`, [o.hidden]], [`${p}post_attention_layernorm.weight`, [o.hidden]], [`${p}self_attn.rotary_emb.inv_freq`, [hd / 2]]);
  }
  for (const [k, s] of Object.entries(opts.extra ?? {})) shapes.push([k, s]);
  const raw = new Map<string, { v: Float32Array; shape: number[] }>();
  for (const [name, shape] of shapes) {
    const v = values(rng, shape.reduce((a, d) => a * d, 1), o.dtype);
    if (name.includes('norm')) for (let i = 0; i < v.length; i++) v[i] = o.dtype === 'BF16' ? fromBf16(bf16Of(1 + v[i] / 4)) : Math.fround(1 + v[i] / 4);
    raw.set(name, { v, shape });
  }
  // Shards: tensors dealt round-robin, written in reverse name order (the converter must sort, as gguf-py does).
  const names = [...raw.keys()].reverse();
  const files = o.shards === 1 ? ['model.safetensors'] : Array.from({ length: o.shards }, (_, i) => `model-0000${i + 1}-of-0000${o.shards}.safetensors`);
  const weightMap: Record<string, string> = {};
  files.forEach((f, i) => {
    const mine = names.filter((_, j) => j % files.length === i);
    for (const m of mine) weightMap[m] = f;
    writeSafetensors(join(dir, f), mine.map((m) => ({ name: m, dtype: o.dtype, shape: raw.get(m)!.shape, data: encode(raw.get(m)!.v, o.dtype) })));
  });
  if (o.shards > 1) writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const config: Record<string, unknown> = {
    architectures: [o.arch], hidden_size: o.hidden, intermediate_size: o.ff, max_position_embeddings: 2048, num_attention_heads: o.heads,
    num_hidden_layers: o.layers, num_key_value_heads: o.kvHeads, rms_norm_eps: 1e-5, rope_theta: 500000.0, vocab_size: V,
    tie_word_embeddings: o.tied, torch_dtype: 'bfloat16',
  };
  if (o.headDim) config.head_dim = o.headDim;
  if (o.llama3Rope) config.rope_scaling = { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 64, rope_type: 'llama3' };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 128000, eos_token_id: 128001, temperature: 0.6, top_p: 0.9 }));
  writeLlama3Tokenizer(dir);
  return { dir, raw, o: { ...o, headDim: o.headDim } };
}

/** numpy: w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols), written out as loops. */
function permuteRef(v: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
  const half = rows / nHead / 2;
  const out = new Float32Array(v.length);
  let o = 0;
  for (let h = 0; h < nHead; h++) for (let j = 0; j < half; j++) for (let i = 0; i < 2; i++) {
    const src = (h * 2 * half + i * half + j) * cols; // index [h, i, j] of the reshaped input
    out.set(v.subarray(src, src + cols), o); o += cols;
  }
  return out;
}

const dataOf = (path: string, name: string) => {
  const f = readGguf(path, { skipArrays: true });
  const t = f.tensors.find((x) => x.name === name)!;
  const buf = readFileSync(path);
  const start = f.dataOffset + t.offset;
  return { t, bytes: buf.subarray(start, start + (t.type === 0 ? 4 : t.type === 8 ? 34 / 32 : 2) * t.dims.reduce((a, d) => a * d, 1)) };
};
const u16 = (b: Buffer) => Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16LE(i * 2));
const f32s = (b: Buffer) => Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));

test('bf16 checkpoint, two shards, GQA, llama3 rope: metadata, tensor order/types/shapes and bytes are what convert_hf_to_gguf writes', async () => {
  const folder = join(root, 'Tiny-Llama-3-8B-Instruct');
  mkdirSync(folder);
  const m = writeTiny(folder, { shards: 2, llama3Rope: true });
  const out = join(root, 'a.gguf');
  const r = await convertModel({ src: m.dir, out });
  assert.equal(r.type, 'BF16');
  const f = readGguf(out, { skipArrays: true });
  const model = [...f.metadata.values()].filter((k) => !k.key.startsWith('tokenizer.'));
  assert.deepEqual(model.map((k) => [k.key, k.type, k.value]), [
    ['general.architecture', ValueType.STRING, 'llama'],
    ['general.type', ValueType.STRING, 'model'],
    ['general.sampling.top_p', ValueType.FLOAT32, Math.fround(0.9)],
    ['general.sampling.temp', ValueType.FLOAT32, Math.fround(0.6)],
    // metadata.py from the folder name: "8B" is far from 16M parameters, so it is a finetune part ("8b"), and the
    // size label comes from the count.
    ['general.name', ValueType.STRING, 'Tiny Llama 3 8B Instruct'],
    ['general.finetune', ValueType.STRING, '8b-Instruct'],
    ['general.basename', ValueType.STRING, 'Tiny-Llama-3'],
    ['general.size_label', ValueType.STRING, '16M'],
    ['llama.block_count', ValueType.UINT32, 2],
    ['llama.context_length', ValueType.UINT32, 2048],
    ['llama.embedding_length', ValueType.UINT32, 64],
    ['llama.feed_forward_length', ValueType.UINT32, 96],
    ['llama.attention.head_count', ValueType.UINT32, 4],
    ['llama.attention.head_count_kv', ValueType.UINT32, 2],
    ['llama.rope.freq_base', ValueType.FLOAT32, 500000],
    ['llama.attention.layer_norm_rms_epsilon', ValueType.FLOAT32, Math.fround(1e-5)],
    ['general.file_type', ValueType.UINT32, 32],
    ['llama.vocab_size', ValueType.UINT32, 128256],
    ['llama.rope.dimension_count', ValueType.UINT32, 16],
    ['general.quantization_version', ValueType.UINT32, 2],
  ]);
  // rope_freqs first, then the checkpoint's tensors by name (shards sorted, names sorted within each shard).
  const expectOrder = ['rope_freqs.weight'];
  const shardOf = (name: string) => JSON.parse(readFileSync(join(m.dir, 'model.safetensors.index.json'), 'utf8')).weight_map[name] as string;
  const gg = (hf: string) => hf.replace('model.embed_tokens', 'token_embd').replace('model.norm', 'output_norm').replace('lm_head', 'output')
    .replace(/^model\.layers\.(\d+)\./, 'blk.$1.').replace('input_layernorm', 'attn_norm').replace('post_attention_layernorm', 'ffn_norm')
    .replace(/self_attn\.([qkv])_proj/, 'attn_$1').replace('self_attn.o_proj', 'attn_output').replace(/mlp\.(gate|up|down)_proj/, 'ffn_$1');
  for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    expectOrder.push(...[...m.raw.keys()].filter((k) => shardOf(k) === shard && !k.endsWith('inv_freq')).sort().map(gg));
  }
  assert.deepEqual(f.tensors.map((t) => t.name), expectOrder);
  for (const t of f.tensors) {
    const oneD = t.dims.length === 1;
    assert.equal(tensorTypeName(t.type), oneD ? 'F32' : 'BF16', t.name);
  }
  assert.deepEqual(f.tensors.find((t) => t.name === 'blk.0.attn_k.weight')!.dims, [64, 32]);
  assert.deepEqual(f.tensors.find((t) => t.name === 'token_embd.weight')!.dims, [64, 128256]);

  // q and k rows permuted per head (n_head 4 for q, n_head_kv 2 for k); v and the rest as they were, in bf16.
  for (const [hf, gguf, rows, heads] of [['model.layers.1.self_attn.q_proj.weight', 'blk.1.attn_q.weight', 64, 4], ['model.layers.0.self_attn.k_proj.weight', 'blk.0.attn_k.weight', 32, 2]] as const) {
    const want = permuteRef(m.raw.get(hf)!.v, rows, 64, heads);
    assert.deepEqual(u16(dataOf(out, gguf).bytes), Array.from(want, bf16Of), gguf);
  }
  assert.deepEqual(u16(dataOf(out, 'blk.0.attn_v.weight').bytes), Array.from(m.raw.get('model.layers.0.self_attn.v_proj.weight')!.v, bf16Of));
  assert.deepEqual(f32s(dataOf(out, 'blk.1.ffn_norm.weight').bytes), Array.from(m.raw.get('model.layers.1.post_attention_layernorm.weight')!.v));

  // Llama-3.1 rope factors: dim 16, base 500000, factor 8, low 1, high 4, original context 64.
  const want: number[] = [];
  for (let i = 0; i < 8; i++) {
    const freq = 1 / 500000 ** ((2 * i) / 16);
    const wl = (2 * Math.PI) / freq;
    if (wl < 64 / 4) want.push(1);
    else if (wl > 64 / 1) want.push(8);
    else { const s = (64 / wl - 1) / (4 - 1); want.push(1 / ((1 - s) / 8 + s)); }
  }
  const got = f32s(dataOf(out, 'rope_freqs.weight').bytes);
  assert.equal(got.length, 8);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-6 * want[i], `rope_freqs[${i}] ${g} vs ${want[i]}`));
  assert.ok(got.some((g) => g !== 1 && g !== 8), 'some factor is in the smooth band');
});

test('--type f16 and f32 of a bf16 checkpoint: numpy rounding of the same values; tied embeddings and head_dim', async () => {
  const m = writeTiny(fresh('tied'), { tied: true, headDim: 32, heads: 2, kvHeads: 1 });
  const o16 = join(root, 'b16.gguf');
  await convertModel({ src: m.dir, out: o16, type: 'f16' });
  const f = readGguf(o16, { skipArrays: true });
  assert.ok(!f.tensors.some((t) => t.name === 'output.weight'), 'tied: no output.weight');
  const md = Object.fromEntries([...f.metadata.values()].map((k) => [k.key, k.value]));
  assert.equal(md['llama.attention.key_length'], 32);
  assert.equal(md['llama.attention.value_length'], 32);
  assert.equal(md['llama.rope.dimension_count'], 32);
  assert.equal(md['general.file_type'], 1);
  const up = m.raw.get('model.layers.0.mlp.up_proj.weight')!.v;
  assert.deepEqual(u16(dataOf(o16, 'blk.0.ffn_up.weight').bytes), Array.from(up, refF16));
  const q = permuteRef(m.raw.get('model.layers.0.self_attn.q_proj.weight')!.v, 64, 64, 2);
  assert.deepEqual(u16(dataOf(o16, 'blk.0.attn_q.weight').bytes), Array.from(q, refF16));
  const o32 = join(root, 'b32.gguf');
  await convertModel({ src: m.dir, out: o32, type: 'F32' });
  assert.deepEqual(f32s(dataOf(o32, 'blk.0.ffn_up.weight').bytes), Array.from(up));
});

test('bf16 bits of f32 bits as ggml_compute_fp32_to_bf16: nearest even, overflow to inf, NaN made quiet', () => {
  assert.equal(bf16FromF32Bits(0x3f808000), 0x3f80); // a tie, even stays
  assert.equal(bf16FromF32Bits(0x3f818000), 0x3f82); // a tie, odd rounds up
  assert.equal(bf16FromF32Bits(0x3f808001), 0x3f81);
  assert.equal(bf16FromF32Bits(0x7f7fffff), 0x7f80); // the largest float rounds to +inf
  assert.equal(bf16FromF32Bits(0xff7fffff), 0xff80);
  assert.equal(bf16FromF32Bits(0x7f800001), 0x7fc0); // a signalling NaN whose payload is all in the low half stays a NaN
  assert.equal(bf16FromF32Bits(0xffa00000), 0xffe0);
});

test('f32 → bf16 of a whole checkpoint; auto of an f32 checkpoint is f16', async () => {
  const m = writeTiny(fresh('f32'), { dtype: 'F32', layers: 1 });
  const auto = join(root, 'c.gguf');
  assert.equal((await convertModel({ src: m.dir, out: auto })).type, 'F16');
  const out = join(root, 'c16.gguf');
  await convertModel({ src: m.dir, out, type: 'bf16' });
  const v = m.raw.get('model.layers.0.mlp.gate_proj.weight')!.v;
  const ref = (x: number) => { const b = Buffer.alloc(4); b.writeFloatLE(x); const u = b.readUInt32LE(0); const hi = u >>> 16, lo = u & 0xffff; return (lo > 0x8000 || (lo === 0x8000 && hi & 1) ? hi + 1 : hi) & 0xffff; };
  assert.deepEqual(u16(dataOf(out, 'blk.0.ffn_gate.weight').bytes), Array.from(v, ref));
});

test('q8_0: matrices Q8_0 (file type 7), norms F32, and a block is d = amax/127 as f16 with q = round-half-away(x/d)', async () => {
  const m = writeTiny(fresh('q8'), { layers: 1 });
  const out = join(root, 'q8.gguf');
  await convertModel({ src: m.dir, out, type: 'q8_0' });
  const f = readGguf(out, { skipArrays: true });
  assert.equal(f.metadata.get('general.file_type')!.value, 7);
  for (const t of f.tensors) assert.equal(tensorTypeName(t.type), t.dims.length === 1 ? 'F32' : 'Q8_0', t.name);
  const v = m.raw.get('model.layers.0.self_attn.v_proj.weight')!.v;
  const b = dataOf(out, 'blk.0.attn_v.weight').bytes;
  for (const blk of [0, 5]) {
    const x = v.subarray(blk * 32, blk * 32 + 32);
    const amax = Math.max(...Array.from(x, Math.abs));
    const d = Math.fround(amax / 127);
    assert.equal(b.readUInt16LE(blk * 34), refF16(d), `block ${blk} scale`);
    const id = Math.fround(1 / d);
    const q = Array.from(x, (e) => { const p = Math.fround(e * id); return Math.sign(p) * Math.floor(Math.abs(p) + 0.5); });
    assert.deepEqual(Array.from(b.subarray(blk * 34 + 2, blk * 34 + 34), (u) => (u << 24) >> 24), q.map((z) => z + 0), `block ${blk} values`);
  }
});

test('llama.cpp loads the converted model and generates, greedy and repeatable', async () => {
  const m = writeTiny(fresh('run'), { llama3Rope: true });
  const out = join(root, 'run.gguf');
  await convertModel({ src: m.dir, out });
  const e = await loadEngine({ modelPath: out, threads: 1, contextSize: 128 });
  try {
    const prompt = [128000, ...tokenizer.encode('你好，世界', { bos: false, eos: false })];
    const a = await e.generate({ prompt, maxTokens: 8 });
    const b = await e.generate({ prompt, maxTokens: 8 });
    assert.ok(a.tokens.length >= 1);
    assert.deepEqual(a.tokens, b.tokens);
  } finally {
    await e.close();
  }
});

test('a quantize type converts to 16 bits, then llama.cpp quantizes; no temp left', async () => {
  // 256 wide: K-quants take rows of 256; tied, so the 128256-row embedding is quantized once.
  const m = writeTiny(fresh('q4'), { layers: 1, hidden: 256, heads: 4, kvHeads: 2, ff: 256, tied: true });
  const dir = fresh('q4out');
  const out = join(dir, 'q4.gguf');
  const phases = new Set<string>();
  const r = await convertModel({ src: m.dir, out, type: 'Q4_K_M', threads: 2, onProgress: (_d, _t, p) => phases.add(p) });
  assert.equal(r.type, 'Q4_K_M');
  assert.deepEqual([...phases], ['convert', 'quantize']);
  const f = readGguf(out, { skipArrays: true });
  assert.equal(f.metadata.get('general.file_type')!.value, 15);
  assert.deepEqual(readdirSync(dir), ['q4.gguf']);
});

test('a TensorHook changes the HF-layout values before the permutation, and replacements take a tensor\'s place', async () => {
  const m = writeTiny(fresh('hook'), { layers: 1 });
  const out = join(root, 'hook.gguf');
  const seen: Array<[string, number[]]> = [];
  const norm = Float32Array.from({ length: 64 }, (_, i) => i / 64);
  await convertModel({
    src: m.dir, out, type: 'bf16', hook: {
      touches: (n) => n === 'model.layers.0.self_attn.q_proj.weight',
      apply: (n, v, shape) => { seen.push([n, shape]); for (let i = 0; i < v.length; i++) v[i] += i % 7; },
      replacements: new Map([['model.norm.weight', { values: norm, shape: [64] }]]),
    },
  });
  assert.deepEqual(seen, [['model.layers.0.self_attn.q_proj.weight', [64, 64]]]);
  const merged = Float32Array.from(m.raw.get('model.layers.0.self_attn.q_proj.weight')!.v, (x, i) => x + (i % 7));
  const rne = (x: number) => { const b = Buffer.alloc(4); b.writeFloatLE(x); const u = b.readUInt32LE(0); const hi = u >>> 16, lo = u & 0xffff; return (lo > 0x8000 || (lo === 0x8000 && hi & 1) ? hi + 1 : hi) & 0xffff; };
  assert.deepEqual(u16(dataOf(out, 'blk.0.attn_q.weight').bytes), Array.from(permuteRef(merged, 64, 64, 4), rne));
  assert.deepEqual(f32s(dataOf(out, 'output_norm.weight').bytes), Array.from(norm));
});

test('Ctrl-C during a conversion: exit 130, no output and no temp file', async () => {
  // Big enough (two 128256 × 128 matrices) that the conversion is still running when the first progress line comes.
  const m = writeTiny(fresh('sigint'), { layers: 1, hidden: 128, heads: 4, kvHeads: 2, ff: 64, tied: false });
  const dir = fresh('sigintout');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'convert', m.dir, '--out', join(dir, 'o.gguf')], { env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (!stderr) child.kill('SIGINT'); stderr += d; });
  const code = await new Promise((res) => child.on('close', res));
  assert.equal(code, 130, stderr);
  assert.match(stderr.trim().split('\n').pop()!, /interrupted; nothing was written/);
  assert.deepEqual(readdirSync(dir), []);
});

test('an abort mid-conversion leaves no file at all', async () => {
  const m = writeTiny(fresh('abort'), { layers: 1 });
  const dir = fresh('abortout');
  const ac = new AbortController();
  await assert.rejects(convertModel({ src: m.dir, out: join(dir, 'x.gguf'), signal: ac.signal, onProgress: (d) => { if (d > 0) ac.abort(); } }), { name: 'AbortError' });
  assert.deepEqual(readdirSync(dir), []);
});

test('every bad input: one line, a non-zero exit, nothing written', async () => {
  const cases: Array<[string, (d: string) => void, RegExp, string[]?]> = [
    ['no config', (d) => rmSync(join(d, 'config.json')), /has no config\.json/],
    ['no weights', (d) => rmSync(join(d, 'model.safetensors')), /has no model\.safetensors and no model\.safetensors\.index\.json/],
    ['architecture', (d) => { const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')); c.architectures = ['Qwen2ForCausalLM']; writeFileSync(join(d, 'config.json'), JSON.stringify(c)); },
      /is a Qwen2ForCausalLM model; llama3-zh converts LlamaForCausalLM and MistralForCausalLM/],
    ['truncated', (d) => { const p = join(d, 'model.safetensors'); const b = readFileSync(p); writeFileSync(p, b.subarray(0, b.length - 100)); }, /truncated/],
    ['lying header', (d) => { const p = join(d, 'model.safetensors'); const b = readFileSync(p); b.writeBigUInt64LE(1n << 40n, 0); writeFileSync(p, b); }, /header claims 1099511627776 bytes, over the 100000000/],
    ['unknown dtype', (d) => { const p = join(d, 'model.safetensors'); const b = readFileSync(p); const s = b.toString('latin1').replace('"BF16"', '"BF99"'); writeFileSync(p, Buffer.from(s, 'latin1')); }, /has dtype "BF99"/],
    ['tokenizer', (d) => writeFileSync(join(d, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } })), /the tokenizer model is "Unigram", not BPE; llama3-zh converts Llama-3 \(byte-level BPE\) tokenizers/],
    ['unknown tensor', (d) => { const p = join(d, 'model.safetensors'); const b = readFileSync(p); const s = b.toString('latin1').replace('"model.norm.weight"', '"model.nrm1.weight"'); writeFileSync(p, Buffer.from(s, 'latin1')); }, /a tensor a Llama model does not: "model\.nrm1\.weight"/],
  ];
  for (const [what, damage, pattern] of cases) {
    const m = tinyCopy(what.replace(/ /g, '_'), { layers: 1 });
    damage(m.dir);
    const dir = fresh('bad');
    // The first case through the command (one line on stderr, exit 1); the rest in this process, as the UserError the
    // command prints as that line and exits with (a CLI start per case cost the suite half a minute).
    if (what === cases[0][0]) {
      const r = await runCli(['convert', m.dir, '--out', join(dir, 'o.gguf')]);
      assertOneLineError(r, pattern);
      assert.equal(r.code, 1, what);
    } else {
      await assert.rejects(convertModel({ src: m.dir, out: join(dir, 'o.gguf') }), (e: Error & { exitCode?: number }) => {
        assert.equal(e.name, 'UserError', `${what}: ${e.stack}`);
        assert.equal(e.exitCode, 1, what);
        assert.ok(!e.message.includes('\n'), `${what}: one line`);
        assert.match(e.message, pattern, what);
        return true;
      });
    }
    assert.deepEqual(readdirSync(dir), [], `${what}: nothing written`);
  }
  // Shards: a missing one, and an index that disagrees with them.
  const s = tinyCopy('shards', { layers: 1, shards: 2 });
  rmSync(join(s.dir, 'model-00002-of-00002.safetensors'));
  const t = tinyCopy('index', { layers: 1, shards: 2 });
  const ip = join(t.dir, 'model.safetensors.index.json');
  const idx = JSON.parse(readFileSync(ip, 'utf8'));
  idx.weight_map['model.norm.weight'] = idx.weight_map['model.norm.weight'].includes('00001') ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
  writeFileSync(ip, JSON.stringify(idx));
  // The output: an existing file without --force; one of the inputs.
  const ok = tinyCopy('ok', { layers: 1 });
  const existing = join(root, 'exists.gguf');
  writeFileSync(existing, 'keep');
  // Six refused commands, each in its own process and home, none of which may write anything: run side by side
  // (a CLI start is most of each one's time), checked one by one below.
  const never = join(root, 'never.gguf');
  const [missing, disagree, ex, self, bt, full] = await Promise.all([
    runCli(['convert', s.dir, '--out', never]),
    runCli(['convert', t.dir, '--out', never]),
    runCli(['convert', ok.dir, '--out', existing]),
    runCli(['convert', ok.dir, '--out', join(ok.dir, 'config.json'), '--force']),
    runCli(['convert', ok.dir, '--out', never, '--type', 'q3']),
    runCli(['convert', ok.dir, '--out', never, '--type', 'q4_k_m'], { env: { LLAMA3ZH_TEST_FREE_BYTES: '1000000' } }),
  ]);
  assertOneLineError(missing, /model-00002-of-00002\.safetensors is missing: model\.safetensors\.index\.json lists it/);
  assertOneLineError(disagree, /the index and the shards disagree/);
  assert.ok(!existsSync(never));
  assertOneLineError(ex, /exists; pass --force to replace it/);
  assert.equal(readFileSync(existing, 'utf8'), 'keep');
  assertOneLineError(self, /is .*config\.json, one of the model's own files/);
  assert.equal(self.code, 2);
  assertOneLineError(bt, /unknown type 'q3'; the types are: auto, f32, f16, bf16, q8_0, q6_k/);
  assert.equal(bt.code, 2);
  assertOneLineError(full, /not enough disk space: converting .* to Q4_K_M needs about [\d.]+ MiB \(a BF16 GGUF first, then the Q4_K_M one\) and .* has 976\.6 KiB free$/);
  assert.deepEqual(readdirSync(root).filter((x) => x.endsWith('.tmp') || x === 'never.gguf'), []);
});

test('the CLI converts with a progress line and says what it wrote', async () => {
  const m = writeTiny(fresh('cli'), { layers: 1 });
  const out = join(root, 'cli.gguf');
  const r = await runCli(['convert', m.dir, '--out', out, '--type', 'f16']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*cli\.gguf: F16, [\d.]+ MiB\n$/);
  assert.match(r.stderr, /converting \[#+\] 100%/);
});

test('general.* names as metadata.py derives them (the values llama.cpp-made GGUFs on the Hub carry)', () => {
  const names = (...a: Parameters<typeof modelNames>) => JSON.parse(JSON.stringify(modelNames(...a)));
  assert.deepEqual(names('Meta-Llama-3-8B-Instruct', undefined, 8030261248),
    { name: 'Meta Llama 3 8B Instruct', basename: 'Meta-Llama-3', finetune: 'Instruct', sizeLabel: '8B' });
  assert.deepEqual(names('whatever', 'meta-llama/Llama-3.2-1B-Instruct', 1235814400),
    { name: 'Llama 3.2 1B Instruct', organization: 'Meta Llama', basename: 'Llama-3.2', finetune: 'Instruct', sizeLabel: '1B' });
  // A path in _name_or_path (more than one "/") is ignored; the folder name is used.
  assert.equal(modelNames('shenzhi-llama3-8b-chat', '/root/autodl-tmp/out/x', 8030261248).name, 'Shenzhi Llama3 8b Chat');
  assert.equal(modelNames('m', undefined, 8030261248, 'My Model').name, 'My Model');
});

test('f16, bf16 and Q8_0 encodings are byte for byte gguf-py\'s on golden values (test/fixtures/convert)', () => {
  const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'convert', f));
  const raw = fx('vals.bin');
  const v = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  assert.ok(Buffer.from(encodeFromF32(v, 'F16')).equals(fx('ref_f16.bin')), 'f16');
  assert.ok(Buffer.from(encodeFromF32(v, 'BF16')).equals(fx('ref_bf16.bin')), 'bf16');
  const w = v.map((x) => (Number.isFinite(x) ? x : 0));
  assert.ok(Buffer.from(encodeFromF32(w, 'Q8_0')).equals(fx('ref_q8.bin')), 'q8_0');
  // The 16-bit tables give what widening to f32 and encoding gives (convert_hf_to_gguf widens bf16 first).
  const bf = encodeFromF32(v, 'BF16');
  const wide = new Float32Array(new Uint32Array(Array.from(new Uint16Array(bf.buffer, bf.byteOffset, bf.length / 2), (h) => h << 16)).buffer);
  assert.ok(Buffer.from(convertBytes(bf, 'BF16', 'F16')).equals(Buffer.from(encodeFromF32(wide, 'F16'))), 'bf16 → f16 table');
  assert.ok(Buffer.from(convertBytes(bf, 'BF16', 'BF16')).equals(Buffer.from(encodeFromF32(wide, 'BF16'))), 'bf16 → bf16');
});
