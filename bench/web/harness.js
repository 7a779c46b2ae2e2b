// The page side of `npm run bench:web`: wllama (llama.cpp in WebAssembly) loads the GGUF the bench serves and
// generates; every timing is taken here, in the page, so that the Node.js driver's round trips are not counted.
// Plain JS served as is (no bundler): the browser imports wllama's own ESM build from the same server.
import { Wllama } from './wllama/esm/index.js';

let w;
// llama.cpp's own log stays quiet; warnings and errors reach the driver through the console.
const logger = { debug() {}, log() {}, warn: (...a) => console.warn(a.join(' ')), error: (...a) => console.error(a.join(' ')) };

window.bench = {
  env: () => ({ isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency, sab: typeof SharedArrayBuffer === 'function' }),

  /** Load the model: from the server into OPFS and then into the wasm heap (cold), or from OPFS (cached). */
  async load(modelUrl, threads) {
    if (w) await w.exit();
    w = new Wllama({ default: new URL('./wllama/esm/wasm/wllama.wasm', location.href).href }, { logger, suppressNativeLog: true });
    // The compat build exists for Safari's missing JSPI; in Chromium it is only slower.
    w.setCompat(null);
    const t0 = performance.now();
    let downloaded = 0;
    await w.loadModelFromUrl(modelUrl, {
      n_threads: threads,
      // wllama turns WebGPU on unless told: this benchmark is the CPU (wasm SIMD) path.
      n_gpu_layers: 0,
      n_ctx: 512,
      n_batch: 256,
      progressCallback: ({ loaded, total }) => { downloaded = loaded; window.benchProgress?.(loaded, total); },
    });
    return { ms: performance.now() - t0, downloaded, multithread: w.isMultithread(), threads: w.getNumThreads() };
  },

  /** One chat completion of exactly maxTokens tokens (EOS ignored), with llama.cpp's own timings. */
  async generate(question, maxTokens) {
    const t0 = performance.now();
    let first = 0, last = 0, chunks = 0, timings, usage;
    const stream = await w.createChatCompletion({
      messages: [{ role: 'user', content: question }],
      stream: true, max_tokens: maxTokens, temperature: 0, seed: 1,
      // Random weights end a turn anywhere; a fixed length makes every round the same work. No prompt cache either.
      ignore_eos: true, cache_prompt: false,
    });
    for await (const c of stream) {
      if (c.choices?.[0]?.delta?.content) { last = performance.now(); if (!chunks++) first = last; }
      if (c.timings) timings = c.timings;
      if (c.usage) usage = c.usage;
    }
    return { firstMs: first - t0, streamMs: last - first, chunks, timings, usage };
  },
};
