import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * llama.cpp's own quantizer (llama_model_quantize in the libllama node-llama-cpp ships), called through koffi: the
 * output is what llama-quantize writes, byte for byte, with its per-tensor mix, at C speed on every core.
 */

/** llama_ftype values (include/llama.h of node-llama-cpp's bundled llama.cpp), by llama-quantize's names. */
export const QUANT_TYPES: Record<string, number> = {
  F16: 1, BF16: 32, Q8_0: 7, Q6_K: 18, Q5_K_M: 17, Q5_K_S: 16, Q5_1: 9, Q5_0: 8,
  Q4_K_M: 15, Q4_K_S: 14, Q4_0: 2, Q3_K_L: 13, Q3_K_M: 12, Q3_K_S: 11, Q2_K: 10,
};

/** Bits per weight llama-quantize prints for each type (tools/quantize/quantize.cpp), for the size estimate. */
export const QUANT_BPW: Record<string, number> = {
  F16: 16, BF16: 16, Q8_0: 8.5, Q6_K: 6.5625, Q5_K_M: 5.7, Q5_K_S: 5.54, Q5_1: 6, Q5_0: 5.5,
  Q4_K_M: 4.89, Q4_K_S: 4.58, Q4_0: 4.5, Q3_K_L: 4.27, Q3_K_M: 3.91, Q3_K_S: 3.5, Q2_K: 3.35,
};

/** The folder with node-llama-cpp's prebuilt CPU libllama for this platform (@node-llama-cpp/<os>-<arch>/bins/<os>-<arch>). */
export function findLibllama(): string {
  const req = createRequire(import.meta.url);
  const name = `${process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'mac' : process.platform}-${process.arch}`;
  const scopes = new Set<string>();
  for (const [pkg, up] of [[`@node-llama-cpp/${name}`, 3], ['node-llama-cpp', 3]] as const) {
    // <scope>/<package>/dist/index.js for both (their package.json files are not exported).
    try { scopes.add(join(dirname(req.resolve(pkg)), ...Array(up - 1).fill('..'), pkg.startsWith('@') ? '' : '@node-llama-cpp')); } catch { /* not installed */ }
  }
  // The package node-llama-cpp loads for this platform (its getBinsDir() is <package>/bins), then its siblings with a
  // backend in the name (mac-arm64-metal; linux-x64-cuda, -vulkan), should the plain one be missing.
  const dirs: string[] = [];
  for (const scope of scopes) {
    if (!existsSync(scope)) continue;
    const pkgs = readdirSync(scope).filter((p) => p === name || p.startsWith(`${name}-`)).sort((a, b) => a.length - b.length);
    for (const p of pkgs) dirs.push(join(scope, p, 'bins', p));
  }
  // The plain CPU build first: quantizing never needs a GPU backend, and a CUDA build's libllama fails to load
  // without the CUDA runtime.
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    const lib = readdirSync(d).find((f) => /^(lib)?llama(\.[a-z]+)?(\.v[\d.]+)?\.(so|dylib|dll)$/.test(f));
    if (lib) return join(d, lib);
  }
  throw new Error(`node-llama-cpp's prebuilt libllama for ${name} was not found (looked in ${dirs.join(', ') || 'no folder'})`);
}

export interface QuantizeJob {
  input: string;
  output: string;
  ftype: number;
  nthread: number;
  allowRequantize: boolean;
}

/** What the worker reports: 0 and no error on success; else llama.cpp's own error line from its log. */
export interface QuantizeResult {
  rc: number;
  error?: string;
}

/**
 * Run llama_model_quantize in a worker thread: the call blocks for minutes on a big model, and the main thread must
 * keep drawing progress and answering Ctrl-C. `terminate` cannot stop the native call (worker.terminate waits for
 * it to return), so a caller that must stop now exits the process.
 */
export function quantizeInWorker(job: QuantizeJob): { result: Promise<QuantizeResult>; worker: Worker } {
  const worker = new Worker(new URL('./quantizeWorker.js', import.meta.url), { workerData: { ...job, lib: findLibllama() } });
  const result = new Promise<QuantizeResult>((resolve, reject) => {
    worker.once('message', (m: QuantizeResult) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => resolve({ rc: -1, error: `the quantizer thread ended (exit ${code}) without a result` }));
  });
  return { result, worker };
}
