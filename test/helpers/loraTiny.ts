/**
 * For the adapter tests, written here from Hugging Face's conventions and nothing in src/convert: random tensors,
 * a safetensors writer (adapters in F32 or BF16; reference checkpoints in F32), a base GGUF laid out the way
 * convert_hf_to_gguf writes one (tensor names, q/k row permutation, f32 norms), and W + s·B·A computed plainly
 * for the reference checkpoints that test/helpers/hfForward.ts (an independent forward pass) runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import tokenizer from 'llama3-tokenizer-js';
import { join } from 'node:path';
import { llama3TokenizerKVs, TOKEN, VOCAB_SIZE } from '../../src/gguf/llama3Vocab.js';
import { encodeF32, type Rng } from '../../src/gguf/numbers.js';
import { kv, type TensorSpec, writeGguf } from '../../src/gguf/writer.js';

export interface Dense { shape: number[]; values: Float32Array }

export interface TinyConfig { layers: number; hidden: number; heads: number; kvHeads: number; ff: number; vocab: number; ropeTheta: number; eps: number }

export interface Tiny { config: TinyConfig; tensors: Map<string, Dense> }

export const TINY: TinyConfig = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128, vocab: VOCAB_SIZE, ropeTheta: 500000, eps: 1e-5 };

export function randomDense(rng: Rng, shape: number[], a: number, center = 0): Dense {
  const n = shape.reduce((x, d) => x * d, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = center + rng.uniform(a);
  return { shape, values };
}

// One shared f32 cell and its bits, not two typed arrays per value: adapters here carry 4M-value tensors.
const cellF32 = new Float32Array(1);
const cellU32 = new Uint32Array(cellF32.buffer);

/** bf16 bits of an f32, round to nearest even (as torch does). */
function bf16(v: number): number {
  cellF32[0] = v;
  const u = cellU32[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The f32 whose high half is these bf16 bits. */
function fromBf16(h: number): number {
  cellU32[0] = h << 16;
  return cellF32[0];
}

/** A safetensors file from the format's description: u64 header length, JSON header, tensor bytes back to back. */
export function writeSafetensors(path: string, tensors: Array<{ name: string; dtype: 'F32' | 'BF16'; dense: Dense }>, metadata = { format: 'pt' }) {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const datas: Buffer[] = [];
  let at = 0;
  for (const t of tensors) {
    let data: Buffer;
    if (t.dtype === 'F32') data = Buffer.from(t.dense.values.buffer, t.dense.values.byteOffset, t.dense.values.byteLength);
    else data = Buffer.from(Uint16Array.from(t.dense.values, bf16).buffer);
    header[t.name] = { dtype: t.dtype, shape: t.dense.shape, data_offsets: [at, at + data.length] };
    at += data.length;
    datas.push(data);
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, ...datas]));
}

/** Round f32 values through bf16 (what a BF16 adapter file holds). */
export function roundBf16(d: Dense): Dense {
  const v = Float32Array.from(d.values, (x) => fromBf16(bf16(x)));
  return { shape: d.shape, values: v };
}

export function writeHfFolder(dir: string, m: Tiny) {
  mkdirSync(dir, { recursive: true });
  const c = m.config;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: c.hidden, intermediate_size: c.ff,
    num_hidden_layers: c.layers, num_attention_heads: c.heads, num_key_value_heads: c.kvHeads, vocab_size: c.vocab,
    rms_norm_eps: c.eps, rope_theta: c.ropeTheta, max_position_embeddings: 8192, tie_word_embeddings: false, torch_dtype: 'float32',
    bos_token_id: TOKEN.BOS, eos_token_id: TOKEN.END_OF_TEXT,
  }, null, 2));
  // A minimal Llama-3 tokenizer (the real 128000 BPE tokens + 256 specials) for the converter; helper "tok"'s
  // writeLlama3Tokenizer replaces this when it lands.
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 128000; i++) vocab[tokenizer.vocabById[i]] = i;
  const added = Array.from({ length: 256 }, (_, i) => ({ id: 128000 + i, content: tokenizer.vocabById[128000 + i], special: true }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', added_tokens: added, model: { type: 'BPE', vocab, merges: [] } }));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>' }));
  writeSafetensors(join(dir, 'model.safetensors'), [...m.tensors].map(([name, dense]) => ({ name, dtype: 'F32' as const, dense })));
}

/** HF's rotate_half layout → llama.cpp's interleaved pairs: GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i. */
function ggufRows(d: Dense, nHead: number): Float32Array {
  const [rows, cols] = d.shape;
  const hd = rows / nHead;
  const out = new Float32Array(d.values.length);
  for (let r = 0; r < rows; r++) {
    const h = Math.floor(r / hd), k = r % hd, i = k >> 1, j = k & 1;
    const src = h * hd + j * (hd / 2) + i;
    out.set(d.values.subarray(src * cols, src * cols + cols), r * cols);
  }
  return out;
}

const NAMES: Array<[RegExp, string]> = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'], [/^model\.norm\.weight$/, 'output_norm.weight'], [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'], [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'], [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'], [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'], [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
];
export function ggufName(hf: string): string {
  for (const [re, to] of NAMES) if (re.test(hf)) return hf.replace(re, to);
  throw new Error(`no GGUF name for ${hf}`);
}

/** The hook of the convert contract, as the converter drives it: decode to f32, apply, then permute and encode. */
export interface Hook {
  touches(hfName: string): boolean;
  apply(hfName: string, values: Float32Array, shape: number[]): void;
  replacements?: Map<string, { values: Float32Array; shape: number[] }>;
}

/** An all-f32 GGUF of the checkpoint; with `hook`, merged as the converter merges (until core's convertModel lands). */
export async function writeBaseGguf(path: string, m: Tiny, hook?: Hook) {
  const c = m.config;
  const tensors: TensorSpec[] = [];
  for (const [name, d0] of m.tensors) {
    let d: Dense = { shape: d0.shape, values: Float32Array.from(d0.values) };
    const rep = hook?.replacements?.get(name);
    if (rep) d = { shape: rep.shape, values: rep.values };
    else if (hook?.touches(name)) hook.apply(name, d.values, d.shape);
    const isQ = name.endsWith('q_proj.weight'), isK = name.endsWith('k_proj.weight');
    const values = isQ ? ggufRows(d, c.heads) : isK ? ggufRows(d, c.kvHeads) : d.values;
    tensors.push({ name: ggufName(name), dims: [...d.shape].reverse(), type: 0, data: encodeF32(values) });
  }
  await writeGguf(path, [
    kv.str('general.architecture', 'llama'), kv.str('general.type', 'model'), kv.str('general.name', 'tiny'), kv.u32('general.file_type', 0),
    kv.u32('llama.context_length', 8192), kv.u32('llama.embedding_length', c.hidden), kv.u32('llama.block_count', c.layers),
    kv.u32('llama.feed_forward_length', c.ff), kv.u32('llama.attention.head_count', c.heads), kv.u32('llama.attention.head_count_kv', c.kvHeads),
    kv.u32('llama.rope.dimension_count', c.hidden / c.heads), kv.f32('llama.rope.freq_base', c.ropeTheta),
    kv.f32('llama.attention.layer_norm_rms_epsilon', c.eps), kv.u32('llama.vocab_size', c.vocab),
    ...llama3TokenizerKVs(), kv.u32('tokenizer.ggml.eos_token_id', TOKEN.END_OF_TEXT), kv.bool('tokenizer.ggml.add_bos_token', true),
  ], tensors);
}

/** The checkpoint with each LoRA delta added (W + s·B·A, written out plainly) and whole tensors replaced. */
export function withDeltas(m: Tiny, loras: Array<{ target: string; a: Dense; b: Dense; scale: number }>, full: Map<string, Dense> = new Map()): Tiny {
  const t = new Map<string, Dense>();
  for (const [name, d] of m.tensors) t.set(name, full.get(name) ?? { shape: d.shape, values: Float32Array.from(d.values) });
  for (const l of loras) {
    const w = t.get(l.target)!;
    const [rows, cols] = w.shape, r = l.a.shape[0];
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += l.b.values[i * r + k] * l.a.values[k * cols + j];
        w.values[i * cols + j] += l.scale * s;
      }
    }
  }
  return { config: m.config, tensors: t };
}
