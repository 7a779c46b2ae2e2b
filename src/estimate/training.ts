import { UserError } from '../errors.js';
import { countParams, HF_LINEAR_NAMES, LINEAR_MODULES, type LinearModule, linearSpecs, type ModelShape } from './shape.js';
import { GIB, int, sumBytes, type Term } from './terms.js';

/**
 * How the model is trained, in the rows of the README's (LLaMA-Factory's) table:
 * full-amp  Full, AMP: fp32 weights under bf16/fp16 autocast (LLaMA-Factory `bf16: true`)
 * full-16   Full, 16:  everything in bf16, optimizer states too (LLaMA-Factory `pure_bf16: true`)
 * lora      LoRA, 16:  frozen bf16 base + LoRA adapters
 * qlora-8   QLoRA, 8:  frozen LLM.int8 base (bitsandbytes) + LoRA
 * qlora-4   QLoRA, 4:  frozen NF4 base with double quantization (bitsandbytes) + LoRA
 */
export const METHODS = ['full-amp', 'full-16', 'lora', 'qlora-8', 'qlora-4'] as const;
export type Method = (typeof METHODS)[number];

/** Modules besides the LoRA adapters that can be made trainable (PEFT `modules_to_save`, LLaMA-Factory `additional_target`). */
export const EXTRA_MODULES = ['lm_head', 'embed_tokens', 'input_layernorm', 'post_attention_layernorm', 'norm'] as const;
export type ExtraModule = (typeof EXTRA_MODULES)[number];

export interface TrainingOptions {
  method: Method;
  /** Sequences per step on one device (per_device_train_batch_size). */
  batch: number;
  /** Tokens per sequence (cutoff_len). */
  seq: number;
  loraRank: number;
  loraTargets: LinearModule[];
  extra: ExtraModule[];
  /** DPO: each example is a chosen and a rejected answer, and a reference model scores both. */
  dpo: boolean;
}

/**
 * Defaults: LLaMA-Factory's. Its maintainer says the README table was measured at a sequence length of 1024
 * (hiyouga/LlamaFactory#4956); batch 1 and LoRA rank 8 on every linear layer are its example configs'.
 */
export const TRAINING_DEFAULTS = { batch: 1, seq: 1024, loraRank: 8, loraTargets: [...LINEAR_MODULES] as LinearModule[] };

/** CUDA context, cuBLAS/cuDNN workspaces and the kernels PyTorch loads: a fixed allowance, stated as such. */
export const FRAMEWORK_OVERHEAD = 1 * GIB;

export function parseMethod(s: string): Method {
  const m = s.trim().toLowerCase();
  if ((METHODS as readonly string[]).includes(m)) return m as Method;
  throw new UserError(`unknown --method "${s}"; choose one of: ${METHODS.join(', ')}`, 2);
}

/** "all", "attn", "mlp", or a list like "q,v" / "q_proj,v_proj". */
export function parseTargets(s: string): LinearModule[] {
  const out = new Set<LinearModule>();
  for (const raw of s.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (raw === 'all' || raw === 'all-linear') LINEAR_MODULES.forEach((m) => out.add(m));
    else if (raw === 'attn' || raw === 'attention') (['q', 'k', 'v', 'o'] as const).forEach((m) => out.add(m));
    else if (raw === 'mlp' || raw === 'ffn') (['gate', 'up', 'down'] as const).forEach((m) => out.add(m));
    else {
      const m = LINEAR_MODULES.find((x) => x === raw || HF_LINEAR_NAMES[x] === raw);
      if (!m) throw new UserError(`unknown LoRA target "${raw}" in --lora-targets; use all, attn, mlp, or a list of ${LINEAR_MODULES.join(', ')} (or their _proj names)`, 2);
      out.add(m);
    }
  }
  if (!out.size) throw new UserError('--lora-targets is empty; use all, attn, mlp, or a list such as q,v', 2);
  return LINEAR_MODULES.filter((m) => out.has(m));
}

/** "lm_head,norms" → the modules; "norms" is the README recipe's input_layernorm, post_attention_layernorm and norm. */
export function parseExtras(s: string): ExtraModule[] {
  const out = new Set<ExtraModule>();
  for (const raw of s.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (raw === 'norms') (['input_layernorm', 'post_attention_layernorm', 'norm'] as const).forEach((m) => out.add(m));
    else if (raw === 'embed' || raw === 'embeddings') out.add('embed_tokens');
    else if ((EXTRA_MODULES as readonly string[]).includes(raw)) out.add(raw as ExtraModule);
    else throw new UserError(`unknown module "${raw}" in --train-extra; use lm_head, embed_tokens, norms, input_layernorm, post_attention_layernorm or norm`, 2);
  }
  return EXTRA_MODULES.filter((m) => out.has(m));
}

export interface LoraCount {
  total: number;
  /** Σ(in+out) over the adapted matrices of one layer (experts included). */
  perLayerWidth: number;
  formula: string;
}

/** Exact LoRA parameter count: A is rank×in, B is out×rank, for every adapted matrix. */
export function loraParams(s: ModelShape, rank: number, targets: readonly LinearModule[]): LoraCount {
  const specs = linearSpecs(s).filter((l) => targets.includes(l.module));
  const perLayerWidth = specs.reduce((sum, l) => sum + (l.in + l.out) * l.perLayer, 0);
  const total = rank * perLayerWidth * s.layers;
  const experts = s.experts && specs.some((l) => l.perLayer > 1) ? ` (FFN matrices × ${s.experts} experts)` : '';
  return {
    total, perLayerWidth,
    formula: `${rank} × Σ(in+out) over ${specs.map((l) => l.module).join(',')}${experts} = ${rank} × ${int(perLayerWidth)} × ${s.layers} layers = ${int(total)}`,
  };
}

/** Parameters of the extra trainable modules. */
export function extraParams(s: ModelShape, extra: readonly ExtraModule[]): { total: number; parts: string[] } {
  const size: Record<ExtraModule, [number, string]> = {
    lm_head: [s.vocab * s.hidden, `lm_head ${s.vocab}×${s.hidden}`],
    embed_tokens: [s.vocab * s.hidden, `embed_tokens ${s.vocab}×${s.hidden}`],
    input_layernorm: [s.layers * s.hidden, `input_layernorm ${s.layers}×${s.hidden}`],
    post_attention_layernorm: [s.layers * s.hidden, `post_attention_layernorm ${s.layers}×${s.hidden}`],
    norm: [s.hidden, `norm ${s.hidden}`],
  };
  return { total: extra.reduce((n, m) => n + size[m][0], 0), parts: extra.map((m) => size[m][1]) };
}

export interface TrainingEstimate {
  method: Method;
  params: number;
  trainable: number;
  /** The trainable count as arithmetic. */
  trainableFormula: string;
  terms: Term[];
  total: number;
  assumptions: string[];
}

export function estimateTraining(s: ModelShape, o: TrainingOptions): TrainingEstimate {
  const p = countParams(s);
  const P = p.total;
  const full = o.method === 'full-amp' || o.method === 'full-16';
  const terms: Term[] = [];
  const add = (group: Term['group'], label: string, bytes: number, formula: string) => terms.push({ group, label, bytes, formula });

  // What is trained.
  let trainable = P;
  let trainableFormula = `all ${int(P)} parameters`;
  if (!full) {
    const lora = loraParams(s, o.loraRank, o.loraTargets);
    const ex = extraParams(s, o.extra);
    trainable = lora.total + ex.total;
    trainableFormula = `LoRA params = ${lora.formula}` +
      (ex.total ? `; + ${ex.parts.join(' + ')} = ${int(ex.total)}; trainable = ${int(trainable)}` : '');
  }

  // Weights.
  const quantized = p.linear + p.router;
  const unquantized = P - quantized;
  switch (o.method) {
    case 'full-amp':
      add('weights', 'fp32 master weights', 4 * P, `${int(P)} params × 4 B`);
      add('weights', '16-bit copies autocast makes for the matmuls', 2 * P, `${int(P)} params × 2 B`);
      break;
    case 'full-16':
    case 'lora':
      add('weights', full ? 'bf16 weights' : 'frozen bf16 base', 2 * P, `${int(P)} params × 2 B`);
      break;
    case 'qlora-8': {
      const rows = linearSpecs(s).reduce((n, l) => n + l.out * l.perLayer, 0) * s.layers + (s.experts ?? 0) * s.layers;
      add('weights', 'int8 linear layers (LLM.int8)', quantized, `${int(quantized)} params × 1 B`);
      add('weights', 'their fp32 scales, one per output row', 4 * rows, `${int(rows)} rows × 4 B`);
      add('weights', 'embeddings, lm_head, norms kept 16-bit', 2 * unquantized, `${int(unquantized)} params × 2 B`);
      break;
    }
    case 'qlora-4': {
      // NF4 with double quantization: one 8-bit absmax per 64 weights, one fp32 constant per 256 of those.
      const consts = quantized / 64 + (4 * quantized) / (64 * 256);
      add('weights', 'NF4 linear layers', quantized / 2, `${int(quantized)} params × 0.5 B`);
      add('weights', 'double-quantized block constants', consts, `${int(quantized)} × (1 B / 64 + 4 B / (64×256)) ≈ 0.127 bits/param`);
      add('weights', 'embeddings, lm_head, norms kept 16-bit', 2 * unquantized, `${int(unquantized)} params × 2 B`);
      break;
    }
  }

  // Gradients and AdamW state, for the trainable parameters only.
  if (o.method === 'full-amp') {
    add('gradients', 'fp32 gradients', 4 * P, `${int(P)} × 4 B`);
    add('optimizer', 'AdamW m and v in fp32', 8 * P, `${int(P)} × 2 × 4 B`);
  } else if (o.method === 'full-16') {
    add('gradients', 'bf16 gradients', 2 * P, `${int(P)} × 2 B`);
    add('optimizer', 'AdamW m and v in bf16', 4 * P, `${int(P)} × 2 × 2 B`);
  } else {
    // LLaMA-Factory and PEFT keep trainable parameters in fp32; an extra module's frozen 16-bit original stays in the base.
    add('weights', 'trainable parameters in fp32', 4 * trainable, `${int(trainable)} trainable × 4 B`);
    add('gradients', 'fp32 gradients of the trainable parameters', 4 * trainable, `${int(trainable)} × 4 B`);
    add('optimizer', 'AdamW m and v in fp32', 8 * trainable, `${int(trainable)} × 2 × 4 B`);
  }
  if (o.dpo && full) add('weights', 'DPO reference model (frozen bf16 copy)', 2 * P, `${int(P)} params × 2 B`);

  // Activations, with gradient checkpointing at every decoder layer.
  const seqs = o.batch * (o.dpo ? 2 : 1);
  const T = seqs * o.seq;
  const tok = `${o.batch}${o.dpo ? ' × 2 (chosen + rejected)' : ''} × ${o.seq} tokens`;
  const hiddenBytes = o.method === 'full-amp' ? 4 : 2; // under autocast the residual stream stays fp32
  add('activations', 'layer inputs kept by gradient checkpointing', s.layers * T * s.hidden * hiddenBytes,
    `${s.layers} layers × ${tok} × ${s.hidden} × ${hiddenBytes} B`);
  const kvDim = s.kvHeads * s.headDim;
  const qDim = s.heads * s.headDim;
  const ffnActive = s.ffn * (s.expertsUsed ?? 1);
  const perToken = 3 * s.hidden + 3 * qDim + 4 * kvDim + 4 * ffnActive;
  add('activations', 'one layer recomputed in backward, plus gradients', T * perToken * 2 * 2,
    `${tok} × (3×${s.hidden} + 3×${qDim} + 4×${kvDim} + 4×${ffnActive}${s.expertsUsed ? ` [${s.expertsUsed} experts]` : ''}) × 2 B × 2`);
  add('activations', 'logits and loss over the vocabulary', T * s.vocab * 14,
    `${tok} × ${s.vocab} × 14 B (16-bit logits, fp32 copy, fp32 log-probs, fp32 gradient)`);
  if (o.method === 'qlora-4' || o.method === 'qlora-8') {
    const biggest = Math.max(...linearSpecs(s).map((l) => l.in * l.out));
    add('activations', 'one linear layer dequantized to 16-bit', biggest * 2, `${int(biggest)} × 2 B`);
  }
  add('overhead', 'CUDA context, library workspaces, kernels', FRAMEWORK_OVERHEAD, '1 GiB allowance');

  const assumptions = [
    `batch ${o.batch} × ${o.seq} tokens${o.dpo ? ' (DPO: a chosen and a rejected answer each, so twice the activations)' : ''}, gradient checkpointing at every layer, attention without an s×s matrix (SDPA/FlashAttention)`,
    'AdamW; no ZeRO/FSDP sharding or CPU offload (with ZeRO-3 on N GPUs the weights, gradients and optimizer states divide by N)',
  ];
  if (!full) assumptions.push('trainable parameters, their gradients and AdamW states in fp32, as LLaMA-Factory and PEFT keep them');
  if (o.dpo && !full) assumptions.push('DPO reference = the same base with the adapters switched off, so no second copy of the model');
  return { method: o.method, params: P, trainable, trainableFormula, terms, total: sumBytes(terms), assumptions };
}
