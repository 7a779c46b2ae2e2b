/**
 * A PEFT LoRA adapter to a llama.cpp LoRA GGUF, as llama.cpp's convert_lora_to_gguf.py writes it:
 * general.architecture "llama", general.type "adapter", adapter.type "lora", adapter.lora.alpha (f32), and per
 * target `<gguf name>.weight.lora_a` (A, r × in) and `.lora_b` (B, out × r), all of the output type (f32 by
 * default, as the script's --outtype; f16, bf16 and q8_0 too). The script runs the base model's converter on a
 * (A, B) pair that stands for B·A, so the q/k row permutation reaches only B's rows and A is untouched.
 *
 * Where we differ on purpose: the script writes lora_alpha as is and ignores use_rslora, but llama.cpp scales by
 * alpha/r (llama_adapter_lora_weight::get_scale, r = the tensor's rank); for rsLoRA (scale alpha/√r) we write
 * alpha·√r so llama.cpp applies the scale the adapter was trained with. A per-module alpha (alpha_pattern) that
 * one alpha cannot express, and modules_to_save (whole tensors: the script and llama.cpp's runtime cannot carry
 * them), are refused with the command that merges the adapter instead.
 */
import { basename, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readHfConfig } from '../context/hfConfig.js';
import { ValueType } from '../gguf/types.js';
import { kv, type TensorSpec, writeGguf } from '../gguf/writer.js';
import { encodeFromF32 } from './dtypes.js';
import { modelNames } from './naming.js';
import { type AdapterBaseShape, checkAdapterFits } from './merge.js';
import { outputTarget, sameFile } from '../util/files.js';
import { ADAPTER_CONFIG, adapterValues, type LoraPair, type PeftAdapter, readPeftAdapter } from './peft.js';


export const LORA_TYPES = ['f32', 'f16', 'bf16', 'q8_0'] as const;
export type LoraType = (typeof LORA_TYPES)[number];
/** GGML type ids. */
const GGML: Record<LoraType, number> = { f32: 0, f16: 1, bf16: 30, q8_0: 8 };

export interface AdapterOptions {
  dir: string;
  /** The base model's Hugging Face folder (hub/adapterBase.ts finds it from --base or the adapter's config). */
  base: string;
  out: string;
  type?: string;
  name?: string;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

/** The shapes of the base model from its config.json (the script, too, needs only the config, not the weights). */
export function adapterBaseShape(dir: string): AdapterBaseShape & { arch: string } {
  const cfg = readHfConfig(dir);
  const j = cfg.json;
  const arch = Array.isArray(j.architectures) ? String(j.architectures[0]) : String(j.architectures);
  if (arch !== 'LlamaForCausalLM' && arch !== 'MistralForCausalLM') {
    throw new UserError(`${cfg.path}: the base model is ${arch}; adapters convert for LlamaForCausalLM (and MistralForCausalLM) models`);
  }
  const int = (k: string, fallback?: number) => {
    const v = j[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new UserError(`${cfg.path}: "${k}" is ${JSON.stringify(j[k])}, not a positive whole number`);
    return v;
  };
  const nEmbd = int('hidden_size');
  const nHead = int('num_attention_heads');
  return {
    arch,
    nLayer: int('num_hidden_layers'), nEmbd, nHead, nHeadKv: int('num_key_value_heads', nHead),
    headDim: int('head_dim', Math.floor(nEmbd / nHead)), nFf: int('intermediate_size'), vocabSize: int('vocab_size'),
    tied: j.tie_word_embeddings === true,
  };
}

/** llama.cpp's tensor name for a Hugging Face Llama tensor (gguf-py tensor_mapping), without ".weight". */
export function ggufTensorName(hf: string): string | undefined {
  if (hf === 'model.embed_tokens.weight') return 'token_embd';
  if (hf === 'model.norm.weight') return 'output_norm';
  if (hf === 'lm_head.weight') return 'output';
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hf);
  if (!m) return undefined;
  const local: Record<string, string> = {
    input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm',
    'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
    'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
  };
  return local[m[2]] ? `blk.${m[1]}.${local[m[2]]}` : undefined;
}

/**
 * convert_hf_to_gguf's q/k permutation of rows (`reshape(n_head, 2, rows/n_head/2, …).swapaxes(1, 2)`): HF's
 * rotate_half pairs dimension i with i + d/2, llama.cpp's rope pairs 2i with 2i+1.
 */
export function permuteRows(values: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
  const half = rows / nHead / 2;
  if (!Number.isInteger(half)) throw new UserError(`cannot permute ${rows} rows over ${nHead} heads`);
  const out = new Float32Array(values.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * 2 * half + j * half + i) * cols;
        const to = (h * 2 * half + i * 2 + j) * cols;
        out.set(values.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/**
 * The script's encodings (gguf-py quants.py): numpy's f16 and gguf-py's bf16, bit for bit — NaNs included (the
 * bf16 rule sets bit 6 of the high half, a quiet NaN; numpy's f16 keeps the top payload bits).
 */
const ENCODE: Record<LoraType, (v: Float32Array) => Uint8Array> = {
  f32: (v) => encodeFromF32(v, 'F32'), f16: (v) => encodeFromF32(v, 'F16'), bf16: (v) => encodeFromF32(v, 'BF16'),
  q8_0: (v) => encodeFromF32(v, 'Q8_0'),
};

/** A tensor's type: Q8_0 of a row that is not whole 32-blocks (lora_b's rows are r long) falls back to F16, as quants.py's QuantError makes the script do. */
const typeFor = (type: LoraType, ne0: number): LoraType => (type === 'q8_0' && ne0 % 32 ? 'f16' : type);

/** The merge command for an adapter that cannot be a runtime LoRA. */
const mergeHint = (dir: string) => `merge it into the model instead: llama3-zh convert BASE --adapter ${dir} --out model.gguf (or llama3-zh create NAME --from BASE --adapter ${dir})`;

/**
 * The one alpha llama.cpp will divide by each tensor's rank: alpha_m·r_m/r_m·… chosen so alpha/r equals each
 * module's PEFT scale. Refused when modules need different alphas (rsLoRA with several ranks, alpha_pattern).
 */
export function runtimeAlpha(adapter: PeftAdapter): number {
  const alphas = adapter.pairs.map((p) => p.scale * p.r);
  const first = alphas[0];
  if (alphas.some((a) => Math.abs(a - first) > 1e-6 * Math.abs(first))) {
    throw new UserError(`${adapter.dir}: its modules have different LoRA scales (alpha_pattern${adapter.rslora ? ', or rsLoRA with rank_pattern' : ''}), which a llama.cpp LoRA (one alpha for all) cannot carry; ${mergeHint(adapter.dir)}`);
  }
  return adapter.rslora ? Math.fround(first) : adapter.alpha;
}

/** Refuse what a runtime LoRA cannot be, before any work. */
export function checkRuntimeLora(adapter: PeftAdapter, shape: AdapterBaseShape): void {
  if (adapter.full.size > 0) {
    const names = [...adapter.full.keys()].map((n) => n.replace(/\.weight$/, ''));
    const list = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
    throw new UserError(`${adapter.dir}: the adapter saves whole modules (modules_to_save: ${list}), which a llama.cpp LoRA cannot carry; ${mergeHint(adapter.dir)}`);
  }
  checkAdapterFits(adapter, shape);
}

/** The lora_a / lora_b tensors of one pair, in llama.cpp's layout. */
function pairTensors(adapter: PeftAdapter, p: LoraPair, shape: AdapterBaseShape, type: LoraType): TensorSpec[] {
  const name = `${ggufTensorName(p.target)}.weight`;
  const r = p.r;
  const [aRows, aCols] = p.a.shape; // r × in  (embedding: r × vocab)
  const [bRows] = p.b.shape; // out × r  (embedding: dim × r)
  const nHead = p.target.endsWith('q_proj.weight') ? shape.nHead : p.target.endsWith('k_proj.weight') ? shape.nHeadKv : 0;
  const ta = typeFor(type, p.embedding ? r : aCols);
  const tb = typeFor(type, r);
  // The script transposes only token_embd's lora_a (llm_build_inp_embd gathers rows of A).
  const aTensor: TensorSpec = p.embedding
    ? { name: `${name}.lora_a`, dims: [r, aCols], type: GGML[ta], data: async (w) => w(ENCODE[ta](transpose(adapterValues(adapter, p.a), aRows, aCols))) }
    : { name: `${name}.lora_a`, dims: [aCols, aRows], type: GGML[ta], data: async (w) => w(ENCODE[ta](adapterValues(adapter, p.a))) };
  const bTensor: TensorSpec = {
    name: `${name}.lora_b`, dims: [r, bRows], type: GGML[tb],
    data: async (w) => {
      const b = adapterValues(adapter, p.b);
      await w(ENCODE[tb](nHead ? permuteRows(b, bRows, r, nHead) : b));
    },
  };
  return [aTensor, bTensor];
}

function transpose(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j];
  return out;
}

/** `llama3-zh convert PEFT_DIR --base SRC --out adapter.gguf`. */
export async function convertAdapter(o: AdapterOptions): Promise<{ out: string; type: LoraType; alpha: number; tensors: number }> {
  const asked = (o.type ?? 'f32').toLowerCase();
  if (asked !== 'auto' && !LORA_TYPES.includes(asked as LoraType)) {
    throw new UserError(`--type ${o.type}: a LoRA adapter converts to ${LORA_TYPES.join(', ')} or auto, as convert_lora_to_gguf does (quantize the base model for the rest)`);
  }
  const adapter = readPeftAdapter(o.dir);
  // auto: base.py's rule (the first matrix's dtype if 16-bit, else f16).
  const first = [...adapter.pairs].sort((x, y) => (x.a.name < y.a.name ? -1 : 1))[0]?.a.dtype;
  const type: LoraType = asked !== 'auto' ? asked as LoraType : first === 'BF16' ? 'bf16' : 'f16';
  const shape = adapterBaseShape(o.base);
  checkRuntimeLora(adapter, shape);
  const alpha = runtimeAlpha(adapter);
  // safetensors.torch.load_file hands the script its tensors sorted by name; it writes them in that order.
  const pairs = [...adapter.pairs].sort((x, y) => (x.a.name < y.a.name ? -1 : x.a.name > y.a.name ? 1 : 0));
  const total = pairs.reduce((s, p) => s + p.a.bytes + p.b.bytes, 0);
  let done = 0;
  const tensors: TensorSpec[] = [];
  for (const p of pairs) {
    for (const t of pairTensors(adapter, p, shape, type)) {
      const produce = t.data as (w: (c: Uint8Array) => Promise<void>) => Promise<void>;
      const bytes = t.name.endsWith('.lora_a') ? p.a.bytes : p.b.bytes;
      tensors.push({
        ...t,
        data: async (w) => {
          if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
          await produce(w);
          done += bytes;
          o.onProgress?.(done, total);
        },
      });
    }
  }
  const out = resolve(o.out);
  for (const f of [adapter.file.path, join(adapter.dir, ADAPTER_CONFIG)]) {
    if (sameFile(f, outputTarget(out))) throw new UserError(`--out ${o.out} is ${f}, one of the adapter's own files; give another output file`, 2);
  }
  // The script's metadata.py runs on the adapter folder (no config.json there), and gguf_writer counts a LoRA
  // pair as the full matrix it stands for (lora_b's rows × lora_a's columns).
  const params = pairs.reduce((s, p) => s + p.b.shape[0] * p.a.shape[1], 0);
  const n = modelNames(basename(resolve(o.dir)), undefined, params, o.name);
  const names = [
    kv.str('general.name', n.name!),
    ...(n.version !== undefined ? [kv.str('general.version', n.version)] : []),
    ...(n.organization !== undefined ? [kv.str('general.organization', n.organization)] : []),
    ...(n.finetune !== undefined ? [kv.str('general.finetune', n.finetune)] : []),
    ...(n.basename !== undefined ? [kv.str('general.basename', n.basename)] : []),
    ...(n.sizeLabel !== undefined ? [kv.str('general.size_label', n.sizeLabel)] : []),
  ];
  await writeGguf(out, [
    kv.str('general.architecture', 'llama'),
    kv.str('general.type', 'adapter'),
    kv.str('adapter.type', 'lora'),
    ...names,
    kv.f32('adapter.lora.alpha', alpha),
    // The script's set_gguf_parameters writes them right after the alpha, as an array of uint32.
    ...(adapter.aloraTokens ? [{ key: 'adapter.alora.invocation_tokens', type: ValueType.ARRAY, itemType: ValueType.UINT32, value: adapter.aloraTokens }] : []),
    kv.u32('general.quantization_version', 2),
  ], tensors);
  return { out, type, alpha, tensors: tensors.length };
}
