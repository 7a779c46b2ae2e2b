/**
 * An independent forward pass of a Hugging Face Llama folder, written from transformers' modeling_llama.py and
 * modeling_rope_utils.py, reading the folder itself (its own small safetensors reader; nothing from src/convert).
 * It is the reference a converted GGUF is checked against, so it follows HF's conventions and not llama.cpp's:
 * - LlamaRMSNorm: x * rsqrt(mean(x²) + eps), then * weight;
 * - RoPE on the UNpermuted q/k rows with rotate_half (dimension j pairs with j + head_dim/2), inv_freq =
 *   1/theta^(2i/d), and rope_type "llama3" frequencies exactly as _compute_llama3_parameters computes them;
 * - GQA by repeat_kv (query head h reads kv head floor(h / (heads / kv_heads)));
 * - causal softmax attention scaled by head_dim^-0.5, o_proj, residual; SiLU(gate) * up → down; final norm;
 *   lm_head, or embed_tokens when tie_word_embeddings.
 * Weights are decoded from bf16/f16/f32 to f32; all arithmetic is in JS doubles.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

interface StEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

function readAll(path: string): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const fd = openSync(path, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const hb = Buffer.alloc(n);
    readSync(fd, hb, 0, n, 8);
    const header = JSON.parse(hb.toString('utf8')) as Record<string, StEntry>;
    const out = new Map<string, { dtype: string; shape: number[]; bytes: Buffer }>();
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const [a, b] = e.data_offsets;
      const bytes = Buffer.alloc(b - a);
      readSync(fd, bytes, 0, b - a, 8 + n + a);
      out.set(name, { dtype: e.dtype, shape: e.shape, bytes });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Every f16 bit pattern's value, made once by f16() (a table: 16M weights decode in a blink, not seconds). */
let F16_TABLE: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16(h);
  }
  return F16_TABLE;
}

function decode(dtype: string, b: Buffer): Float32Array {
  if (dtype === 'F32') return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const out = new Float32Array(b.length / 2);
  // A copy, so the u16 view is aligned whatever the Buffer's offset (little-endian hosts, as the F32 case).
  const bits = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) u[i] = bits[i] << 16;
  } else if (dtype === 'F16') {
    const table = f16Table();
    for (let i = 0; i < out.length; i++) out[i] = table[bits[i]];
  } else throw new Error(`hfForward: dtype ${dtype} not handled`);
  return out;
}

/** Every tensor of the folder decoded to f32, from model.safetensors or the shards its index names. */
export function loadWeights(dir: string): Map<string, { shape: number[]; values: Float32Array }> {
  const index = join(dir, 'model.safetensors.index.json');
  const files = existsSync(index)
    ? [...new Set(Object.values(JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>))]
    : ['model.safetensors'];
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const f of files) for (const [name, t] of readAll(join(dir, f))) out.set(name, { shape: t.shape, values: decode(t.dtype, t.bytes) });
  return out;
}

interface RopeScaling {
  rope_type?: string; type?: string; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number;
}

/** transformers' _compute_default_rope_parameters + _compute_llama3_parameters (modeling_rope_utils.py). */
export function invFreq(headDim: number, theta: number, scaling?: RopeScaling | null): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (!scaling || (scaling.rope_type ?? scaling.type) !== 'llama3') return inv;
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: old } = scaling;
  const lowFreqWavelen = old / low;
  const highFreqWavelen = old / high;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    // torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    let f = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
    const smooth = (old / wavelen - low) / (high - low);
    const smoothed = ((1 - smooth) * f) / factor + smooth * f;
    const medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (medium) f = smoothed;
    inv[i] = f;
  }
  return inv;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const r = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * r * w[i];
  return out;
}

/** y = W x for W [rows, cols] row-major, as nn.Linear(bias=False). */
function linear(w: Float32Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += w[o + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** apply_rotary_pos_emb on one head: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1). */
function rope(x: Float64Array, off: number, hd: number, pos: number, inv: Float64Array) {
  const half = hd / 2;
  for (let j = 0; j < half; j++) {
    const a = pos * inv[j];
    const c = Math.cos(a), s = Math.sin(a);
    const x1 = x[off + j], x2 = x[off + j + half];
    x[off + j] = x1 * c - x2 * s;
    x[off + j + half] = x2 * c + x1 * s;
  }
}

export interface HfForwardOptions {
  /** Treat rope_scaling as absent (a deliberately wrong reference, to show that the scaling matters). */
  ignoreRopeScaling?: boolean;
}

export interface HfModel {
  config: Record<string, any>;
  /** Logits (vocab_size each) at each position of `tokens`, or only at `positions` if given. */
  logits(tokens: number[], positions?: number[]): Float32Array[];
  /** log_softmax of the next-token logits after `tokens`. */
  logprobs(tokens: number[]): Float64Array;
  /** `n` tokens of greedy continuation (argmax, lowest id on a tie), and each step's top-1 minus top-2 logit. */
  greedy(tokens: number[], n: number): { tokens: number[]; margins: number[] };
}

export function logSoftmax(l: Float32Array): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < l.length; i++) if (l[i] > m) m = l[i];
  let z = 0;
  for (let i = 0; i < l.length; i++) z += Math.exp(l[i] - m);
  const lz = m + Math.log(z);
  const out = new Float64Array(l.length);
  for (let i = 0; i < l.length; i++) out[i] = l[i] - lz;
  return out;
}

/** Indices of the k largest values, largest first. */
export function topK(v: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (best.length < k || v[i] > v[best[best.length - 1]]) {
      let j = best.length < k ? best.length : best.length - 1;
      best[j] = i;
      while (j > 0 && v[best[j - 1]] < v[best[j]]) { [best[j - 1], best[j]] = [best[j], best[j - 1]]; j--; }
    }
  }
  return best;
}

export function hfForward(dir: string, opts: HfForwardOptions = {}): HfModel {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const W = loadWeights(dir);
  const get = (n: string) => {
    const t = W.get(n);
    if (!t) throw new Error(`hfForward: ${dir} has no tensor ${n}`);
    return t.values;
  };
  const H: number = cfg.hidden_size;
  const nH: number = cfg.num_attention_heads;
  const nKv: number = cfg.num_key_value_heads ?? nH;
  const hd: number = cfg.head_dim ?? H / nH;
  const ff: number = cfg.intermediate_size;
  const L: number = cfg.num_hidden_layers;
  const V: number = cfg.vocab_size;
  const eps: number = cfg.rms_norm_eps;
  const inv = invFreq(hd, cfg.rope_theta ?? 10000, opts.ignoreRopeScaling ? null : cfg.rope_scaling);
  const embed = get('model.embed_tokens.weight');
  const head = cfg.tie_word_embeddings ? embed : get('lm_head.weight');
  const nRep = nH / nKv;
  const scaling = hd ** -0.5;

  /** Final-normed hidden states of every position. */
  function hidden(tokens: number[]): Float64Array[] {
    const T = tokens.length;
    let h: Float64Array[] = tokens.map((t) => Float64Array.from(embed.subarray(t * H, (t + 1) * H)));
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}.`;
      const q: Float64Array[] = [], k: Float64Array[] = [], v: Float64Array[] = [];
      for (let t = 0; t < T; t++) {
        const x = rmsNorm(h[t], get(`${p}input_layernorm.weight`), eps);
        q.push(linear(get(`${p}self_attn.q_proj.weight`), nH * hd, H, x));
        k.push(linear(get(`${p}self_attn.k_proj.weight`), nKv * hd, H, x));
        v.push(linear(get(`${p}self_attn.v_proj.weight`), nKv * hd, H, x));
        for (let a = 0; a < nH; a++) rope(q[t], a * hd, hd, t, inv);
        for (let a = 0; a < nKv; a++) rope(k[t], a * hd, hd, t, inv);
      }
      const next: Float64Array[] = [];
      for (let t = 0; t < T; t++) {
        const attn = new Float64Array(nH * hd);
        for (let a = 0; a < nH; a++) {
          const g = Math.floor(a / nRep); // repeat_kv
          const scores = new Float64Array(t + 1);
          let m = -Infinity;
          for (let s = 0; s <= t; s++) {
            let d = 0;
            for (let j = 0; j < hd; j++) d += q[t][a * hd + j] * k[s][g * hd + j];
            scores[s] = d * scaling;
            if (scores[s] > m) m = scores[s];
          }
          let z = 0;
          for (let s = 0; s <= t; s++) { scores[s] = Math.exp(scores[s] - m); z += scores[s]; }
          for (let s = 0; s <= t; s++) {
            const w = scores[s] / z;
            for (let j = 0; j < hd; j++) attn[a * hd + j] += w * v[s][g * hd + j];
          }
        }
        const o = linear(get(`${p}self_attn.o_proj.weight`), H, nH * hd, attn);
        const r = new Float64Array(H);
        for (let i = 0; i < H; i++) r[i] = h[t][i] + o[i];
        const y = rmsNorm(r, get(`${p}post_attention_layernorm.weight`), eps);
        const gate = linear(get(`${p}mlp.gate_proj.weight`), ff, H, y);
        const up = linear(get(`${p}mlp.up_proj.weight`), ff, H, y);
        for (let i = 0; i < ff; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i]; // SiLU(gate) * up
        const down = linear(get(`${p}mlp.down_proj.weight`), H, ff, gate);
        for (let i = 0; i < H; i++) r[i] += down[i];
        next.push(r);
      }
      h = next;
    }
    return h.map((x) => rmsNorm(x, get('model.norm.weight'), eps));
  }

  const project = (x: Float64Array) => Float32Array.from(linear(head, V, H, x));

  /**
   * Logits of the last position of each token prefix already run. Causal attention makes a position's logits a
   * function of its prefix alone, computed by the same code in the same order whatever follows it, so a cached
   * value is bit for bit what a fresh run gives: greedy's steps are the teacher-forced logits of the same path.
   */
  const cache = new Map<string, Float32Array>();

  const model: HfModel = {
    config: cfg,
    logits(tokens, positions) {
      const at = positions ?? tokens.map((_, i) => i);
      const keys = at.map((i) => tokens.slice(0, i + 1).join(','));
      const missing = keys.filter((k) => !cache.has(k));
      if (missing.length > 0) {
        const h = hidden(tokens.slice(0, Math.max(...at.filter((_, j) => !cache.has(keys[j]))) + 1));
        at.forEach((i, j) => { if (!cache.has(keys[j])) cache.set(keys[j], project(h[i])); });
      }
      // Copies: a caller may change what it gets.
      return keys.map((k) => Float32Array.from(cache.get(k)!));
    },
    logprobs(tokens) {
      return logSoftmax(model.logits(tokens, [tokens.length - 1])[0]);
    },
    greedy(tokens, n) {
      const seq = tokens.slice();
      const out: number[] = [];
      const margins: number[] = [];
      for (let i = 0; i < n; i++) {
        const l = model.logits(seq, [seq.length - 1])[0];
        const [a, b] = topK(l, 2);
        out.push(a);
        margins.push(l[a] - l[b]);
        seq.push(a);
      }
      return { tokens: out, margins };
    },
  };
  return model;
}
