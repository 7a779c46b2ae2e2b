import { contextTerms } from './inference.js';
import { type ModelShape } from './shape.js';
import { BROWSER_BATCH, PHONE_MEMORY, WASM_MEMORY_LIMIT } from './browserLimits.js';
import { type Term } from './terms.js';

/**
 * What a model needs in a browser tab, where llama.cpp runs as WebAssembly (@wllama/wllama). The weights are
 * read into the wasm heap (no mmap there), so they count whole, beside the KV cache and the compute buffer.
 */

/** The page's context: smaller than a server's default, its KV cache is in the tab's 4 GiB too. */
export const BROWSER_CTX = 4096;
/** The engine's own code, stacks and heap slack (the wasm module is 10 MB; its heap grows in steps). */
const RUNTIME_BYTES = 64 * 2 ** 20;

export interface BrowserNeed {
  ctx: number;
  bytes: number;
  terms: Term[];
}

/** Memory the page's engine takes for a model: its tensor data, a KV cache of `ctx` tokens (f16), one batch's compute. */
export function browserNeed(shape: ModelShape, weightBytes: number, ctx = Math.min(shape.contextLength, BROWSER_CTX)): BrowserNeed {
  const terms: Term[] = [
    { group: 'weights', label: 'weights (read into the wasm heap)', bytes: weightBytes, formula: `${weightBytes} B of tensor data` },
    ...contextTerms(shape, { ctx, parallel: 1, kvType: 'f16', ubatch: BROWSER_BATCH }),
    { group: 'overhead', label: 'WebAssembly runtime', bytes: RUNTIME_BYTES, formula: '64 MiB: the engine, its stacks and heap slack' },
  ];
  return { ctx, bytes: terms.reduce((n, t) => n + t.bytes, 0), terms };
}
