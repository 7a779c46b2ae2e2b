import { contextTerms } from './inference.js';
import { type ModelShape } from './shape.js';
import { GIB, type Term } from './terms.js';

/**
 * What a model needs in a browser tab, where llama.cpp runs as WebAssembly (@wllama/wllama). The weights are
 * read into the wasm heap (no mmap there), so they count whole, beside the KV cache and the compute buffer.
 */

/** wllama's heap may grow to 65536 pages of 64 KiB: 4 GiB, whatever the device has (MEMORY64 or not). */
export const WASM_MEMORY_LIMIT = 4 * GIB;
/**
 * About what a phone's browser lets one tab hold before it kills it: iOS Safari ends tabs near 1.5 GiB on
 * 4–6 GB iPhones (wllama issues #18, #23), and Android Chrome is no better on a mid-range phone.
 */
export const PHONE_MEMORY = 1.5 * GIB;
/** The page's context and batch: smaller than a server's, since the logits of one batch alone are batch × vocab × 4 B. */
export const BROWSER_CTX = 4096;
export const BROWSER_BATCH = 256;
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
