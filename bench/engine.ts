/**
 * Engine benchmark, run side by side in one process so that a noisy shared machine affects both equally:
 *  1. single-stream decode: a bare node-llama-cpp generation loop vs our engine, same model, same settings;
 *  2. aggregate decode tok/s with 1, 4 and 8 concurrent sequences of one context.
 * Model: a synthesized Llama-3.2-1B-shaped Q8_0 GGUF (random weights: decode speed does not depend on values).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { loadEngine } from '../src/engine/load.js';
import type { Engine } from '../src/engine/types.js';
import { synthModel } from '../src/gguf/synth.js';
import { progressBar } from '../src/cli/progress.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? '1b';
const TOKENS = Number(args.get('tokens') ?? 48);
const ROUNDS = Number(args.get('rounds') ?? 3);
const threads = Number(args.get('threads') ?? availableParallelism());
const PROMPTS = ['你好', '写一首关于春天的诗', 'What is the capital of France?', '讲个笑话吧', '解释一下量子力学', 'def fib(n):', '今天天气怎么样', 'Translate: 我爱你'];

async function modelPath(): Promise<string> {
  const dir = join(process.cwd(), '.cache', 'bench-models');
  const path = join(dir, `${preset}-q8_0.gguf`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const bar = progressBar(`synthesizing ${preset} Q8_0 model`);
    await synthModel(path, { preset, type: 'q8_0', seed: 1, stop: 'eot', onProgress: (d, t) => bar.update(d, t) });
    bar.done();
  }
  return path;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const path = await modelPath();
  console.log(`model ${path}, ${threads} threads, ${TOKENS} tokens per request, ${ROUNDS} rounds (medians)`);

  // The bare loop: node-llama-cpp as its README shows it, nothing of ours in between.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 0 });
  const bareModel = await llama.loadModel({ modelPath: path });
  const bareCtx = await bareModel.createContext({ contextSize: 512, threads });
  const bareSeq = bareCtx.getSequence();
  const prompt0 = bareModel.tokenize(`<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${PROMPTS[0]}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`, true);
  async function bare(): Promise<number> {
    await bareSeq.clearHistory();
    let n = 0;
    let tFirst = 0;
    for await (const _ of bareSeq.evaluate(prompt0, { temperature: 0, yieldEogToken: true })) {
      if (n === 0) tFirst = performance.now();
      if (++n >= TOKENS) break;
    }
    return ((n - 1) / (performance.now() - tFirst)) * 1000;
  }

  const single = await loadEngine({ modelPath: path, threads, contextSize: 512, parallel: 1, gpu: false });
  const prompts = PROMPTS.map((q) => single.tokenize(`<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`, true));
  async function ours(e: Engine): Promise<number> {
    const r = await e.generate({ prompt: prompts[0].concat(Math.floor(Math.random() * 1000) + 1000), maxTokens: TOKENS, ignoreEndOfGeneration: true });
    return r.timings.generationTokensPerSecond;
  }

  await bare(); await ours(single); // warm-up
  const b: number[] = [], o: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    b.push(await bare());
    o.push(await ours(single));
  }
  await single.close();
  await bareCtx.dispose();
  await bareModel.dispose();
  const bm = median(b), om = median(o);
  console.log(`\nsingle-stream decode   bare node-llama-cpp ${bm.toFixed(2)} tok/s   llama3-zh ${om.toFixed(2)} tok/s   ratio ${(om / bm).toFixed(3)} (target ≥ 0.97)`);

  // Aggregate decode speed with k concurrent requests on one context of 8 sequences.
  const multi = await loadEngine({ modelPath: path, threads, contextSize: 512, parallel: 8, gpu: false });
  async function aggregate(k: number): Promise<number> {
    const firsts: number[] = [];
    const results = await Promise.all(Array.from({ length: k }, (_, i) => {
      let first = true;
      return multi.generate({
        prompt: prompts[i % prompts.length].concat(Math.floor(Math.random() * 1000) + 1000),
        maxTokens: TOKENS,
        ignoreEndOfGeneration: true,
        onText: () => { if (first) { first = false; firsts.push(performance.now()); } },
      }).then((r) => ({ r, end: performance.now() }));
    }));
    // Decode phase: from the moment every request has its first token to the last one finishing.
    const start = Math.max(...firsts);
    const end = Math.max(...results.map((x) => x.end));
    const tokens = results.reduce((s, x) => s + x.r.tokens.length, 0);
    const startTokens = k; // roughly one token each before `start`
    return ((tokens - startTokens) / (end - start)) * 1000;
  }
  await aggregate(2); // warm-up
  const agg: Record<number, number> = {};
  for (const k of [1, 4, 8]) {
    const xs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) xs.push(await aggregate(k));
    agg[k] = median(xs);
  }
  await multi.close();
  console.log(`aggregate decode       1 seq ${agg[1].toFixed(2)} tok/s   4 seq ${agg[4].toFixed(2)} tok/s (${(agg[4] / agg[1]).toFixed(2)}x)   8 seq ${agg[8].toFixed(2)} tok/s (${(agg[8] / agg[1]).toFixed(2)}x, target ≥ 2.5x)`);
}

main().catch((e) => { console.error(e); process.exit(1); });
