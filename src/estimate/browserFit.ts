import { BROWSER_CTX, browserNeed } from './browser.js';
import { PHONE_MEMORY, WASM_MEMORY_LIMIT } from './browserLimits.js';
import { findQuant } from './inference.js';
import { countParams, type ModelShape, NAMED_SHAPES, shapeFromParams } from './shape.js';

/** Where a model runs as `web export` gives it to a browser, at Q4_K_M (the quant most GGUF repos offer). */
export interface BrowserFit {
  /** Tensor data at Q4_K_M: parameters × its bits per weight. */
  weightBytes: number;
  /** What the page's engine needs with those weights: wasm heap for the weights, KV cache, compute, runtime. */
  q4Bytes: number;
  /** Tokens of context counted in q4Bytes. */
  ctx: number;
  /** q4Bytes ≤ PHONE_MEMORY. */
  phone: boolean;
  /** q4Bytes ≤ WASM_MEMORY_LIMIT: a laptop's browser tab. */
  tab: boolean;
}

/**
 * A shape for a catalog size: '8B', '70B' and '405B' are Llama-3's, '19B' a generic one, and 'NxMB' a
 * mixture of N experts built from the M-B model, two used per token (llama3-8x8b-MoE routes top-2).
 */
export function shapeOfSize(size: string): ModelShape {
  const moe = /^(\d+)x(\d+(?:\.\d+)?b)$/i.exec(size.trim());
  if (!moe) return shapeFromParams(size);
  const dense = NAMED_SHAPES[moe[2].toLowerCase()] ?? shapeFromParams(moe[2]);
  return { ...dense, name: `${moe[1]}×${dense.name}`, experts: Number(moe[1]), expertsUsed: 2 };
}

export function browserFit(size: string): BrowserFit {
  const shape = shapeOfSize(size);
  const weightBytes = Math.round((countParams(shape).total * findQuant('Q4_K_M').bpw) / 8);
  const need = browserNeed(shape, weightBytes, Math.min(shape.contextLength, BROWSER_CTX));
  return { weightBytes, q4Bytes: need.bytes, ctx: need.ctx, phone: need.bytes <= PHONE_MEMORY, tab: need.bytes <= WASM_MEMORY_LIMIT };
}

/** The short mark for a table: where it fits, the smaller place first. */
export function browserMark(f: BrowserFit): string {
  return f.phone ? 'phone' : f.tab ? 'tab' : '-';
}

/**
 * The largest of the usual quants (Q8_0 … Q2_K) at which a model of `params` parameters fits a browser tab with
 * this context, or undefined when none does: what `web export` suggests for a model too big as it is.
 */
export function quantThatFits(shape: ModelShape, params: number, ctx: number, limit = WASM_MEMORY_LIMIT): string | undefined {
  for (const name of ['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_K_S', 'Q3_K_M', 'Q3_K_S', 'Q2_K']) {
    if (browserNeed(shape, (params * findQuant(name).bpw) / 8, ctx).bytes <= limit) return name;
  }
  return undefined;
}
