/**
 * A minimal real PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors with PEFT's key names), for the
 * stand-in llamafactory-cli's checkpoints. It has the signature of test/helpers/trainCheckpoint.ts's
 * writePeftCheckpoint (helper D's, which also scripts what the trained model answers); the stand-in switches to
 * that one when it lands. Shapes come from the base folder's config.json when there is one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/gguf/numbers.js';

interface Shape { layers: number; hidden: number; heads: number; kvHeads: number; ff: number; vocab: number }

/** The tiny Llama of the adapter tests (test/helpers/loraTiny.ts TINY), for a base that is not a folder here. */
const DEFAULT_SHAPE: Shape = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128, vocab: 128256 };

function baseShape(base: string): Shape {
  const p = join(base, 'config.json');
  if (!existsSync(p)) return DEFAULT_SHAPE;
  const c = JSON.parse(readFileSync(p, 'utf8')) as Record<string, number>;
  return {
    layers: c.num_hidden_layers, hidden: c.hidden_size, heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads ?? c.num_attention_heads, ff: c.intermediate_size, vocab: c.vocab_size,
  };
}

const ALL_LINEAR = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export function writePeftCheckpoint(dir: string, o: { base: string; rank: number; alpha: number; targets: string; modulesToSave?: string[]; seed?: number }): void {
  const s = baseShape(o.base);
  const hd = s.hidden / s.heads;
  // [in, out] of each linear layer of a Llama block
  const dims: Record<string, [number, number]> = {
    q_proj: [s.hidden, s.heads * hd], k_proj: [s.hidden, s.kvHeads * hd], v_proj: [s.hidden, s.kvHeads * hd], o_proj: [s.heads * hd, s.hidden],
    gate_proj: [s.hidden, s.ff], up_proj: [s.hidden, s.ff], down_proj: [s.ff, s.hidden],
  };
  const targets = o.targets === 'all' ? ALL_LINEAR : o.targets.split(',').map((t) => t.trim());
  const rng = new Rng(o.seed ?? 1);
  const tensors: { name: string; shape: number[] }[] = [];
  for (let l = 0; l < s.layers; l++) {
    for (const t of targets) {
      const [inp, out] = dims[t];
      const mod = ['gate_proj', 'up_proj', 'down_proj'].includes(t) ? 'mlp' : 'self_attn';
      tensors.push({ name: `base_model.model.model.layers.${l}.${mod}.${t}.lora_A.weight`, shape: [o.rank, inp] });
      tensors.push({ name: `base_model.model.model.layers.${l}.${mod}.${t}.lora_B.weight`, shape: [out, o.rank] });
    }
  }
  // modules_to_save are saved whole, under the module's own name (PEFT drops ".modules_to_save.default").
  for (const m of o.modulesToSave ?? []) {
    if (m === 'lm_head') tensors.push({ name: 'base_model.model.lm_head.weight', shape: [s.vocab, s.hidden] });
    else if (m === 'norm') tensors.push({ name: 'base_model.model.model.norm.weight', shape: [s.hidden] });
    else for (let l = 0; l < s.layers; l++) tensors.push({ name: `base_model.model.model.layers.${l}.${m}.weight`, shape: [s.hidden] });
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors.map((t) => {
    const v = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < v.length; i++) v[i] = rng.uniform(0.02);
    return { ...t, values: v };
  }));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({
    alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: o.base, bias: 'none', fan_in_fan_out: false, inference_mode: true,
    init_lora_weights: true, layers_pattern: null, layers_to_transform: null, lora_alpha: o.alpha, lora_dropout: 0.0,
    modules_to_save: o.modulesToSave?.length ? o.modulesToSave : null, peft_type: 'LORA', r: o.rank, rank_pattern: {}, revision: null,
    target_modules: targets, task_type: 'CAUSAL_LM', use_dora: false, use_rslora: false,
  }, null, 2));
}

/** safetensors: u64 header length, JSON header, F32 tensor bytes back to back. */
function writeSafetensors(path: string, tensors: { name: string; shape: number[]; values: Float32Array }[]) {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + t.values.byteLength] };
    at += t.values.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.values.buffer))]));
}
