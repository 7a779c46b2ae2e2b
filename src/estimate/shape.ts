import { UserError } from '../errors.js';

/** The numbers that decide a Llama-architecture model's size: enough to count every parameter exactly. */
export interface ModelShape {
  /** What the shape is, e.g. "Llama-3-8B" or a file name. */
  name: string;
  layers: number;
  hidden: number;
  /** FFN width (per expert for MoE). */
  ffn: number;
  heads: number;
  kvHeads: number;
  /** Usually hidden / heads; some models set it apart. */
  headDim: number;
  vocab: number;
  contextLength: number;
  /** No separate output matrix: the output layer reuses the token embeddings (Llama-3.2 1B/3B). */
  tied: boolean;
  /** MoE: experts per layer and experts used per token (Mixtral: 8 and 2). Absent for dense models. */
  experts?: number;
  expertsUsed?: number;
  /** Set when the shape is made up rather than a real model's (a bare "--params 14b"). */
  generic?: string;
}

/** The linear layers LoRA can adapt, with the Hugging Face names people write in configs. */
export const LINEAR_MODULES = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];
export const HF_LINEAR_NAMES: Record<LinearModule, string> = {
  q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', gate: 'gate_proj', up: 'up_proj', down: 'down_proj',
};

const llama3 = { vocab: 128256, tied: false };
const llama2 = { vocab: 32000, tied: false };

/**
 * Real configs (config.json of each model). `70b` is Llama-3/3.1-70B; the README's training table has a
 * Llama-2-70B column, which is `llama2-70b` here (same layers and width, 32K vocabulary).
 */
export const NAMED_SHAPES: Record<string, ModelShape> = {
  '1b': { name: 'Llama-3.2-1B', layers: 16, hidden: 2048, ffn: 8192, heads: 32, kvHeads: 8, headDim: 64, contextLength: 131072, ...llama3, tied: true },
  '3b': { name: 'Llama-3.2-3B', layers: 28, hidden: 3072, ffn: 8192, heads: 24, kvHeads: 8, headDim: 128, contextLength: 131072, ...llama3, tied: true },
  '8b': { name: 'Llama-3-8B', layers: 32, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, headDim: 128, contextLength: 8192, ...llama3 },
  '70b': { name: 'Llama-3-70B', layers: 80, hidden: 8192, ffn: 28672, heads: 64, kvHeads: 8, headDim: 128, contextLength: 8192, ...llama3 },
  '405b': { name: 'Llama-3.1-405B', layers: 126, hidden: 16384, ffn: 53248, heads: 128, kvHeads: 8, headDim: 128, contextLength: 131072, ...llama3 },
  '7b': { name: 'Llama-2-7B', layers: 32, hidden: 4096, ffn: 11008, heads: 32, kvHeads: 32, headDim: 128, contextLength: 4096, ...llama2 },
  '13b': { name: 'Llama-2-13B', layers: 40, hidden: 5120, ffn: 13824, heads: 40, kvHeads: 40, headDim: 128, contextLength: 4096, ...llama2 },
  '30b': { name: 'LLaMA-30B (33B)', layers: 60, hidden: 6656, ffn: 17920, heads: 52, kvHeads: 52, headDim: 128, contextLength: 2048, ...llama2 },
  'llama2-70b': { name: 'Llama-2-70B', layers: 80, hidden: 8192, ffn: 28672, heads: 64, kvHeads: 8, headDim: 128, contextLength: 4096, ...llama2 },
  '8x7b': { name: 'Mixtral-8x7B', layers: 32, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, headDim: 128, contextLength: 32768, ...llama2, experts: 8, expertsUsed: 2 },
};

/** "8b", "8B", "llama2-70b", or a bare size like "14b" / "500m" (then a generic Llama-3-like shape). */
export function shapeFromParams(spec: string): ModelShape {
  const key = spec.trim().toLowerCase();
  const named = NAMED_SHAPES[key];
  if (named) return { ...named };
  const m = /^(\d+(?:\.\d+)?)\s*([bm])$/.exec(key);
  const count = m ? Number(m[1]) * (m[2] === 'b' ? 1e9 : 1e6) : NaN;
  if (!(count >= 1e8 && count <= 2e12)) {
    throw new UserError(`--params "${spec}" is not a model size; use one of ${Object.keys(NAMED_SHAPES).join(', ')}, or a size from 0.1b to 2000b such as 14b`, 2);
  }
  return genericShape(count, spec.trim());
}

/**
 * A made-up dense shape of about `count` parameters in Llama-3's proportions (128K vocabulary, head size
 * 128, 8 KV heads, FFN 3.5× the width, about one layer per 128 of width). Only for sizes with no real model.
 */
export function genericShape(count: number, label: string): ModelShape {
  let best: ModelShape | undefined;
  for (let hidden = 1024; hidden <= 32768; hidden += 256) {
    const heads = hidden / 128;
    const s: ModelShape = {
      name: `generic ${label}`, layers: Math.max(4, Math.round(hidden / 128)), hidden, ffn: Math.round((hidden * 3.5) / 256) * 256,
      heads, kvHeads: Math.min(8, heads), headDim: 128, vocab: 128256, contextLength: 8192, tied: false,
      generic: `a made-up Llama-3-like shape of about ${label} parameters, not a real model`,
    };
    if (!best || Math.abs(countParams(s).total - count) < Math.abs(countParams(best).total - count)) best = s;
  }
  return best!;
}

/** One linear matrix kind: its input and output width, and how many of it each layer has (experts). */
export interface LinearSpec {
  module: LinearModule;
  in: number;
  out: number;
  perLayer: number;
}

export function linearSpecs(s: ModelShape): LinearSpec[] {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const e = s.experts ?? 1;
  return [
    { module: 'q', in: s.hidden, out: q, perLayer: 1 },
    { module: 'k', in: s.hidden, out: kv, perLayer: 1 },
    { module: 'v', in: s.hidden, out: kv, perLayer: 1 },
    { module: 'o', in: q, out: s.hidden, perLayer: 1 },
    { module: 'gate', in: s.hidden, out: s.ffn, perLayer: e },
    { module: 'up', in: s.hidden, out: s.ffn, perLayer: e },
    { module: 'down', in: s.ffn, out: s.hidden, perLayer: e },
  ];
}

export interface ParamCount {
  embedding: number;
  /** q, k, v, o over all layers (k and v are narrower with grouped-query attention). */
  attention: number;
  /** gate, up, down over all layers and experts. */
  ffn: number;
  /** MoE router (hidden × experts per layer). */
  router: number;
  /** Two RMSNorm weight vectors per layer, plus the final one. */
  norms: number;
  /** The output matrix; 0 when tied to the embeddings. */
  output: number;
  /** Everything in the layers' linear matrices (what QLoRA quantizes). */
  linear: number;
  total: number;
}

/** Exact parameter count of a Llama-architecture model (no biases, SwiGLU FFN, RMSNorm). */
export function countParams(s: ModelShape): ParamCount {
  let attention = 0, ffn = 0;
  for (const l of linearSpecs(s)) {
    const n = l.in * l.out * l.perLayer * s.layers;
    if (l.module === 'gate' || l.module === 'up' || l.module === 'down') ffn += n;
    else attention += n;
  }
  const embedding = s.vocab * s.hidden;
  const output = s.tied ? 0 : s.vocab * s.hidden;
  const router = s.experts ? s.hidden * s.experts * s.layers : 0;
  const norms = (2 * s.layers + 1) * s.hidden;
  const linear = attention + ffn;
  return { embedding, attention, ffn, router, norms, output, linear, total: embedding + linear + router + norms + output };
}

/** One line that says what the shape is. */
export function describeShape(s: ModelShape): string {
  const moe = s.experts ? `, ${s.experts} experts (${s.expertsUsed ?? '?'} per token)` : '';
  const gqa = s.kvHeads !== s.heads ? `${s.heads} heads / ${s.kvHeads} KV heads` : `${s.heads} heads`;
  return `${s.layers} layers × ${s.hidden} wide, FFN ${s.ffn}${moe}, ${gqa} of ${s.headDim}, vocabulary ${s.vocab}` +
    `${s.tied ? ' (output tied to embeddings)' : ''}, context ${s.contextLength}`;
}
