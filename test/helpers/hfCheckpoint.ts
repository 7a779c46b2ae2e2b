/**
 * A tiny but real Hugging Face Llama folder, as `LlamaForCausalLM.save_pretrained` writes it: config.json and
 * generation_config.json (transformers' json: sorted keys, indent 2, Python float spelling), the weights as
 * safetensors (one model.safetensors, or model-0000i-of-0000N.safetensors + model.safetensors.index.json), and
 * the real Llama-3 tokenizer. The safetensors writer here is our own, independent of src/convert, so a test
 * that reads these files with the converter checks the converter against the format, not against itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, toF16 } from '../../src/gguf/numbers.js';
import { writeLlama3Tokenizer } from './hfTokenizer.js';

export const VOCAB = 128256;
export const BOS = 128000;
export const END_OF_TEXT = 128001;
export const INSTRUCT_EOS = [128001, 128008, 128009];

export type HfDtype = 'bf16' | 'f16' | 'f32';

export interface TinyLlamaOptions {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  /** Written as config.json head_dim; default hidden / heads. */
  headDim?: number;
  ff: number;
  dtype: HfDtype;
  /** More than 1: sharded, with an index. */
  shards?: number;
  /** No lm_head.weight; tie_word_embeddings true (Llama-3.2 1B/3B). */
  tied?: boolean;
  /** 'llama3': Llama-3.1's rope_scaling (factor 8, low 1, high 4) with original_max_position_embeddings `originalCtx`. */
  ropeScaling?: 'llama3' | null;
  /** rope_scaling.original_max_position_embeddings; Llama-3.1's is 8192. */
  originalCtx?: number;
  ropeTheta?: number;
  /** max_position_embeddings */
  ctx?: number;
  rmsEps?: number;
  seed: number;
  instruct?: boolean;
}

export interface TinyLlama {
  dir: string;
  config: Record<string, unknown>;
  /** Every tensor's HF name, in module order. */
  names: string[];
  /** The safetensors files written, in shard order. */
  files: string[];
}

const ST_DTYPE: Record<HfDtype, string> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };
const WIDTH: Record<HfDtype, number> = { bf16: 2, f16: 2, f32: 4 };

/** Python json.dumps of a float: repr() spelling (8.0, 1e-05, 500000.0). Integers stay integers. */
export class PyFloat {
  constructor(readonly v: number) {}
  toString(): string {
    const [mant, expS] = this.v.toExponential().split('e');
    const exp = Number(expS);
    if (exp < -4 || exp >= 16) {
      const e = Math.abs(exp) < 10 ? `${exp < 0 ? '-' : '+'}0${Math.abs(exp)}` : `${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
      return `${mant}e${e}`;
    }
    const s = String(this.v);
    return /[.e]/.test(s) ? s : `${s}.0`;
  }
}

/** json.dumps(obj, indent=2, sort_keys=True) + "\n", as transformers' to_json_string writes config files. */
export function pyJson(v: unknown, indent = ''): string {
  const inner = indent + '  ';
  if (v instanceof PyFloat) return v.toString();
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + pyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${pyJson((v as Record<string, unknown>)[k], inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

/** A plain-number view of a config written with PyFloat values. */
function plain(v: unknown): unknown {
  if (v instanceof PyFloat) return v.v;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** f32 → bf16 bits, round to nearest even, as torch's `.to(torch.bfloat16)` does. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function toBf16(v: number): number {
  f32[0] = v;
  const n = u32[0];
  return ((n + 0x7fff + ((n >>> 16) & 1)) >>> 16) & 0xffff;
}

function encode(values: Float32Array, dtype: HfDtype): Buffer {
  if (dtype === 'f32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength); // little-endian hosts
  const bits = new Uint16Array(values.length);
  const round = dtype === 'f16' ? toF16 : toBf16;
  for (let i = 0; i < values.length; i++) bits[i] = round(values[i]);
  return Buffer.from(bits.buffer);
}

interface Tensor { name: string; shape: number[]; data: Buffer }

/**
 * One .safetensors file the way the `safetensors` library writes it: u64 LE header length, the JSON header
 * (padded with spaces to a multiple of 8), then the tensors back to back, sorted by name (all of one dtype).
 */
export function safetensorsBytes(tensors: Tensor[], dtype: string, metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const t of sorted) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [at, at + t.data.length] };
    at += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...sorted.map((t) => t.data)]);
}

/** N(0, 1) by Box-Muller over the project's seeded xorshift. */
function gaussian(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) { const s = spare; spare = undefined; return s; }
    const u = (rng.nextU32() + 1) / 0x100000001;
    const v = rng.nextU32() / 0x100000000;
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** HF tensor names and shapes of a Llama checkpoint, in transformers' module order. */
export function llamaTensorShapes(o: TinyLlamaOptions): Array<{ name: string; shape: number[] }> {
  const hd = o.headDim ?? o.hidden / o.heads;
  const out: Array<{ name: string; shape: number[] }> = [{ name: 'model.embed_tokens.weight', shape: [VOCAB, o.hidden] }];
  for (let l = 0; l < o.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [o.heads * hd, o.hidden] },
      { name: `${p}self_attn.k_proj.weight`, shape: [o.kvHeads * hd, o.hidden] },
      { name: `${p}self_attn.v_proj.weight`, shape: [o.kvHeads * hd, o.hidden] },
      { name: `${p}self_attn.o_proj.weight`, shape: [o.hidden, o.heads * hd] },
      { name: `${p}mlp.gate_proj.weight`, shape: [o.ff, o.hidden] },
      { name: `${p}mlp.up_proj.weight`, shape: [o.ff, o.hidden] },
      { name: `${p}mlp.down_proj.weight`, shape: [o.hidden, o.ff] },
      { name: `${p}input_layernorm.weight`, shape: [o.hidden] },
      { name: `${p}post_attention_layernorm.weight`, shape: [o.hidden] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [o.hidden] });
  if (!o.tied) out.push({ name: 'lm_head.weight', shape: [VOCAB, o.hidden] });
  return out;
}

/**
 * Standard deviation of each weight. Projections get 1/sqrt(fan_in) (each sublayer adds an O(1) update to the
 * residual stream, so attention and the MLP really move the prediction away from "repeat the input token");
 * embeddings and lm_head are sized so logits have a spread of about 3 nats (a peaked but not one-hot
 * distribution: top-token log-probabilities are informative and greedy choices have margins).
 */
function scale(name: string, shape: number[], o: TinyLlamaOptions): number {
  if (name.endsWith('embed_tokens.weight')) return o.tied ? 3 / Math.sqrt(o.hidden) : 1;
  if (name === 'lm_head.weight') return 3 / Math.sqrt(o.hidden);
  // The layers' outputs into the residual stream get twice that: with tied embeddings the input token's own
  // embedding must not dominate the final hidden state, or greedy decoding just repeats the last token.
  if (/(o_proj|down_proj)\.weight$/.test(name)) return 2 / Math.sqrt(shape[1]);
  return 1 / Math.sqrt(shape[1]);
}

function config(o: TinyLlamaOptions): Record<string, unknown> {
  const hd = o.headDim ?? o.hidden / o.heads;
  const c: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: new PyFloat(0),
    bos_token_id: BOS,
    eos_token_id: o.instruct ? INSTRUCT_EOS : END_OF_TEXT,
    head_dim: hd,
    hidden_act: 'silu',
    hidden_size: o.hidden,
    initializer_range: new PyFloat(0.02),
    intermediate_size: o.ff,
    max_position_embeddings: o.ctx ?? (o.ropeScaling === 'llama3' ? 131072 : 8192),
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: o.heads,
    num_hidden_layers: o.layers,
    num_key_value_heads: o.kvHeads,
    pretraining_tp: 1,
    rms_norm_eps: new PyFloat(o.rmsEps ?? 1e-5),
    rope_scaling: o.ropeScaling === 'llama3'
      ? {
        factor: new PyFloat(8), high_freq_factor: new PyFloat(4), low_freq_factor: new PyFloat(1),
        original_max_position_embeddings: o.originalCtx ?? 8192, rope_type: 'llama3',
      }
      : null,
    rope_theta: new PyFloat(o.ropeTheta ?? 500000),
    tie_word_embeddings: !!o.tied,
    torch_dtype: { bf16: 'bfloat16', f16: 'float16', f32: 'float32' }[o.dtype],
    transformers_version: '4.43.0.dev0',
    use_cache: true,
    vocab_size: VOCAB,
  };
  return c;
}

export function writeTinyLlama(dir: string, o: TinyLlamaOptions): TinyLlama {
  mkdirSync(dir, { recursive: true });
  const cfg = config(o);
  writeFileSync(join(dir, 'config.json'), pyJson(cfg) + '\n');
  const gen: Record<string, unknown> = { bos_token_id: BOS, eos_token_id: o.instruct ? INSTRUCT_EOS : END_OF_TEXT, transformers_version: '4.43.0.dev0' };
  if (o.instruct) Object.assign(gen, { do_sample: true, temperature: new PyFloat(0.6), top_p: new PyFloat(0.9) });
  writeFileSync(join(dir, 'generation_config.json'), pyJson(gen) + '\n');

  const rng = new Rng(o.seed);
  const randn = gaussian(rng);
  const tensors: Tensor[] = llamaTensorShapes(o).map(({ name, shape }) => {
    const n = shape.reduce((a, d) => a * d, 1);
    const v = new Float32Array(n);
    if (shape.length === 1) for (let i = 0; i < n; i++) v[i] = 1 + 0.1 * randn(); // norms near 1
    else { const s = scale(name, shape, o); for (let i = 0; i < n; i++) v[i] = s * randn(); }
    return { name, shape, data: encode(v, o.dtype) };
  });

  const shards = o.shards ?? 1;
  const files: string[] = [];
  if (shards <= 1) {
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(tensors, ST_DTYPE[o.dtype]));
    files.push('model.safetensors');
  } else {
    // transformers fills shards in module order up to max_shard_size; here: N groups of about equal bytes.
    const total = tensors.reduce((a, t) => a + t.data.length, 0);
    const groups: Tensor[][] = Array.from({ length: shards }, () => []);
    let at = 0;
    for (const t of tensors) {
      groups[Math.min(shards - 1, Math.floor((at * shards) / total))].push(t);
      at += t.data.length;
    }
    const weightMap: Record<string, string> = {};
    groups.forEach((g, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      if (g.length === 0) throw new Error(`shard ${name} would be empty: fewer tensors than shards`);
      writeFileSync(join(dir, name), safetensorsBytes(g, ST_DTYPE[o.dtype]));
      files.push(name);
      for (const t of g) weightMap[t.name] = name;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), pyJson({ metadata: { total_size: total }, weight_map: weightMap }) + '\n');
  }
  writeLlama3Tokenizer(dir, { instruct: o.instruct });
  return { dir, config: plain(cfg) as Record<string, unknown>, names: tensors.map((t) => t.name), files };
}
