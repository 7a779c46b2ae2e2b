import { UserError } from '../errors.js';
import { type ModelShape } from './shape.js';
import { GIB, int, type Term } from './terms.js';

/** Parameter count of Llama-3-8B: llama-quantize states its mixes' sizes for that model. */
const LLAMA3_8B_PARAMS = 8_030_261_248;

export interface QuantType {
  name: string;
  /** Bits per weight over the whole file. */
  bpw: number;
  /** Where the number comes from. */
  source: string;
  /** Shown by default (the others only with --quant). */
  common: boolean;
}

/** A llama.cpp mix whose size llama-quantize states for Llama-3-8B (in GiB): its effective bits per weight. */
const measured = (name: string, gibOn8b: number, common = true): QuantType => ({
  name, bpw: (gibOn8b * GIB * 8) / LLAMA3_8B_PARAMS, common,
  source: `llama-quantize: ${gibOn8b.toFixed(2)} GiB for Llama-3-8B`,
});
const nominal = (name: string, bpw: number, common = false): QuantType => ({
  name, bpw, common, source: `nominal ${bpw} bits per weight (a mix's embedding and output tensors add a little)`,
});

/**
 * GGUF weight types. K-quant mixes (Q4_K_M …) keep some tensors at higher precision, so their honest size
 * per weight is the whole file's, as llama.cpp's quantize tool reports it (tools/quantize/quantize.cpp).
 */
export const QUANT_TYPES: QuantType[] = [
  { name: 'F32', bpw: 32, source: '4 bytes per weight', common: true },
  { name: 'F16', bpw: 16, source: '2 bytes per weight (BF16 the same)', common: true },
  { name: 'BF16', bpw: 16, source: '2 bytes per weight', common: false },
  { name: 'Q8_0', bpw: 8.5, source: '34-byte blocks of 32 weights', common: true },
  measured('Q6_K', 6.14),
  measured('Q5_K_M', 5.33),
  measured('Q5_K_S', 5.21),
  measured('Q5_1', 5.65, false),
  measured('Q5_0', 5.21, false),
  measured('Q4_K_M', 4.58),
  measured('Q4_K_S', 4.37),
  measured('Q4_1', 4.78, false),
  measured('Q4_0', 4.34),
  nominal('IQ4_NL', 4.5),
  nominal('IQ4_XS', 4.25, true),
  measured('Q3_K_L', 4.03, false),
  measured('Q3_K_M', 3.74),
  measured('Q3_K_S', 3.41, false),
  nominal('IQ3_M', 3.66),
  nominal('IQ3_S', 3.44),
  nominal('IQ3_XS', 3.3),
  nominal('IQ3_XXS', 3.06),
  measured('Q2_K', 2.96),
  nominal('IQ2_M', 2.7),
  nominal('IQ2_S', 2.5),
  nominal('IQ2_XS', 2.31),
  nominal('IQ2_XXS', 2.06),
  nominal('IQ1_M', 1.75),
  nominal('IQ1_S', 1.56),
];

export function findQuant(name: string): QuantType {
  const q = QUANT_TYPES.find((t) => t.name === name.trim().toUpperCase());
  if (!q) throw new UserError(`unknown --quant "${name}"; choose one of: ${QUANT_TYPES.map((t) => t.name).join(', ')}`, 2);
  return q;
}

/** KV cache element types llama.cpp accepts (bytes per element, from the block layout). */
export const KV_TYPES: Record<string, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q5_1: 24 / 32, q5_0: 22 / 32, q4_1: 20 / 32, q4_0: 18 / 32 };

export function kvBytesPerElement(type: string): number {
  const b = KV_TYPES[type.trim().toLowerCase()];
  if (b === undefined) throw new UserError(`unknown --kv-type "${type}"; choose one of: ${Object.keys(KV_TYPES).join(', ')}`, 2);
  return b;
}

/** Like our engine: the model's context length, at most 8192 (LlamaCppEngine.load). */
export function defaultContext(s: ModelShape): number {
  return Math.min(s.contextLength, 8192);
}

export interface InferenceOptions {
  /** Tokens per sequence. */
  ctx: number;
  /** Sequences decoded together; each has its own ctx of KV cache. */
  parallel: number;
  kvType: string;
  /** Tokens per decode step (llama.cpp's ubatch; node-llama-cpp's default batch is at most 512). */
  ubatch?: number;
}

export interface InferenceEstimate {
  ctx: number;
  parallel: number;
  /** KV cache and compute buffer: the same whatever the weights' type. */
  context: Term[];
  contextBytes: number;
  rows: { quant: string; bpw: number; weights: number; total: number; source: string }[];
}

/**
 * Our engine asks node-llama-cpp for a context of ctx × parallel tokens with `parallel` sequences
 * (LlamaCppEngine.createContext), so the KV cache holds ctx × parallel tokens per layer. The compute buffer
 * is an allowance after node-llama-cpp's own estimate for llama models (GgufInsights): the attention-score
 * scratch of one batch without flash attention, plus the logits of that batch.
 */
export function contextTerms(s: ModelShape, o: InferenceOptions): Term[] {
  const eb = kvBytesPerElement(o.kvType);
  // node-llama-cpp turns kv_unified off, so llama.cpp gives each sequence its own KV stream of the context
  // rounded up to a multiple of 256 tokens, and a batch's attention scores span one stream, not all of them.
  const perSeq = Math.ceil(o.ctx / 256) * 256;
  const padded = perSeq !== o.ctx ? ` (rounded up to ${perSeq})` : '';
  const kv = 2 * s.layers * perSeq * o.parallel * s.kvHeads * s.headDim * eb;
  const ubatch = Math.min(o.ubatch ?? 512, perSeq * o.parallel);
  const scores = 4 * ubatch * (s.hidden + perSeq * s.heads);
  const logits = 4 * ubatch * s.vocab;
  return [
    {
      group: 'kv cache', label: `KV cache (${o.kvType.toLowerCase()})`, bytes: kv,
      formula: `2 (K and V) × ${s.layers} layers × ${o.ctx} ctx${padded} × ${o.parallel} parallel × ${s.kvHeads} KV heads × ${s.headDim} head dim × ${eb} B = ${int(kv)} B`,
    },
    {
      group: 'overhead', label: 'compute buffer (allowance)', bytes: scores + logits,
      formula: `4 B × ${ubatch}-token batch × (${s.hidden} + ${perSeq} KV × ${s.heads} heads) attention scratch without flash attention` +
        ` + 4 B × ${ubatch} × ${s.vocab} logits = ${int(scores + logits)} B`,
    },
  ];
}

export function estimateInference(s: ModelShape, params: number, o: InferenceOptions, quants: QuantType[]): InferenceEstimate {
  const context = contextTerms(s, o);
  const contextBytes = context.reduce((n, t) => n + t.bytes, 0);
  const rows = quants.map((q) => {
    const weights = (params * q.bpw) / 8;
    return { quant: q.name, bpw: q.bpw, weights, total: weights + contextBytes, source: q.source };
  });
  return { ctx: o.ctx, parallel: o.parallel, context, contextBytes, rows };
}
