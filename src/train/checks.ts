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
  if (model.chat === 'instruct' && t === 'default') {
    return [`warning: template default on a chat model (${model.chatWhy}): the run teaches it a plain-text format instead of the one it knows; template=llama3 keeps it`];
  }
  return [];
}

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
  return estimateTraining(shape, {
    method: trainingMethod(config),
    batch: typeof config.per_device_train_batch_size === 'number' ? config.per_device_train_batch_size : 1,
    seq: typeof config.cutoff_len === 'number' ? config.cutoff_len : 2048,
    loraRank: typeof config.lora_rank === 'number' ? config.lora_rank : 8,
    loraTargets: loraTargets(config.lora_target),
    extra: extras(config.additional_target),
    dpo: config.stage === 'dpo',
  });
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
