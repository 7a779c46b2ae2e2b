/**
 * A Hugging Face Llama folder read for conversion: config.json → the shape llama.cpp's LlamaModel converts
 * (conversion/llama.py + TextModel in base.py), and the checkpoint's tensors. Llama-2, 3, 3.1 and 3.2 are all
 * LlamaForCausalLM with optional GQA (num_key_value_heads), head_dim, tied embeddings (3.2-1B/3B ship no
 * lm_head.weight) and rope_scaling; MistralForCausalLM is the same class in llama.cpp (its sliding_window is not
 * written for the llama architecture), so it converts the same way.
 */
import { UserError } from '../errors.js';
import { type HfConfig, readHfConfig } from '../context/hfConfig.js';
import { type Checkpoint, readCheckpoint } from './checkpoint.js';
import type { SrcDtype } from './dtypes.js';

/** The architectures (config.json "architectures"[0]) we convert, all to llama.cpp's "llama". */
export const CONVERTS = ['LlamaForCausalLM', 'MistralForCausalLM'];

export interface RopeScaling {
  /** rope_type (or the older "type"): llama3 (→ rope_freqs.weight), linear, yarn; others are written as llama.cpp does. */
  type: string;
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalContext?: number;
  /** The whole object, for the yarn keys. */
  raw: Record<string, unknown>;
}

export interface LlamaShape {
  arch: 'llama';
  hfArch: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  /** config head_dim, else hidden_size / num_attention_heads. */
  headDim: number;
  /** Whether config.json gives head_dim (llama.cpp then writes attention.key_length / value_length). */
  headDimGiven: boolean;
  nFf: number;
  vocabSize: number;
  /** max_position_embeddings, when the config has it. */
  ctx?: number;
  /** rope_theta, when the config has it (llama.cpp writes no freq_base without it; the runtime then uses 10000). */
  ropeTheta?: number;
  rmsEps?: number;
  /** No lm_head.weight: the output reuses token_embd (llama.cpp writes no output.weight). */
  tied: boolean;
  ropeScaling?: RopeScaling;
  /** The first BF16/F16 matrix's dtype in llama.cpp's order (what its --outtype auto looks at); F32 when none is. */
  dtype: SrcDtype;
}

export interface LlamaModelFolder {
  config: HfConfig;
  shape: LlamaShape;
  checkpoint: Checkpoint;
}

const int = (cfg: HfConfig, key: string, required: boolean): number | undefined => {
  const v = cfg.json[key];
  if (v === undefined || v === null) {
    if (required) throw new UserError(`${cfg.path} has no "${key}"; a Llama config.json needs it`);
    return undefined;
  }
  if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new UserError(`${cfg.path}: "${key}" is ${JSON.stringify(v)}, not a positive whole number`);
  // Each of these is written as a GGUF uint32 (gguf-py's struct.pack('<I') fails the same way on a larger one).
  if ((v as number) > 0xffffffff) throw new UserError(`${cfg.path}: "${key}" is ${v}, over the 4294967295 a GGUF can hold; fix config.json`);
  return v as number;
};

const float = (cfg: HfConfig, o: Record<string, unknown>, key: string): number | undefined => {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${cfg.path}: "${key}" is ${JSON.stringify(v)}, not a number`);
  return v;
};

/** The architecture named in config.json, or an error naming it and what we convert. */
export function hfArchitecture(cfg: HfConfig): string {
  const a = cfg.json.architectures;
  const arch = Array.isArray(a) && typeof a[0] === 'string' ? a[0] : undefined;
  if (arch === undefined) throw new UserError(`${cfg.path} has no "architectures" list; it converts ${CONVERTS.join(' and ')} models`);
  if (!CONVERTS.includes(arch)) throw new UserError(`${cfg.dir} is a ${arch} model; llama3-zh converts ${CONVERTS.join(' and ')} (Llama-2, 3, 3.1, 3.2 and Mistral) only`);
  return arch;
}

function ropeScaling(cfg: HfConfig): RopeScaling | undefined {
  // transformers 5 writes rope_parameters; earlier versions rope_scaling (base.py reads the first it finds).
  const rs = (cfg.json.rope_parameters ?? cfg.json.rope_scaling) as Record<string, unknown> | null | undefined;
  if (!rs || typeof rs !== 'object' || Array.isArray(rs)) return undefined;
  const type = rs.rope_type ?? rs.type;
  if (typeof type !== 'string') return undefined;
  return {
    type,
    factor: float(cfg, rs, 'factor'),
    lowFreqFactor: float(cfg, rs, 'low_freq_factor'),
    highFreqFactor: float(cfg, rs, 'high_freq_factor'),
    originalContext: float(cfg, rs, 'original_max_position_embeddings') ?? float(cfg, cfg.json, 'original_max_position_embeddings'),
    raw: rs,
  };
}

/** config.json + the weights of a Llama folder, checked; no tensor data is read. */
export function readLlamaModel(dir: string): LlamaModelFolder {
  const config = readHfConfig(dir);
  const hfArch = hfArchitecture(config);
  // Multimodal wrappers keep the text model under text_config; base.py lifts it to the top level.
  if (config.json.text_config && typeof config.json.text_config === 'object') config.json = { ...config.json, ...(config.json.text_config as object) };
  const nLayer = int(config, 'num_hidden_layers', true)!;
  const nEmbd = int(config, 'hidden_size', true)!;
  const nHead = int(config, 'num_attention_heads', true)!;
  const nHeadKv = int(config, 'num_key_value_heads', false) ?? nHead;
  const headDimCfg = int(config, 'head_dim', false);
  const headDim = headDimCfg ?? nEmbd / nHead;
  if (!Number.isInteger(headDim) || headDim % 2) throw new UserError(`${config.path}: hidden_size ${nEmbd} / num_attention_heads ${nHead} is not an even head size; give head_dim`);
  if (nHead % nHeadKv) throw new UserError(`${config.path}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nHeadKv}`);
  const nFf = int(config, 'intermediate_size', true)!;
  const vocabSize = int(config, 'vocab_size', true)!;
  const checkpoint = readCheckpoint(dir);
  const tied = !checkpoint.tensors.has('lm_head.weight');
  // llama.cpp's `auto` takes the first BF16 or F16 tensor of 2 or more dimensions in its reading order (files
  // sorted, names sorted); with none (an F32 checkpoint) it writes F16.
  let dtype: SrcDtype = 'F32';
  for (const name of tensorOrder(checkpoint)) {
    const t = checkpoint.tensors.get(name)!;
    if (t.shape.length >= 2 && (t.dtype === 'BF16' || t.dtype === 'F16')) { dtype = t.dtype; break; }
  }
  const shape: LlamaShape = {
    arch: 'llama', hfArch, nLayer, nEmbd, nHead, nHeadKv, headDim, headDimGiven: headDimCfg !== undefined, nFf, vocabSize,
    ctx: int(config, 'max_position_embeddings', false),
    ropeTheta: float(config, config.json, 'rope_theta') ?? float(config, (config.json.rope_parameters ?? {}) as Record<string, unknown>, 'rope_theta'),
    rmsEps: float(config, config.json, 'rms_norm_eps'),
    tied, ropeScaling: ropeScaling(config), dtype,
  };
  return { config, shape, checkpoint };
}

/**
 * The order convert_hf_to_gguf reads tensors in, which is the order it writes them: shard files sorted by name,
 * and within each, tensor names sorted (gguf-py's SafetensorsLocal sorts them, as the safetensors library does).
 */
export function tensorOrder(c: Checkpoint): string[] {
  const files = [...c.files].sort((a, b) => cmp(a.path, b.path));
  return files.flatMap((f) => f.tensors.map((t) => t.name).sort(cmp));
}

/** Python's str ordering (code points), not localeCompare. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
