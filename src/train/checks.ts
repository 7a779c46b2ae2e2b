import { execFileSync } from 'node:child_process';
import { UserError } from '../errors.js';
import { HF_LINEAR_NAMES, LINEAR_MODULES, type LinearModule, type ModelShape } from '../estimate/shape.js';
import { GIB, gib, type Term } from '../estimate/terms.js';
import { EXTRA_MODULES, type ExtraModule, estimateTraining, type Method, type TrainingEstimate } from '../estimate/training.js';
import type { TrainConfig } from './args.js';
import type { TrainModel } from './model.js';
import type { ZeroStage } from './deepspeed.js';

/** LLaMA-Factory templates made for a chat-tuned model's own format; `default`, `alpaca`, `vicuna`… are plain text. */
const INSTRUCT_TEMPLATES = new Set(['llama3', 'llama4', 'mllama', 'llava_next_llama3']);

/**
 * The classic mistake: the llama3 template on a base model, whose <|start_header_id|>… tokens were never trained
 * (their embeddings are near zero), so the fine-tune starts from noise where the format should be. Refused unless
 * the user set template= themselves (then a warning); the reverse, `default` on an Instruct model, throws away
 * the format it knows: a warning.
 */
export function checkTemplate(config: TrainConfig, model: TrainModel, recipeName: string, explicit: boolean): string[] {
  const t = String(config.template ?? '');
  if (model.chat === 'base' && INSTRUCT_TEMPLATES.has(t)) {
    const msg = `template ${t} on a base model (${model.chatWhy}): its header tokens were never trained; LLaMA-Factory advises template default for base models`;
    if (!explicit) throw new UserError(`${msg}: use --recipe sft-base-zh, or template=default (recipe ${recipeName} is for an Instruct model)`);
    return [`warning: ${msg} (kept: you set template=${t})`];
  }
  // A catalog model tuned to ChatML (dolphin, neural-chat) learns the Llama-3 headers instead under template llama3.
  if (model.catalogTemplate === 'chatml' && t !== 'chatml' && !explicit) {
    return [`warning: ${model.given} chats in ChatML (the catalog's template for it); template ${t} teaches it another format; template=chatml keeps its own`];
  }
  if (model.chat === 'instruct' && t === 'default') {
    return [`warning: template default on a chat model (${model.chatWhy}): the run teaches it a plain-text format instead of the one it knows; template=llama3 keeps it`];
  }
  return [];
}

/**
 * LLaMA-Factory's templates with a tool format of their own (format_tools=ToolFormatter(tool_format=…) in
 * template.py at ff6d4d12): every other template writes tools with DefaultToolUtils' prompt.
 */
const OWN_TOOL_FORMAT = new Set([
  'llama3', 'llama4', 'mllama', 'llava_next_llama3', 'bailing_v2', 'chatglm3', 'gemma4', 'gemma4n', 'glm4', 'glm4_moe', 'glm4v',
  'glm4_5v', 'glm_ocr', 'glm4_7', 'glmz1', 'keye_vl', 'lfm2', 'lfm2_vl', 'moss_vl', 'llava_next_mistral', 'llava_next_qwen',
  'llava_next_video_mistral', 'mimo', 'mimo_v2', 'mimo_vl', 'minimax1', 'minimax2', 'ministral', 'mistral', 'mistral_small',
  'ministral3', 'pixtral', 'qwen', 'qwen3', 'qwen3_nothink', 'qwen2_omni', 'qwen3_omni', 'qwen3_omni_nothink', 'qwen2_vl',
  'qwen3_vl', 'qwen3_vl_nothink', 'qwen3_5', 'qwen3_5_nothink', 'qwen3_6', 'seed_oss', 'aeva',
]);

/** Does this template write the tools with LLaMA-Factory's default tool prompt (tool_utils.py DefaultToolUtils)? */
export const usesDefaultToolPrompt = (template: string) => !OWN_TOOL_FORMAT.has(template);

/** LLaMA-Factory's config, in the estimate's terms. */
export function trainingMethod(config: TrainConfig): Method {
  if (config.finetuning_type === 'full' || config.finetuning_type === 'freeze') return config.pure_bf16 === true ? 'full-16' : 'full-amp';
  if (config.quantization_bit === 4) return 'qlora-4';
  if (config.quantization_bit === 8) return 'qlora-8';
  return 'lora';
}

function loraTargets(v: unknown): LinearModule[] {
  const s = typeof v === 'string' ? v : 'all';
  if (s.trim() === 'all') return [...LINEAR_MODULES];
  const names = s.split(',').map((x) => x.trim());
  return LINEAR_MODULES.filter((m) => names.includes(HF_LINEAR_NAMES[m]) || names.includes(m));
}

function extras(v: unknown): ExtraModule[] {
  const names = typeof v === 'string' ? v.split(',').map((x) => x.trim()) : [];
  return EXTRA_MODULES.filter((m) => names.includes(m));
}

export interface MemoryPlan {
  estimate: TrainingEstimate;
  /** Bytes per GPU after ZeRO sharding. */
  perGpu: number;
  zero?: ZeroStage;
  gpuMem?: number;
  gpuMemFrom?: string;
}

/**
 * Per-GPU memory under ZeRO: stage 3 splits weights, gradients and optimizer states over every GPU of the run,
 * stage 2 the gradients and optimizer states; activations and the framework stay whole. An approximation
 * (DeepSpeed keeps buffers and gathers a layer at a time), stated as such.
 */
export function perGpuBytes(e: TrainingEstimate, zero: ZeroStage | undefined, world: number): number {
  const split = (t: Term) => zero === 3 ? ['weights', 'gradients', 'optimizer'].includes(t.group) : zero === 2 ? ['gradients', 'optimizer'].includes(t.group) : false;
  return e.terms.reduce((s, t) => s + (split(t) ? t.bytes / world : t.bytes), 0);
}

export function estimateRun(config: TrainConfig, shape: ModelShape): TrainingEstimate {
  const e = estimateTraining(shape, {
    method: trainingMethod(config),
    batch: typeof config.per_device_train_batch_size === 'number' ? config.per_device_train_batch_size : 1,
    seq: typeof config.cutoff_len === 'number' ? config.cutoff_len : 2048,
    loraRank: typeof config.lora_rank === 'number' ? config.lora_rank : 8,
    loraTargets: loraTargets(config.lora_target),
    extra: extras(config.additional_target),
    dpo: config.stage === 'dpo',
  });
  // ORPO and SimPO train against no reference model (LLaMA-Factory: use_ref_model is false for them), so a full
  // fine-tune holds no frozen copy; both answers still go through the model.
  if (config.stage === 'dpo' && (config.pref_loss === 'orpo' || config.pref_loss === 'simpo')) {
    const terms = e.terms.filter((t) => !t.label.startsWith('DPO reference model'));
    return { ...e, terms, total: terms.reduce((n, t) => n + t.bytes, 0) };
  }
  return e;
}

/**
 * The DeepSpeed stage a run gets: full fine-tuning always ZeRO-3 (LLaMA-Factory's train_full examples); QLoRA none
 * (bitsandbytes 4-bit under ZeRO-3 is a special case; DDP); LoRA on one GPU none, on several ZeRO-2, or ZeRO-3
 * when only that fits.
 */
export function chooseZero(config: TrainConfig, shape: ModelShape | undefined, world: number, gpuMem: number | undefined): ZeroStage | undefined {
  const method = trainingMethod(config);
  if (method === 'full-amp' || method === 'full-16') return 3;
  if (method !== 'lora' || world <= 1) return undefined;
  if (shape && gpuMem !== undefined) {
    const e = estimateRun(config, shape);
    if (perGpuBytes(e, 2, world) > gpuMem && perGpuBytes(e, 3, world) <= gpuMem) return 3;
  }
  return 2;
}

/** --gpu-mem GB, else what nvidia-smi says the first GPU has (MiB), else nothing (no fit check). */
export function gpuMemory(flag: number | undefined): { bytes?: number; from: string } {
  if (flag !== undefined) return { bytes: flag * GIB, from: '--gpu-mem' };
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    const mib = Number(out.trim().split('\n')[0]);
    if (mib > 0) return { bytes: mib * 2 ** 20, from: 'nvidia-smi' };
  } catch { /* no NVIDIA driver here: the run is probably set up on another machine */ }
  return { from: 'none' };
}

/** The cutoff's multiple: LLaMA-Factory packs nothing to it, but round numbers are what people write. */
export function suggestCutoff(p99: number): number {
  return Math.max(256, Math.ceil(p99 / 256) * 256);
}

export const fmtGib = (b: number) => gib(b);

/** Keys whose value must be positive: LLaMA-Factory and transformers take 0 or less without a word and then train nothing (or divide by it). */
const AT_LEAST_1 = ['cutoff_len', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'lora_rank', 'logging_steps', 'save_steps'];
const MORE_THAN_0 = ['learning_rate', 'num_train_epochs'];

export function checkRanges(config: TrainConfig): string | undefined {
  for (const k of AT_LEAST_1) {
    const v = config[k];
    if (typeof v === 'number' && v < 1) return `${k} must be at least 1, not ${v}`;
  }
  for (const k of MORE_THAN_0) {
    const v = config[k];
    if (typeof v === 'number' && !(v > 0)) return `${k} must be more than 0, not ${v}`;
  }
  return undefined;
}

/**
 * The combinations LLaMA-Factory 0.9.6.dev0 refuses (hparams/parser.py get_train_args, finetuning_args.py
 * __post_init__, model_utils/quantization.py, data/loader.py) or silently ignores, checked before anything is
 * written: LLaMA-Factory finds them only after Python, torch and often the model have loaded, on every node.
 * `zero` is the DeepSpeed stage the run gets (ours, or read from the user's file). One line, LLaMA-Factory's own
 * message quoted, and what to do.
 */
export function checkCombination(config: TrainConfig, zero: ZeroStage | undefined): string | undefined {
  const ft = String(config.finetuning_type ?? 'lora');
  const q = config.quantization_bit;
  const ds = typeof config.deepspeed === 'string' ? config.deepspeed : undefined;
  const z3 = zero === 3 ? ` with DeepSpeed ZeRO-3 (${ds})` : undefined;
  const lf = (m: string) => `LLaMA-Factory: "${m}"`;
  if (q != null && ft !== 'lora' && ft !== 'oft') {
    return `quantization_bit ${q} with finetuning_type ${ft}: ${lf('Quantization is only compatible with the LoRA or OFT method.')}; use --recipe qlora-sft-zh, or drop quantization_bit`;
  }
  if (q != null && q !== 4 && z3) {
    return `quantization_bit ${q}${z3}: ${lf('Only 4-bit quantized model can use fsdp+qlora or auto device map.')}; use quantization_bit=4, or leave deepspeed out`;
  }
  if (config.pure_bf16 === true && z3) return `pure_bf16${z3}: ${lf('`pure_bf16` is incompatible with DeepSpeed ZeRO-3.')}; drop pure_bf16 (bf16: true is mixed precision)`;
  if (config.use_unsloth === true && z3) return `use_unsloth${z3}: ${lf('Unsloth is incompatible with DeepSpeed ZeRO-3.')}`;
  if (ds && (config.use_galore === true || config.use_apollo === true)) return `use_galore/use_apollo with deepspeed: ${lf('GaLore and APOLLO are incompatible with DeepSpeed yet.')}`;
  if (config.adapter_name_or_path != null && ft !== 'lora') return `adapter_name_or_path with finetuning_type ${ft}: ${lf('Adapter is only valid for the LoRA method.')}`;
  if (config.stage === 'kto') {
    return 'stage kto reads single answers marked good or bad (a kto_tag column), which train init does not write; LLaMA-Factory refuses preference pairs there ("The dataset is not applicable in the current training stage."); use stage dpo';
  }
  if (config.stage === 'ppo' && config.reward_model == null) return `stage ppo without reward_model: ${lf('`reward_model` is necessary for PPO training.')}`;
  const loss = String(config.pref_loss ?? 'sigmoid');
  if (config.stage === 'dpo' && (loss === 'orpo' || loss === 'simpo') && config.ref_model != null) {
    return `pref_loss ${loss} uses no reference model: LLaMA-Factory ignores ref_model there (use_ref_model is false for orpo and simpo); drop ref_model, or use pref_loss=sigmoid`;
  }
  if (config.stage === 'dpo' && loss !== 'sigmoid' && typeof config.dpo_label_smoothing === 'number' && config.dpo_label_smoothing > 1e-6) {
    return `dpo_label_smoothing with pref_loss ${loss}: ${lf('`dpo_label_smoothing` is only valid for sigmoid loss function.')}`;
  }
  if (config.stage !== 'sft' && config.predict_with_generate === true) return `predict_with_generate in stage ${config.stage}: ${lf('`predict_with_generate` cannot be set as True except SFT.')}`;
  if (config.eval_dataset != null && typeof config.val_size === 'number' && config.val_size > 1e-6) return `val_size with eval_dataset: ${lf('Cannot specify `val_size` if `eval_dataset` is not None.')}`;
  if (config.mask_history === true && config.train_on_prompt === true) return `mask_history with train_on_prompt: ${lf('`mask_history` is incompatible with `train_on_prompt`.')}`;
  if (config.streaming === true && config.max_samples != null) return `streaming with max_samples: ${lf('`max_samples` is incompatible with `streaming`.')}`;
  if (config.streaming === true && (config.max_steps == null || config.max_steps === -1)) return `streaming without max_steps: ${lf('Please specify `max_steps` in streaming mode.')}`;
  if ((config.do_eval === true || config.do_predict === true) && config.eval_dataset == null && !(typeof config.val_size === 'number' && config.val_size >= 1e-6)) {
    return `do_eval without eval_dataset or val_size: ${lf('Please make sure eval_dataset be provided or val_size >1e-6')}; add val_size=0.05`;
  }
  return undefined;
}
