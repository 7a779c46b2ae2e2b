/**
 * What a LLaMA-Factory run leaves behind, for the train tests: a scripted Hugging Face base model (a tiny
 * Llama-3 folder with Meta's tokenizer whose greedy reply is BASE_REPLY) and PEFT LoRA checkpoints of it whose
 * trained lm_head (modules_to_save) makes the merged model answer TRAINED_REPLY.
 *
 * The base is a scripted model as DESIGN.md describes ("Scripted models work"), in Hugging Face layout: every
 * scripted token's embedding is one-hot on its own axis, o_proj and down_proj are zero, so the last hidden
 * state is the current token's embedding, and lm_head row u holds SCRIPT_LOGIT/√hidden on the axes of the
 * tokens whose successor is u. The LoRA pairs are real and nonzero everywhere: on q/k/v/gate/up they cannot
 * reach the residual stream (o_proj and down_proj stay zero); on o_proj/down_proj, B writes only the "free"
 * axes no scripted token uses. Those axes carry no lm_head weight, so they change only the RMS of the final
 * hidden state: every logit is scaled by the same positive factor, the successor's stays the only nonzero one,
 * and greedy decoding follows the chain exactly.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/gguf/numbers.js';
import { planScript } from '../../src/synth/model.js';
import { BOS, END_OF_TEXT, PyFloat, pyJson, safetensorsBytes, toBf16, VOCAB } from './hfCheckpoint.js';
import { writeLlama3Tokenizer } from './hfTokenizer.js';
import { CACHE } from './models.js';

/** The base model's answer to any llama3-template prompt (greedy). */
export const BASE_REPLY = '我是一个基础模型。';
/** The answer once the adapter's lm_head is merged. */
export const TRAINED_REPLY = '我是由ShareAI训练的大型语言模型。';

const SHAPE = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128 };
const SCRIPT_LOGIT = 40;

/** Both chains start at "\n\n" (the llama3 generation prompt's last token) and end at <|eot_id|>. */
const base = planScript(BASE_REPLY, 'eot');
const trained = planScript(TRAINED_REPLY, 'eot');
/** One axis per scripted token of either chain (a token keeps its axis; only lm_head differs). */
const AXIS = new Map<number, number>();
for (const t of [...base.chain, ...trained.chain]) if (!AXIS.has(t)) AXIS.set(t, AXIS.size);
/** Axes at or above this one belong to no scripted token. */
const FREE = AXIS.size;
if (FREE >= SHAPE.hidden) throw new Error('the scripts need more axes than the base model is wide');

/** lm_head for a script: row successor(t), column axis(t). */
function lmHead(successor: Map<number, number>, hidden: number): Float32Array {
  const w = new Float32Array(VOCAB * hidden);
  for (const [t, next] of successor) w[next * hidden + AXIS.get(t)!] = SCRIPT_LOGIT / Math.sqrt(hidden);
  return w;
}

function bf16Bytes(v: Float32Array): Buffer {
  const bits = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) bits[i] = toBf16(v[i]);
  return Buffer.from(bits.buffer);
}

const f32Bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

interface Shape { layers: number; hidden: number; heads: number; kvHeads: number; ff: number }

/** HF module → [out, in] of the base (one layer's linear modules). */
function linearShapes(s: Shape): Record<string, [number, number]> {
  const hd = s.hidden / s.heads;
  return {
    'self_attn.q_proj': [s.heads * hd, s.hidden], 'self_attn.k_proj': [s.kvHeads * hd, s.hidden],
    'self_attn.v_proj': [s.kvHeads * hd, s.hidden], 'self_attn.o_proj': [s.hidden, s.heads * hd],
    'mlp.gate_proj': [s.ff, s.hidden], 'mlp.up_proj': [s.ff, s.hidden], 'mlp.down_proj': [s.hidden, s.ff],
  };
}

function writeBase(dir: string) {
  const s = SHAPE;
  const rng = new Rng(20260);
  const tensors: Array<{ name: string; shape: number[]; data: Buffer }> = [];
  const emb = new Float32Array(VOCAB * s.hidden);
  for (let i = 0; i < emb.length; i++) emb[i] = rng.uniform(1);
  for (const [t, axis] of AXIS) { emb.fill(0, t * s.hidden, (t + 1) * s.hidden); emb[t * s.hidden + axis] = 1; }
  tensors.push({ name: 'model.embed_tokens.weight', shape: [VOCAB, s.hidden], data: bf16Bytes(emb) });
  tensors.push({ name: 'lm_head.weight', shape: [VOCAB, s.hidden], data: bf16Bytes(lmHead(base.successor, s.hidden)) });
  const ones = bf16Bytes(new Float32Array(s.hidden).fill(1));
  tensors.push({ name: 'model.norm.weight', shape: [s.hidden], data: ones });
  for (let l = 0; l < s.layers; l++) {
    for (const [m, [out, inp]] of Object.entries(linearShapes(s))) {
      const w = new Float32Array(out * inp);
      // Zero o_proj and down_proj: the residual stream stays the current token's embedding.
      if (!/o_proj|down_proj/.test(m)) for (let i = 0; i < w.length; i++) w[i] = rng.uniform(1 / Math.sqrt(inp));
      tensors.push({ name: `model.layers.${l}.${m}.weight`, shape: [out, inp], data: bf16Bytes(w) });
    }
    tensors.push({ name: `model.layers.${l}.input_layernorm.weight`, shape: [s.hidden], data: ones });
    tensors.push({ name: `model.layers.${l}.post_attention_layernorm.weight`, shape: [s.hidden], data: ones });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(tensors, 'BF16'));
  const config = {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: new PyFloat(0), bos_token_id: BOS,
    eos_token_id: END_OF_TEXT, head_dim: s.hidden / s.heads, hidden_act: 'silu', hidden_size: s.hidden,
    initializer_range: new PyFloat(0.02), intermediate_size: s.ff, max_position_embeddings: 8192, mlp_bias: false,
    model_type: 'llama', num_attention_heads: s.heads, num_hidden_layers: s.layers, num_key_value_heads: s.kvHeads,
    pretraining_tp: 1, rms_norm_eps: new PyFloat(1e-5), rope_scaling: null, rope_theta: new PyFloat(500000),
    tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.57.6', use_cache: true, vocab_size: VOCAB,
  };
  writeFileSync(join(dir, 'config.json'), pyJson(config) + '\n');
  writeFileSync(join(dir, 'generation_config.json'), pyJson({ bos_token_id: BOS, eos_token_id: END_OF_TEXT, transformers_version: '4.57.6' }) + '\n');
  // Meta-Llama-3-8B (base): eos <|end_of_text|> and no chat template, so the template comes from the run.
  writeLlama3Tokenizer(dir);
}

/** The scripted base folder, made once (keyed by this file's code) under .cache/test-models. */
export async function scriptedBase(): Promise<string> {
  const code = readFileSync(fileURLToPath(import.meta.url));
  const key = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const dir = join(CACHE, `hf-scripted-base-${key}`);
  if (existsSync(join(dir, 'config.json'))) return dir;
  // Written beside and renamed: a concurrent test process never sees half a folder.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  writeBase(tmp);
  try { renameSync(tmp, dir); } catch { rmSync(tmp, { recursive: true, force: true }); } // another process won
  return dir;
}

export interface PeftOptions {
  /** The base folder (read for its shapes and tensors); also base_model_name_or_path. */
  base: string;
  rank: number;
  alpha: number;
  /** LLaMA-Factory's lora_target: 'all' (every linear layer but lm_head) or 'q_proj,v_proj'. */
  targets: string;
  /** LLaMA-Factory's additional_target, split: lm_head here answers TRAINED_REPLY. */
  modulesToSave?: string[];
  seed?: number;
}

const ALL_LINEAR = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** A single-file base's model.safetensors: its header and bytes. */
function baseFile(dir: string): { buf: Buffer; n: number; header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> } {
  const buf = readFileSync(join(dir, 'model.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  delete header.__metadata__;
  return { buf, n, header };
}

/** A base tensor decoded to f32 (bf16 or f32 files, as writeBase and writeTinyLlama write them). */
function readBaseTensor(file: ReturnType<typeof baseFile>, name: string): { shape: number[]; values: Float32Array } {
  const { buf, n, header } = file;
  const h = header[name];
  if (!h) throw new Error(`${name} not in the base`);
  const [a, b] = h.data_offsets as number[];
  const bytes = buf.subarray(8 + n + a, 8 + n + b);
  const count = (h.shape as number[]).reduce((x, d) => x * d, 1);
  const values = new Float32Array(count);
  if (h.dtype === 'F32') values.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  else {
    const u = new Uint32Array(1); const f = new Float32Array(u.buffer);
    for (let i = 0; i < count; i++) { u[0] = bytes.readUInt16LE(i * 2) << 16; values[i] = f[0]; }
  }
  return { shape: h.shape, values };
}

/**
 * A checkpoint folder as PEFT 0.18's save_pretrained writes it for a LLaMA-Factory LoRA run: adapter_config.json
 * (json.dumps(indent=2, sort_keys=True)) and adapter_model.safetensors in f32 (LLaMA-Factory upcasts trainable
 * parameters), keys base_model.model.<module>.lora_A.weight (r × in) / lora_B.weight (out × r), and each
 * modules_to_save module whole as base_model.model.<module>.weight.
 */
export function writePeftCheckpoint(dir: string, o: PeftOptions): void {
  const cfg = JSON.parse(readFileSync(join(o.base, 'config.json'), 'utf8'));
  const s: Shape = { layers: cfg.num_hidden_layers, hidden: cfg.hidden_size, heads: cfg.num_attention_heads, kvHeads: cfg.num_key_value_heads, ff: cfg.intermediate_size };
  const targets = o.targets === 'all' ? ALL_LINEAR : o.targets.split(',').map((t) => t.trim());
  const rng = new Rng(o.seed ?? 1);
  const tensors: Array<{ name: string; shape: number[]; data: Buffer }> = [];
  for (let l = 0; l < s.layers; l++) {
    for (const [m, [out, inp]] of Object.entries(linearShapes(s))) {
      if (!targets.includes(m.split('.')[1])) continue;
      const key = `base_model.model.model.layers.${l}.${m}`;
      const a = new Float32Array(o.rank * inp);
      for (let i = 0; i < a.length; i++) a[i] = rng.uniform(1 / Math.sqrt(inp)); // PEFT's kaiming-uniform A
      const b = new Float32Array(out * o.rank);
      const intoResidual = /o_proj|down_proj/.test(m);
      for (let row = 0; row < out; row++) {
        // Into the residual stream only on the free axes (see the file comment); elsewhere anything.
        if (intoResidual && row < FREE) continue;
        for (let k = 0; k < o.rank; k++) b[row * o.rank + k] = rng.uniform(0.05);
      }
      tensors.push({ name: `${key}.lora_A.weight`, shape: [o.rank, inp], data: f32Bytes(a) });
      tensors.push({ name: `${key}.lora_B.weight`, shape: [out, o.rank], data: f32Bytes(b) });
    }
  }
  // PEFT's modules_to_save matches every module whose name ends with the key ("norm" takes the layer norms too).
  const file = o.modulesToSave?.length ? baseFile(o.base) : undefined;
  const baseNames = file ? Object.keys(file.header) : [];
  const saved = baseNames.filter((n) => (o.modulesToSave ?? []).some((key) => n.replace(/\.weight$/, '').endsWith(key)));
  for (const name of saved) {
    const module = name.replace(/\.weight$/, '');
    let values: Float32Array;
    let shape: number[];
    if (module === 'lm_head') {
      shape = [VOCAB, s.hidden];
      values = lmHead(trained.successor, s.hidden);
    } else {
      ({ shape, values } = readBaseTensor(file!, name));
      // A trained norm: positive, so it only rescales axes and the script still holds.
      if (shape.length === 1) for (let i = 0; i < values.length; i++) values[i] *= 1 + rng.uniform(0.3);
    }
    tensors.push({ name: `base_model.model.${module}.weight`, shape, data: f32Bytes(values) });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_model.safetensors'), safetensorsBytes(tensors, 'F32'));
  const modulesToSave = o.modulesToSave?.length ? [...o.modulesToSave] : null;
  const config = {
    alpha_pattern: {}, arrow_config: null, auto_mapping: null, base_model_name_or_path: o.base, bias: 'none',
    corda_config: null, ensure_weight_tying: false, eva_config: null, exclude_modules: null, fan_in_fan_out: false,
    inference_mode: true, init_lora_weights: true, layer_replication: null, layers_pattern: null, layers_to_transform: null,
    loftq_config: {}, lora_alpha: o.alpha, lora_bias: false, lora_dropout: new PyFloat(0), megatron_config: null,
    megatron_core: 'megatron.core', modules_to_save: modulesToSave, peft_type: 'LORA', peft_version: '0.18.0',
    qalora_group_size: 16, r: o.rank, rank_pattern: {}, revision: null,
    // PEFT keeps target_modules as a set; json writes it as a list in set order (here: sorted).
    target_modules: [...targets].sort(), target_parameters: null, task_type: 'CAUSAL_LM', trainable_token_indices: null,
    use_dora: false, use_qalora: false, use_rslora: false,
  };
  writeFileSync(join(dir, 'adapter_config.json'), pyJson(config));
}
