/**
 * Which GGUF tensor each Hugging Face tensor becomes, as convert_hf_to_gguf.py decides it for the llama
 * architecture: the name (gguf-py tensor_mapping.py), the q/k row permutation (LlamaModel.permute), the output type
 * (ModelBase.prepare_tensors) and Llama-3.1's generated rope_freqs.weight (LlamaModel.generate_extra_tensors).
 */
import { UserError } from '../errors.js';
import type { CheckpointTensor } from './checkpoint.js';
import type { OutType, SrcDtype } from './dtypes.js';
import type { LlamaShape } from './hfModel.js';

const LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};
const TOP: Record<string, string> = { 'model.embed_tokens': 'token_embd', 'model.norm': 'output_norm', lm_head: 'output' };

/** The GGUF name of an HF tensor; null for one llama.cpp skips; undefined for one it cannot map. */
export function ggufName(hf: string, nLayer: number): string | null | undefined {
  // base.py prepare_tensors: "we don't need these".
  if (hf.endsWith('.rotary_emb.inv_freq') || hf.endsWith('.attention.masked_bias') || hf.endsWith('.attention.bias')) return null;
  const suffix = hf.endsWith('.weight') ? '.weight' : hf.endsWith('.bias') ? '.bias' : undefined;
  if (!suffix) return undefined;
  const stem = hf.slice(0, -suffix.length);
  if (TOP[stem]) return TOP[stem] + suffix;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(stem);
  if (!m || !LAYER[m[2]] || Number(m[1]) >= nLayer || String(Number(m[1])) !== m[1]) return undefined;
  return `blk.${m[1]}.${LAYER[m[2]]}${suffix}`;
}

/** Heads for the q/k permutation (LlamaModel.permute: n_head for q, n_head_kv for k); 0 when the rows stay. */
export function permuteHeads(hf: string, s: LlamaShape): number {
  if (/\.q_proj\.(weight|bias)$/.test(hf)) return s.nHead;
  if (/\.k_proj\.(weight|bias)$/.test(hf)) return s.nHeadKv;
  return 0;
}

/**
 * Output row r of a permuted tensor takes input row permuteRow(r): `w.reshape(n_head, 2, rows/n_head/2, cols)
 * .swapaxes(1, 2).reshape(rows, cols)` puts input row h·d + i·(d/2) + j at output row h·d + 2j + i (d = rows/n_head),
 * turning HF's rotate_half halves into llama.cpp's interleaved pairs.
 */
export function permuteRow(r: number, rows: number, heads: number): number {
  const d = rows / heads;
  const half = d / 2;
  const h = Math.floor(r / d);
  const k = r - h * d;
  return h * d + (k & 1) * half + (k >> 1);
}

/** The shape [rows, cols] (HF order) each tensor must have for this config. */
function expectedShape(gguf: string, s: LlamaShape): number[] | undefined {
  const base = gguf.replace(/^blk\.\d+\./, '');
  const q = s.nHead * s.headDim;
  const kv = s.nHeadKv * s.headDim;
  const w: Record<string, number[]> = {
    'token_embd.weight': [s.vocabSize, s.nEmbd], 'output.weight': [s.vocabSize, s.nEmbd], 'output_norm.weight': [s.nEmbd],
    'attn_norm.weight': [s.nEmbd], 'ffn_norm.weight': [s.nEmbd],
    'attn_q.weight': [q, s.nEmbd], 'attn_k.weight': [kv, s.nEmbd], 'attn_v.weight': [kv, s.nEmbd], 'attn_output.weight': [s.nEmbd, q],
    'attn_q.bias': [q], 'attn_k.bias': [kv], 'attn_v.bias': [kv], 'attn_output.bias': [s.nEmbd],
    'ffn_gate.weight': [s.nFf, s.nEmbd], 'ffn_up.weight': [s.nFf, s.nEmbd], 'ffn_down.weight': [s.nEmbd, s.nFf],
    'ffn_gate.bias': [s.nFf], 'ffn_up.bias': [s.nFf], 'ffn_down.bias': [s.nEmbd],
  };
  return w[base];
}

export interface TensorPlan {
  hf: string;
  gguf: string;
  /** HF order, [rows, cols] or [n]. */
  shape: number[];
  src: SrcDtype;
  out: OutType;
  /** Heads of the q/k row permutation, 0 for none. */
  heads: number;
  /** The checkpoint tensor (absent for generated rope_freqs). */
  tensor?: CheckpointTensor;
}

const SRC_DTYPES = new Set(['F32', 'F16', 'BF16']);

/**
 * The type prepare_tensors gives a tensor in a file of type `fileOut`: 1-D tensors, `*_norm.weight` and anything
 * not named `.weight` (biases) stay F32; the rest take the file's type; Q8_0 of a row that is not a whole number
 * of 32-blocks fails in quants.py and falls back to F16.
 */
export function tensorOutType(gguf: string, shape: number[], fileOut: OutType): OutType {
  if (shape.length <= 1 || gguf.endsWith('_norm.weight') || !gguf.endsWith('.weight')) return 'F32';
  if (fileOut === 'Q8_0' && shape[shape.length - 1] % 32) return 'F16';
  return fileOut;
}

/**
 * Every tensor to write, in convert_hf_to_gguf's order (rope_freqs first, then the checkpoint's in its reading
 * order), checked against the config. `order` is hfModel.tensorOrder(checkpoint).
 */
export function planTensors(s: LlamaShape, tensors: Map<string, CheckpointTensor>, order: string[], fileOut: OutType): TensorPlan[] {
  const plans: TensorPlan[] = [];
  if (s.ropeScaling?.type.toLowerCase() === 'llama3') {
    plans.push({ hf: '', gguf: 'rope_freqs.weight', shape: [s.headDim / 2], src: 'F32', out: 'F32', heads: 0 });
  }
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const hf of order) {
    const t = tensors.get(hf)!;
    const gguf = ggufName(hf, s.nLayer);
    if (gguf === null) continue;
    if (gguf === undefined) { unknown.push(hf); continue; }
    if (!SRC_DTYPES.has(t.dtype)) throw new UserError(`tensor "${hf}" is ${t.dtype}; convert reads F32, F16 and BF16 checkpoints (a quantized or FP8 checkpoint needs its original weights)`);
    const want = expectedShape(gguf, s);
    if (want && JSON.stringify(want) !== JSON.stringify(t.shape)) {
      throw new UserError(`tensor "${hf}" is ${JSON.stringify(t.shape)} but config.json implies ${JSON.stringify(want)}; the config and the weights disagree`);
    }
    const heads = permuteHeads(hf, s);
    plans.push({ hf, gguf, shape: t.shape, src: t.dtype as SrcDtype, out: tensorOutType(gguf, t.shape, fileOut), heads, tensor: t });
    seen.add(gguf);
  }
  // A layer past num_hidden_layers is a config that disagrees with its weights, not a foreign model.
  const extra = unknown.map((n) => /^model\.layers\.(\d+)\./.exec(n)).find((m) => m && ggufName(m.input, Number(m[1]) + 1));
  if (extra) {
    throw new UserError(`config.json has num_hidden_layers ${s.nLayer} but the checkpoint has layer ${extra[1]} ("${extra.input}"); the config and the weights disagree`);
  }
  if (unknown.length) {
    const list = unknown.slice(0, 3).map((n) => `"${n}"`).join(', ') + (unknown.length > 3 ? ` and ${unknown.length - 3} more` : '');
    throw new UserError(`the checkpoint has ${unknown.length === 1 ? 'a tensor' : 'tensors'} a Llama model does not: ${list}; is it a ${s.hfArch} at all?`);
  }
  const need = ['token_embd.weight', 'output_norm.weight'];
  for (let i = 0; i < s.nLayer; i++) {
    for (const n of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) need.push(`blk.${i}.${n}.weight`);
  }
  const missing = need.filter((n) => !seen.has(n));
  if (missing.length) throw new UserError(`the checkpoint lacks ${missing.length} tensor${missing.length > 1 ? 's' : ''} a ${s.nLayer}-layer Llama needs (GGUF name ${missing[0]}); download the whole model again`);
  return plans;
}

/**
 * Llama-3.1's rope_freqs (LlamaModel.generate_extra_tensors), in torch float32 arithmetic as it computes them:
 * freq = 1 / base^(2i/dim); wavelen = 2π/freq; 1 above high_freq_wavelen, factor below low_freq_wavelen, between them
 * 1 / ((1 - smooth)/factor + smooth) with smooth = (old_ctx/wavelen - low)/(high - low).
 */
export function ropeFreqs(s: LlamaShape): Float32Array {
  const fr = Math.fround;
  const rs = s.ropeScaling!;
  const base = s.ropeTheta ?? 10000;
  const dim = s.headDim;
  const factor = rs.factor ?? 8;
  const low = rs.lowFreqFactor ?? 1;
  const high = rs.highFreqFactor ?? 4;
  const old = rs.originalContext ?? 8192;
  const lowWavelen = old / low;
  const highWavelen = old / high;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = fr(1 / fr(Math.pow(fr(base), fr(fr(2 * i) / dim))));
    const wavelen = fr(fr(2 * Math.PI) / freq);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = fr(fr(fr(old / wavelen) - low) / (high - low));
      out[i] = fr(1 / fr(fr(fr(1 - smooth) / factor) + smooth));
    }
  }
  return out;
}
