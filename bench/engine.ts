/**
 * Engine benchmark. Baseline and llama3-zh run side by side in one process, interleaved, so that a noisy
 * shared machine affects both alike:
 *  1. single-stream decode: a bare node-llama-cpp generation loop vs our engine on the same model;
 *     besides wall-clock tok/s it reports the time per token spent outside llama.cpp's decode, which is
 *     what a layer over node-llama-cpp can add and does not drift with the machine's speed;
 *  2. aggregate decode tok/s with 1, 4 and 8 concurrent requests on one context of 8 sequences: plain
 *     concurrent node-llama-cpp `sequence.evaluate()` loops vs our engine.
 *  3. single-stream decode as a share of the memory-bandwidth limit: bytes of weights read per token against the
 *     read bandwidth `threads` threads measure here (bandwidth.ts); with --llama-bench=PATH (llama.cpp's own
 *     llama-bench, built from node-llama-cpp's bundled source) its tg rate on the same model, in the same run.
 * Model: a synthesized Llama-3.2-1B-shaped Q8_0 GGUF (random weights: decode speed does not depend on values).
 * Options: --tokens=48 --single-rounds=12 --rounds=5 --threads=N --preset=1b --llama-bench=PATH
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { getLlama, type LlamaContext, type LlamaContextSequence, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { loadEngine } from '../src/engine/load.js';
import type { Engine } from '../src/engine/types.js';
import { readGguf } from '../src/gguf/reader.js';
import { tensorBytes } from '../src/gguf/types.js';
import { readBandwidth } from './bandwidth.js';
import { benchModel } from './model.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? '1b';
const TOKENS = Number(args.get('tokens') ?? 48);
const ROUNDS = Number(args.get('rounds') ?? 5);
const SINGLE_ROUNDS = Number(args.get('single-rounds') ?? 12);
const threads = Number(args.get('threads') ?? availableParallelism());
const QUESTIONS = ['你好', '写一首关于春天的诗', 'What is the capital of France?', '讲个笑话吧', '解释一下量子力学', 'def fib(n):', '今天天气怎么样', 'Translate: 我爱你'];
const chatPrompt = (q: string) => `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => x.toFixed(2);

/** Time spent inside llama.cpp's decode, read off node-llama-cpp's native context (a benchmark-only probe). */
function decodeClock(context: LlamaContext) {
  const c = context as unknown as { _ctx: object };
  const clock = { ms: 0 };
  c._ctx = new Proxy(c._ctx, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      if (prop !== 'decodeBatch') return v.bind(target);
      return async () => { const t = performance.now(); await v.call(target); clock.ms += performance.now() - t; };
    },
  });
  return clock;
}

interface Run { tps: number; overheadMs: number; decodeMs: number }

/**
 * Bytes of weights one decode step reads: every tensor, but of the token embeddings only one row, unless the
 * output layer is tied to them (no output.weight), when the whole matrix is read for the logits.
 */
function weightBytesPerToken(path: string): number {
  const f = readGguf(path, { skipArrays: true });
  const tied = !f.tensors.some((t) => t.name === 'output.weight');
  return f.tensors.reduce((sum, t) => sum + (t.name === 'token_embd.weight' && !tied ? 0 : tensorBytes(t.type, t.dims) ?? 0), 0);
}

/** llama.cpp's own llama-bench tg rate (tok/s) on the model, or undefined when it is not given or fails. */
function llamaBench(bin: string | undefined, path: string): number | undefined {
  if (!bin) return undefined;
  const r = spawnSync(bin, ['-m', path, '-t', String(threads), '-p', '0', '-n', String(TOKENS), '-r', '3', '-o', 'json'], { encoding: 'utf8' });
  try {
    return (JSON.parse(r.stdout) as Array<{ avg_ts: number }>)[0].avg_ts;
  } catch {
    console.log(`llama-bench failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
    return undefined;
  }
}

async function main() {
  const path = await benchModel(preset);
  console.log(`model ${path}, ${threads} threads, ${TOKENS} tokens per request, ${SINGLE_ROUNDS} single-stream and ${ROUNDS} concurrency rounds (medians)`);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 0 });
  const bareModel = await llama.loadModel({ modelPath: path });
  const prompts = QUESTIONS.map((q) => bareModel.tokenize(chatPrompt(q), true) as number[]);
  // A fresh last token each run, so neither side gets the prompt from a cache.
  const fresh = (i: number) => prompts[i % prompts.length].concat(1000 + Math.floor(Math.random() * 1000)) as Token[];

  // ---- 1. single stream ----
  const bareCtx = await bareModel.createContext({ contextSize: 512, threads });
  const bareClock = decodeClock(bareCtx);
  const bareSeq = bareCtx.getSequence();
  async function bare(): Promise<Run> {
    await bareSeq.clearHistory();
    let n = 0, tFirst = 0, d0 = 0;
    for await (const _ of bareSeq.evaluate(fresh(0), { temperature: 0, yieldEogToken: true })) {
      if (n === 0) { tFirst = performance.now(); d0 = bareClock.ms; }
      if (++n >= TOKENS) break;
    }
    const wall = performance.now() - tFirst;
    const decode = bareClock.ms - d0;
    return { tps: ((n - 1) / wall) * 1000, overheadMs: (wall - decode) / (n - 1), decodeMs: decode / (n - 1) };
  }
  const single = await loadEngine({ modelPath: path, threads, contextSize: 512, parallel: 1, gpu: false });
  const oursClock = decodeClock((single as unknown as { context: LlamaContext }).context);
  async function ours(): Promise<Run> {
    let d0 = 0;
    const r = await single.generate({ prompt: fresh(0), maxTokens: TOKENS, ignoreEndOfGeneration: true, onToken: () => { if (!d0) d0 = oursClock.ms; } });
    const wall = r.timings.generationMs;
    const decode = oursClock.ms - d0;
    return { tps: r.timings.generationTokensPerSecond, overheadMs: (wall - decode) / (r.tokens.length - 1), decodeMs: decode / (r.tokens.length - 1) };
  }
  await bare(); await ours(); // warm-up
  const b: Run[] = [], o: Run[] = [];
  for (let i = 0; i < SINGLE_ROUNDS; i++) {
    // Alternate which goes first, so a drift in the machine's speed favours neither.
    if (i % 2) { o.push(await ours()); b.push(await bare()); } else { b.push(await bare()); o.push(await ours()); }
  }
  await single.close();
  await bareCtx.dispose();
  const bt = median(b.map((r) => r.tps)), ot = median(o.map((r) => r.tps));
  const bo = median(b.map((r) => r.overheadMs)), oo = median(o.map((r) => r.overheadMs));
  const bd = median(b.map((r) => r.decodeMs)), od = median(o.map((r) => r.decodeMs));
  console.log(`\nsingle-stream decode tok/s   bare node-llama-cpp ${fmt(bt)}   llama3-zh ${fmt(ot)}   ratio ${(ot / bt).toFixed(3)} (target ≥ 0.97)`);
  console.log(`  llama.cpp decode per token (the machine's share, same work on both sides): bare ${fmt(bd)} ms, llama3-zh ${fmt(od)} ms`);
  console.log(`  time per token outside llama.cpp's decode: bare ${fmt(bo)} ms, llama3-zh ${fmt(oo)} ms; our layer adds ${fmt(oo - bo)} ms = ${(((oo - bo) / (1000 / bt)) * 100).toFixed(2)}% of a token's time`);

  // ---- 3. the bandwidth roofline, and llama.cpp's own tool on the same model ----
  const lb = llamaBench(args.get('llama-bench'), path);
  const bw = await readBandwidth(threads);
  const bytes = weightBytesPerToken(path);
  const limit = (bw * 1e9) / bytes;
  console.log(`  memory read bandwidth with ${threads} threads: ${bw.toFixed(1)} GB/s; ${(bytes / 1e9).toFixed(2)} GB of weights per token → at most ${limit.toFixed(1)} tok/s`);
  console.log(`  single stream: llama3-zh ${fmt(ot)} tok/s = ${((ot / limit) * 100).toFixed(0)}% of that limit${lb ? `; llama.cpp's llama-bench ${fmt(lb)} tok/s = ${((lb / limit) * 100).toFixed(0)}%, llama3-zh / llama-bench ${(ot / lb).toFixed(2)}x` : ''}`);

  // ---- 2. concurrency ----
  const plainCtx = await bareModel.createContext({ contextSize: 512 * 8, sequences: 8, threads });
  const plainSeqs: LlamaContextSequence[] = Array.from({ length: 8 }, () => plainCtx.getSequence());
  /** What node-llama-cpp's docs suggest: one evaluate() loop per request, all running at once. */
  async function plain(k: number): Promise<number> {
    await Promise.all(plainSeqs.map((s) => s.clearHistory()));
    const firsts: number[] = [];
    const counts = await Promise.all(plainSeqs.slice(0, k).map(async (s, i) => {
      let n = 0;
      for await (const _ of s.evaluate(fresh(i), { temperature: 0, yieldEogToken: true })) {
        if (n === 0) firsts.push(performance.now());
        if (++n >= TOKENS) break;
      }
      return n - 1;
    }));
    const end = performance.now();
    return (counts.reduce((a, c) => a + c, 0) / (end - Math.max(...firsts))) * 1000;
  }
  const multi: Engine = await loadEngine({ modelPath: path, threads, contextSize: 512, parallel: 8, gpu: false });
  async function oursK(k: number): Promise<number> {
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: k }, (_, i) =>
      multi.generate({ prompt: fresh(i), maxTokens: TOKENS, ignoreEndOfGeneration: true }).then((r) => ({ r, end: performance.now() }))));
    // Decode phase only (as llama-batched-bench's S_TG): from when every request has its first token to the end.
    const start = t0 + Math.max(...results.map((x) => x.r.timings.promptMs));
    const end = Math.max(...results.map((x) => x.end));
    return (results.reduce((s, x) => s + x.r.tokens.length - 1, 0) / (end - start)) * 1000;
  }
  await plain(2); await oursK(2); // warm-up
  const ks = [1, 4, 8];
  const P: Record<number, number[]> = {}, O: Record<number, number[]> = {};
  for (let i = 0; i < ROUNDS; i++) {
    for (const k of ks) {
      (P[k] ??= []).push(await plain(k));
      (O[k] ??= []).push(await oursK(k));
    }
  }
  await multi.close();
  await plainCtx.dispose();
  await bareModel.dispose();
  console.log('\naggregate decode tok/s, k concurrent requests on one 8-sequence context');
  console.log('  k   plain node-llama-cpp   llama3-zh   llama3-zh / plain');
  for (const k of ks) console.log(`  ${k}   ${fmt(median(P[k])).padStart(20)}   ${fmt(median(O[k])).padStart(9)}   ${(median(O[k]) / median(P[k])).toFixed(2)}x`);
  const s8 = median(O[8]) / median(O[1]);
  console.log(`  llama3-zh 8 requests vs 1: ${s8.toFixed(2)}x (target ≥ 2.5x)   4 vs 1: ${(median(O[4]) / median(O[1])).toFixed(2)}x`);
}

main().catch((e) => { console.error(e); process.exit(1); });
