/**
 * Browser benchmark (bench:web): the same GGUF decoded by llama3-zh's own engine (node-llama-cpp, native) and by
 * wllama (llama.cpp compiled to WebAssembly) in headless Chromium, in one run, rounds interleaved so a noisy shared
 * machine slows all three alike:
 *  1. native: loadEngine with as many threads as the multi-thread page uses;
 *  2. browser, 1 thread: a page served without COOP/COEP: no SharedArrayBuffer, so wllama runs one thread;
 *  3. browser, N threads: the page served with COOP/COEP (cross-origin isolated), n_threads = the machine's cores.
 * Decode tok/s: our engine's timings (first token to last, as its callers see them) against llama-server's
 * `timings` that wllama returns (its slot's own clock), so the browser is not charged for the driver's round
 * trips; the page's own view of the stream is printed beside it as a check. Prefill tok/s likewise. And the model's load time in the page: cold (download from the local server into wllama's OPFS
 * cache, then into the wasm heap) and cached (a new Wllama in the same page, read from OPFS).
 * Model: the synthesized Llama-3.2-1B-shaped Q8_0 GGUF (bench/model.ts). Options: --tokens=32 --rounds=3 --preset=1b
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Page } from 'playwright-core';
import { progressBar } from '../src/cli/progress.js';
import { loadEngine } from '../src/engine/load.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { benchModel } from './model.js';
import { f, median } from './stats.js';
import { serveBench, type WebServer } from './webServer.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? '1b';
// wasm decode of a 1B model is a few tok/s here: 32 tokens keep a round under a minute on 2 cores.
const TOKENS = Number(args.get('tokens') ?? 32);
const ROUNDS = Number(args.get('rounds') ?? 3);
const threads = availableParallelism();
// A prompt of ~30 tokens, so prefill is one batch and not a few tokens (wasm prefill is slow: ~2 tok/s here);
// a different one each round, so no side gets it from a cache.
const QUESTIONS = ['写一首关于春天的诗', '解释一下量子力学', '讲个笑话吧', '今天天气怎么样', '介绍一下长城的历史'];
// Each run, on every side, gets a mark of its own: the native runs just before and after a browser run ask the
// same question, and the second would find its whole prompt in the engine's cache and time a one-token prefill.
let asked = 0;
const question = (i: number) => `${String(++asked).padStart(3, '0')}. ${QUESTIONS[i % QUESTIONS.length]}。请用中文回答，分三段，每段写两三句话。`;
const chatPrompt = (q: string) => `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;

/** decode and prefill tok/s by llama.cpp's clocks; `wall`: decode tok/s as the caller sees the tokens arrive */
interface Sample { decode: number; prefill: number; promptTokens: number; wall: number }
interface Side { name: string; samples: Sample[]; run: (i: number) => Promise<Sample> }
interface Load { ms: number; downloaded: number; multithread: boolean; threads: number }
interface PageTimings { prompt_n: number; prompt_per_second: number; predicted_n: number; predicted_per_second: number }
interface Bench {
  env(): { isolated: boolean; cores: number; sab: boolean };
  load(url: string, threads: number): Promise<Load>;
  generate(q: string, max: number): Promise<{ timings?: PageTimings; chunks: number; streamMs: number }>;
}
// What harness.js puts on the page's window (page.evaluate's callbacks run there, not here).
declare global { interface Window { bench: Bench } }

/** A page on `server` with the harness ready, and its model loaded (the cold load: this origin's OPFS is empty). */
async function openPage(browser: Awaited<ReturnType<typeof launchBrowser>>, server: WebServer, n: number, label: string) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`${label}: page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`${label}: ${m.text().slice(0, 300)}`); });
  let bar: ReturnType<typeof progressBar> | undefined = progressBar(`${label}: download into OPFS`);
  await page.exposeFunction('benchProgress', (loaded: number, total: number) => bar?.update(loaded, total));
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(() => 'bench' in window);
  const env = await page.evaluate(() => window.bench.env());
  const cold = await loadIn(page, server, n);
  bar.done();
  bar = undefined;
  return { page, env, cold };
}

async function loadIn(page: Page, server: WebServer, n: number) {
  const before = server.modelBytes();
  const r = await page.evaluate(([u, t]) => window.bench.load(u, t), [server.modelUrl, n] as [string, number]);
  return { ...r, served: server.modelBytes() - before };
}

async function main() {
  const path = await benchModel(preset);
  const size = statSync(path).size;
  console.log(`model ${path} (${(size / 1e6).toFixed(0)} MB), ${threads} cores, ${TOKENS} tokens per request, ${ROUNDS} rounds (medians)`);
  const plain = await serveBench(path, false);
  const isolated = await serveBench(path, true);
  const browser = await launchBrowser();
  try {
    const engine = await loadEngine({ modelPath: path, threads, contextSize: 512, parallel: 1, gpu: false });
    const native: Side = {
      name: `native (${threads} threads)`, samples: [],
      run: async (i) => {
        const r = await engine.generate({ prompt: engine.tokenize(chatPrompt(question(i)), true), maxTokens: TOKENS, ignoreEndOfGeneration: true });
        // generationTokensPerSecond is our engine's own wall clock, first token to last: the same as `wall`.
        const decode = r.timings.generationTokensPerSecond;
        return { decode, prefill: r.timings.promptTokensPerSecond, promptTokens: r.usage.promptTokens, wall: decode };
      },
    };
    console.log('loading the model in the pages (cold: download into OPFS, then into the wasm heap)…');
    const st = await openPage(browser, plain, 1, 'browser, 1 thread');
    const mt = await openPage(browser, isolated, threads, `browser, ${threads} threads`);
    console.log(`  page without COOP/COEP: crossOriginIsolated ${st.env.isolated}, multithread ${st.cold.multithread}, ${st.cold.threads} thread(s)`);
    console.log(`  page with COOP/COEP:    crossOriginIsolated ${mt.env.isolated}, multithread ${mt.cold.multithread}, ${mt.cold.threads} thread(s); navigator.hardwareConcurrency ${mt.env.cores}`);
    const inPage = (name: string, page: Page): Side => ({
      name, samples: [],
      run: async (i) => {
        const r = await page.evaluate(([q, n]) => window.bench.generate(q, n), [question(i), TOKENS] as [string, number]);
        if (!r.timings) throw new Error(`${name}: wllama returned no timings`);
        const wall = r.chunks > 1 ? ((r.chunks - 1) / r.streamMs) * 1000 : NaN;
        return { decode: r.timings.predicted_per_second, prefill: r.timings.prompt_per_second, promptTokens: r.timings.prompt_n, wall };
      },
    });
    const pages = [inPage(`browser, 1 thread`, st.page), inPage(`browser, ${threads} threads (mt)`, mt.page)];
    /** Per browser run, its tok/s over the mean of the native runs just before and after it. */
    const ratios = pages.map(() => ({ decode: [] as number[], prefill: [] as number[] }));
    for (const s of [native, ...pages]) await s.run(0); // warm-up: first-use allocations, page faults of the weights
    for (let i = 0; i < ROUNDS; i++) {
      // native, page, native, page, native: each browser run is bracketed by native ones (3 s each against the
      // browser's 30 s), so its ratio sees the same machine even when other work comes and goes; the pages' order alternates.
      const order = i % 2 ? [1, 0] : [0, 1];
      let before = await native.run(i + 1);
      native.samples.push(before);
      for (const k of order) {
        const r = await pages[k].run(i + 1);
        pages[k].samples.push(r);
        const after = await native.run(i + 1);
        native.samples.push(after);
        ratios[k].decode.push(r.decode / ((before.decode + after.decode) / 2));
        ratios[k].prefill.push(r.prefill / ((before.prefill + after.prefill) / 2));
        before = after;
      }
      console.log(`round ${i + 1}/${ROUNDS}: native ${native.samples.slice(-3).map((x) => f(x.decode)).join(' / ')}, ` +
        pages.map((s) => `${s.name} ${f(s.samples[i].decode)}`).join(', ') + ' decode tok/s');
    }
    await engine.close();

    console.log('loading again in the same pages (cached: from OPFS)…');
    const stCached = await loadIn(st.page, plain, 1);
    const mtCached = await loadIn(mt.page, isolated, threads);

    const sides = [native, ...pages];
    const dec = sides.map((s) => median(s.samples.map((x) => x.decode)));
    const pre = sides.map((s) => median(s.samples.map((x) => x.prefill)));
    const vs = (k: number, which: 'decode' | 'prefill') => (k ? median(ratios[k - 1][which]) : 1).toFixed(2).padStart(8);
    console.log(`\n${''.padEnd(26)}decode tok/s   vs native   prefill tok/s   vs native`);
    sides.forEach((s, k) => console.log(`${s.name.padEnd(26)}${f(dec[k]).padStart(12)}   ${vs(k, 'decode')}x   ${f(pre[k]).padStart(13)}   ${vs(k, 'prefill')}x`));
    console.log('  (tok/s: medians of all runs; vs native: median of each browser run over the native runs just before and after it)');
    console.log(`  prompt tokens: ${sides.map((s) => s.samples[0].promptTokens).join(' / ')}; decode as the page sees the stream (first chunk to last): ` +
      pages.map((s) => `${s.name} ${f(median(s.samples.map((x) => x.wall)))}`).join(', ') + ' tok/s');
    const mbps = (ms: number) => f(size / 1e6 / (ms / 1000), 0);
    const load = (name: string, cold: { ms: number; served: number }, cached: { ms: number; served: number }) =>
      console.log(`load, ${name}: cold ${f(cold.ms / 1000)} s (${mbps(cold.ms)} MB/s, ${(cold.served / 1e6).toFixed(0)} MB served), ` +
        `cached ${f(cached.ms / 1000)} s (${mbps(cached.ms)} MB/s, ${(cached.served / 1e6).toFixed(0)} MB served${cached.served ? ': NOT from OPFS' : ''})`);
    load('1 thread', st.cold, stCached);
    load(`${threads} threads`, mt.cold, mtCached);
  } finally {
    await browser.close();
    await plain.close();
    await isolated.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
