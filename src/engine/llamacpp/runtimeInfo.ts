import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { runtime } from './runtime.js';

/** What runs a model on this machine, and why: `llama3-zh engine status`. */
export interface RuntimeInfo {
  nodeLlamaCpp: string;
  llamaCpp: string;
  /** prebuilt: the binaries node-llama-cpp ships; localBuild: one built on this machine (`engine build`). */
  build: 'prebuilt' | 'localBuild';
  binary?: string;
  gpu: string;
  /** The ggml CPU library llama.cpp loaded: the prebuilt ships one per CPU family and loads the best this CPU runs. */
  cpuBackend?: string;
  cpuBackendsShipped: string[];
  /** Instruction sets and options the CPU backend reports (AVX2, AVX512, AMX_INT8, OPENMP, REPACK…). */
  features: string[];
  openmp: boolean;
  /** Weights repacked at load into a layout for this CPU's matrix instructions. */
  repack?: string;
  threads: number;
  mathCores: number;
  mmap: boolean;
  mlock: boolean;
}

/**
 * A library mapped into this process (Linux): which addon node-llama-cpp loaded, and which ggml-cpu variant
 * llama.cpp's backend loader chose (it opens every variant to score it, and keeps only the best one open).
 */
function mapped(name: RegExp): string | undefined {
  try {
    return readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.slice(l.indexOf('/'))).find((p) => name.test(basename(p)));
  } catch {
    return undefined;
  }
}

/** node-llama-cpp's version: its package.json is not in its exports, so it is read from beside its entry point. */
function packageVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('node-llama-cpp'));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function runtimeInfo(gpu: 'auto' | false = 'auto'): Promise<RuntimeInfo> {
  const llama = await runtime(gpu);
  const binary = mapped(/^llama-addon\.node$/);
  const features = [...llama.systemInfo.matchAll(/(\w+) = 1/g)].map((m) => m[1]);
  const cpuBackend = mapped(/^libggml-cpu.*\.so$/);
  const dir = cpuBackend ? dirname(cpuBackend) : binary ? dirname(binary) : undefined;
  const shipped = dir && existsSync(dir) ? readdirSync(dir).filter((f) => /^libggml-cpu.*\.so$/.test(f)).sort() : [];
  const has = (f: string) => features.includes(f);
  return {
    nodeLlamaCpp: packageVersion(),
    llamaCpp: `${llama.llamaCppRelease.repo} ${llama.llamaCppRelease.release}`,
    build: llama.buildType,
    binary,
    gpu: llama.gpu === false ? 'none' : llama.gpu,
    cpuBackend: cpuBackend && basename(cpuBackend),
    cpuBackendsShipped: shipped,
    features,
    openmp: has('OPENMP'),
    repack: has('AMX_INT8')
      ? 'AMX: Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K and IQ4_XS weights are repacked for AMX tiles at load'
      : has('REPACK') ? 'weights of the types this CPU has interleaved kernels for (Q4_0, Q4_K, IQ4_NL…) are repacked at load' : undefined,
    threads: availableParallelism(),
    mathCores: llama.cpuMathCores,
    mmap: llama.supportsMmap,
    mlock: llama.supportsMlock,
  };
}
