/**
 * What the page needs from whoever serves it, in one place for `serve`, `web serve` and the exported site.
 * The CSP lets the page load only its own files: injected markup can fetch or run nothing else. The browser engine
 * compiles WebAssembly ('wasm-unsafe-eval', not 'unsafe-eval') and runs llama.cpp in a worker wllama makes from a
 * blob: URL.
 */
const CSP_RULES = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self' blob:", "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'", "object-src 'none'", "base-uri 'none'", "form-action 'none'",
];
export const PAGE_CSP = [...CSP_RULES, "frame-ancestors 'none'"].join('; ');
/** The same policy as a <meta> tag, which cannot carry frame-ancestors: a static host sends no headers of ours. */
export const META_CSP = CSP_RULES.join('; ');

/** Cross-origin isolation: only then do browsers give the page SharedArrayBuffer, so llama.cpp runs threads. */
export const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } as const;
