/**
 * A PEFT LoRA adapter folder as `PeftModel.save_pretrained` writes it: adapter_config.json and
 * adapter_model.safetensors. PEFT's get_peft_model_state_dict drops the adapter name from the keys, so a LoRA
 * pair is `base_model.model.<module>.lora_A.weight` (r × in) and `.lora_B.weight` (out × r); some tools keep the
 * name (`.lora_A.default.weight`), which we accept too. modules_to_save are stored whole: PEFT renames
 * `<module>.modules_to_save.default.weight` to `<module>.weight`; both spellings (and `<module>.default.weight`) are read. Embedding LoRAs are
 * `lora_embedding_A` (r × vocab) and `lora_embedding_B` (dim × r), with no `.weight`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readSmallFile } from '../util/files.js';
import { decodeToF32 } from './dtypes.js';
import { readSafetensors, type SafetensorsFile, type SafetensorsTensor, tensorData } from './safetensors.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export interface LoraPair {
  /** The base model's Hugging Face tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  target: string;
  /** The module path, e.g. `model.layers.0.self_attn.q_proj` (what rank_pattern / alpha_pattern match). */
  module: string;
  a: SafetensorsTensor;
  b: SafetensorsTensor;
  /** PEFT's lora_embedding_A/B: delta W = (B·A)ᵀ, since an embedding's weight is vocab × dim. */
  embedding: boolean;
  r: number;
  alpha: number;
  /** alpha/r, or alpha/√r with use_rslora: what PEFT multiplies B·A by. */
  scale: number;
}

export interface PeftAdapter {
  dir: string;
  file: SafetensorsFile;
  config: Record<string, unknown>;
  r: number;
  alpha: number;
  rslora: boolean;
  baseModel?: string;
  /**
   * An activated LoRA (PEFT's aLoRA): it acts only on the tokens after its invocation tokens. llama.cpp keeps them
   * as adapter.alora.invocation_tokens (only llama-server honours them); a merge cannot express them at all.
   */
  aloraTokens?: number[];
  /** Pairs in the order of their lora_A keys in the file. */
  pairs: LoraPair[];
  /** modules_to_save: base tensor name → the full tensor that replaces it. */
  full: Map<string, SafetensorsTensor>;
  /** `.base_layer.weight` copies of wrapped layers (PEFT's save_embedding_layers): checked, not applied. */
  baseLayers: Map<string, SafetensorsTensor>;
}

const PREFIX = 'base_model.model.';

function num(dir: string, config: Record<string, unknown>, key: string, fallback?: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new UserError(`${join(dir, ADAPTER_CONFIG)}: "${key}" is ${JSON.stringify(config[key])}, not a positive number`);
  }
  return v;
}

/**
 * PEFT's rank_pattern / alpha_pattern: a key matches a module whose name is the key or ends with `.key`
 * (PEFT's `re.match(rf"(.*\.)?({key})$", name)`); the first match wins, as in PEFT.
 */
function fromPattern(pattern: Record<string, unknown>, module: string): number | undefined {
  for (const [key, v] of Object.entries(pattern)) {
    let re: RegExp;
    try {
      re = new RegExp(`^(.*\\.)?(${key})$`);
    } catch {
      re = new RegExp(`^(.*\\.)?(${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})$`);
    }
    if (re.test(module) && typeof v === 'number') return v;
  }
  return undefined;
}

function readConfig(dir: string): Record<string, unknown> {
  const path = join(dir, ADAPTER_CONFIG);
  if (!existsSync(path)) {
    throw new UserError(`${dir} has no ${ADAPTER_CONFIG}: not a PEFT adapter folder (give the folder save_pretrained wrote)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readSmallFile(path, ADAPTER_CONFIG));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${path} is not a JSON object`);
  return json as Record<string, unknown>;
}

/** A PEFT LoRA adapter: its config checked, its tensors paired (no tensor data is read yet). */
export function readPeftAdapter(dir: string): PeftAdapter {
  const config = readConfig(dir);
  const cfgPath = join(dir, ADAPTER_CONFIG);
  const type = config.peft_type;
  if (type !== 'LORA') {
    throw new UserError(`${cfgPath}: peft_type is ${JSON.stringify(type)}; only LoRA adapters (peft_type "LORA") convert`);
  }
  if (config.use_dora === true) {
    throw new UserError(`${cfgPath}: use_dora is true; DoRA adapters (a learned magnitude per weight) cannot be converted, only plain LoRA`);
  }
  if (config.fan_in_fan_out === true) {
    throw new UserError(`${cfgPath}: fan_in_fan_out is true (GPT-2 style Conv1D weights); Llama's Linear layers are never saved that way, so this adapter is not for a Llama model`);
  }
  if (config.lora_bias === true) {
    throw new UserError(`${cfgPath}: lora_bias is true; the adapter trains biases, which Llama's layers do not have, so it cannot be converted`);
  }
  const r = num(dir, config, 'r');
  // PEFT's LoraConfig default (lora_alpha=8), which from_pretrained uses when the key is absent — not r.
  const alpha = num(dir, config, 'lora_alpha', 8);
  const rslora = config.use_rslora === true;
  const rankPattern = (config.rank_pattern ?? {}) as Record<string, unknown>;
  const alphaPattern = (config.alpha_pattern ?? {}) as Record<string, unknown>;
  const layers = config.layers_to_transform;
  const layerSet = typeof layers === 'number' ? new Set([layers]) : Array.isArray(layers) ? new Set(layers as number[]) : undefined;

  const weights = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(weights)) {
    if (existsSync(join(dir, 'adapter_model.bin'))) {
      throw new UserError(`${dir} has only adapter_model.bin (a Python pickle, which we do not load); resave it as safetensors: PeftModel.from_pretrained(base, "${dir}").save_pretrained("${dir}", safe_serialization=True)`);
    }
    throw new UserError(`${dir} has no ${ADAPTER_WEIGHTS}: the adapter's weights are missing`);
  }
  const file = readSafetensors(weights);

  const a = new Map<string, SafetensorsTensor>();
  const b = new Map<string, SafetensorsTensor>();
  const embedding = new Set<string>();
  const full = new Map<string, SafetensorsTensor>();
  const baseLayers = new Map<string, SafetensorsTensor>();
  for (const t of file.tensors) {
    if (!t.name.startsWith(PREFIX)) throw new UserError(`${weights}: tensor "${t.name}" does not start with "${PREFIX}": not a PEFT LoRA state dict`);
    const key = t.name.slice(PREFIX.length);
    const m = /^(.+)\.lora_(A|B)(?:\.default)?\.weight$/.exec(key) ?? /^(.+)\.lora_embedding_(A|B)(?:\.default)?$/.exec(key);
    if (m) {
      (m[2] === 'A' ? a : b).set(m[1], t);
      if (key.includes('.lora_embedding_')) embedding.add(m[1]);
      continue;
    }
    if (/\.lora_magnitude_vector/.test(key)) {
      throw new UserError(`${weights}: tensor "${t.name}" is a DoRA magnitude; only plain LoRA adapters convert`);
    }
    // save_embedding_layers: the embedding (or lm_head) a LoRA wraps, saved whole; the script skips it, and so
    // do we once its shape is checked (a different shape means a resized vocabulary).
    const wrapped = /^(.+)\.base_layer\.weight$/.exec(key);
    if (wrapped) {
      baseLayers.set(`${wrapped[1]}.weight`, t);
      continue;
    }
    const saved = /^(.+?)(?:\.modules_to_save)?(?:\.default)?\.weight$/.exec(key);
    if (saved) {
      full.set(`${saved[1]}.weight`, t);
      continue;
    }
    throw new UserError(`${weights}: tensor "${t.name}" is neither a lora_A/lora_B weight nor a full module (modules_to_save)`);
  }
  const pairs: LoraPair[] = [];
  for (const [module, ta] of a) {
    const tb = b.get(module);
    if (!tb) throw new UserError(`${weights}: "${module}" has lora_A but no lora_B; the adapter file is incomplete`);
    const mr = fromPattern(rankPattern, module) ?? r;
    const ma = fromPattern(alphaPattern, module) ?? alpha;
    const emb = embedding.has(module);
    // lora_A is r × in (embedding: r × vocab), lora_B is out × r (embedding: dim × r).
    if (ta.shape.length !== 2 || tb.shape.length !== 2 || ta.shape[0] !== tb.shape[1] || ta.shape[0] !== mr) {
      throw new UserError(`${weights}: "${module}" has lora_A ${JSON.stringify(ta.shape)} and lora_B ${JSON.stringify(tb.shape)}, which do not make a rank-${mr} pair`);
    }
    const layer = /\.layers\.(\d+)\./.exec(module);
    if (layerSet && layer && !layerSet.has(Number(layer[1]))) {
      throw new UserError(`${weights}: "${module}" is in layer ${layer[1]}, which layers_to_transform (${JSON.stringify(layers)}) excludes: the file and its config disagree`);
    }
    pairs.push({ target: `${module}.weight`, module, a: ta, b: tb, embedding: emb, r: mr, alpha: ma, scale: ma / (rslora ? Math.sqrt(mr) : mr) });
  }
  for (const module of b.keys()) {
    if (!a.has(module)) throw new UserError(`${weights}: "${module}" has lora_B but no lora_A; the adapter file is incomplete`);
  }
  if (pairs.length === 0 && full.size === 0) throw new UserError(`${weights} holds no LoRA weights`);
  const base = config.base_model_name_or_path;
  return { dir, file, config, r, alpha, rslora, baseModel: typeof base === 'string' && base ? base : undefined, aloraTokens: aloraTokens(dir, config), pairs, full, baseLayers };
}

/** alora_invocation_tokens (a list of token ids), else undefined; an invocation_string alone is refused. */
function aloraTokens(dir: string, config: Record<string, unknown>): number[] | undefined {
  const t = config.alora_invocation_tokens;
  const cfgPath = join(dir, ADAPTER_CONFIG);
  if (Array.isArray(t) && t.length > 0) {
    if (!t.every((x) => Number.isSafeInteger(x) && x >= 0 && x <= 0xffffffff)) throw new UserError(`${cfgPath}: "alora_invocation_tokens" is not a list of token ids`);
    return t as number[];
  }
  if (typeof config.invocation_string === 'string' && config.invocation_string) {
    // convert_lora_to_gguf tokenizes it with the base model's tokenizer and drops the first token (older aLoRAs'
    // off-by-one); we do not guess that: the ids must be given.
    throw new UserError(`${cfgPath}: an activated LoRA (aLoRA) with only "invocation_string"; add "alora_invocation_tokens" (the token ids PEFT activates it after) to adapter_config.json`);
  }
  return undefined;
}

/**
 * A tensor of the adapter as f32 values (it may be stored as F32, F16 or BF16), bit for bit as torch widens them:
 * through the bit tables, never through a JS number, which would make a signalling NaN quiet.
 */
export function adapterValues(adapter: PeftAdapter, t: SafetensorsTensor): Float32Array {
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
    throw new UserError(`${adapter.file.path}: tensor "${t.name}" is ${t.dtype}; adapters convert from F32, F16 or BF16`);
  }
  return decodeToF32(tensorData(adapter.file, t), t.dtype);
}
