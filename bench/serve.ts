/**
 * Server benchmark: `llama3-zh serve` as a user runs it (its own process), driven over HTTP by streaming
 * OpenAI clients, like vLLM's benchmark_serving.
 *  1. 1, 4 and 8 concurrent streaming clients: aggregate tokens/s, p50/p95 time to first token (TTFT) and
 *     inter-token latency (ITL); the ratio of 8 clients to 1 (target ≥ 2.5x).
 *  2. A follow-up turn of a long conversation: TTFT when the server reuses the cached conversation vs when it
 *     must evaluate the whole conversation again (the same prompt with its first word changed); target ≥ 5x.
 * With --baseline-url (another OpenAI-compatible server already running, e.g. llama.cpp's llama-server on the
 * same GGUF) every measurement runs on both, interleaved round by round, and prints side by side.
 * Options: --tokens=128 --rounds=3 --threads=N --preset=1b --history=1500 --baseline-url=URL --baseline-model=NAME
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { progressBar } from '../src/cli/progress.js';
import { sseData } from '../src/util/sse.js';
import { benchModel } from './model.js';
import { f, median, pct } from './stats.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? '1b';
const TOKENS = Number(args.get('tokens') ?? 128);
const ROUNDS = Number(args.get('rounds') ?? 3);
const HISTORY = Number(args.get('history') ?? 1500);
const threads = Number(args.get('threads') ?? availableParallelism());
const baselineUrl = args.get('baseline-url')?.replace(/\/+$/, '');
/** Differs between runs, so a server left running (a baseline) cannot answer a prompt from an earlier run's cache. */
const RUN = Date.now().toString(36);
const QUESTIONS = ['你好', '写一首关于春天的诗', 'What is the capital of France?', '讲个笑话吧', '解释一下量子力学', 'def fib(n):', '今天天气怎么样', 'Translate: 我爱你'];

interface Target { name: string; url: string; model?: string }
interface Sample { ttft: number; itls: number[]; tokens: number }
type Message = { role: string; content: string };


/** One streaming chat request; times the first content and every later one. */
async function stream(t: Target, messages: Message[], maxTokens: number): Promise<Sample> {
  const t0 = performance.now();
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: t.model, messages, max_tokens: maxTokens, temperature: 0, stream: true, ignore_eos: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok) throw new Error(`${t.name}: HTTP ${res.status}: ${await res.text()}`);
  const times: number[] = [];
  let tokens = 0;
  for await (const payload of sseData(res.body!)) {
    if (payload === '[DONE]') continue;
    const data = JSON.parse(payload);
    if (data.choices?.[0]?.delta?.content) times.push(performance.now());
    if (data.usage?.completion_tokens) tokens = data.usage.completion_tokens;
  }
  return { ttft: times[0] - t0, itls: times.slice(1).map((x, k) => x - times[k]), tokens: tokens || times.length };
}

/** k clients at once, each with its own question; aggregate tokens/s over the round's wall time. */
async function round(t: Target, k: number, salt: number) {
  const t0 = performance.now();
  // A fresh word in each prompt, so no request is served from an earlier one's cache.
  const samples = await Promise.all(Array.from({ length: k }, (_, i) =>
    stream(t, [{ role: 'user', content: `${QUESTIONS[i % QUESTIONS.length]} (${RUN}-${salt}-${i})` }], TOKENS)));
  const wall = performance.now() - t0;
  return { samples, tps: (samples.reduce((s, x) => s + x.tokens, 0) / wall) * 1000 };
}

/** A long conversation: the first turn fills the cache; the follow-up's TTFT with it, and with a changed first word. */
async function followUp(t: Target, salt: number) {
  const filler = '我们继续讨论这个问题，请详细说明每一个步骤，并给出例子。'.repeat(Math.ceil(HISTORY / 20));
  const history: Message[] = [
    { role: 'system', content: `你是一个乐于助人的助手。${RUN}-${salt}` },
    { role: 'user', content: filler },
  ];
  const first = await stream(t, history, 8);
  void first;
  const next = [...history, { role: 'assistant', content: '好的。' }, { role: 'user', content: '然后呢？' }];
  const cached = await stream(t, next, 4);
  const cold = await stream(t, [{ role: 'system', content: `请注意：${next[0].content}` }, ...next.slice(1)], 4);
  return { cached: cached.ttft, cold: cold.ttft };
}

function startOurs(model: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = join(process.cwd(), 'bin', 'llama3-zh.js');
  const child = spawn(process.execPath, [bin, 'serve', model, '--port', '0', '--parallel', '8', '-t', String(threads), '-c', String(Math.max(2048, HISTORY * 2)), '--quiet', '--served-model-name', 'bench'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d) => {
      err += d;
      const m = / on (http:\/\/[\d.]+:\d+) /.exec(err);
      if (m) resolve({ url: m[1], stop: () => new Promise((r) => { child.on('close', () => r()); child.kill('SIGINT'); }) });
    });
    child.on('close', (code) => reject(new Error(`llama3-zh serve exited (${code}): ${err}`)));
  });
}

async function main() {
  const model = await benchModel(preset);
  const ours = await startOurs(model);
  const targets: Target[] = [{ name: 'llama3-zh', url: ours.url, model: 'bench' }];
  if (baselineUrl) targets.push({ name: 'baseline', url: baselineUrl, model: args.get('baseline-model') });
  console.log(`model ${model}, ${threads} threads, ${TOKENS} tokens per request, ${ROUNDS} rounds per level; servers: ${targets.map((t) => `${t.name} ${t.url}`).join(', ')}`);
  try {
    for (const t of targets) await round(t, 2, -1); // warm-up
    const ks = [1, 4, 8];
    const res = new Map<string, { tps: number[]; ttft: number[]; itl: number[] }>();
    const bar = progressBar('benchmarking', 'items');
    const total = ROUNDS * ks.length * targets.length + 3 * targets.length;
    let done = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const k of ks) {
        // Alternate the order of the servers, so a drift in the machine's speed favours neither.
        for (const t of r % 2 ? [...targets].reverse() : targets) {
          const out = await round(t, k, r * 100 + k);
          const key = `${t.name}/${k}`;
          const e = res.get(key) ?? { tps: [], ttft: [], itl: [] };
          e.tps.push(out.tps);
          for (const s of out.samples) { e.ttft.push(s.ttft); e.itl.push(...s.itls); }
          res.set(key, e);
          bar.update(++done, total);
        }
      }
    }
    const follow = new Map<string, { cached: number[]; cold: number[] }>();
    for (let r = 0; r < 3; r++) {
      for (const t of targets) {
        const x = await followUp(t, r);
        const e = follow.get(t.name) ?? { cached: [], cold: [] };
        e.cached.push(x.cached);
        e.cold.push(x.cold);
        follow.set(t.name, e);
        bar.update(++done, total);
      }
    }
    bar.done();

    console.log('\nstreaming clients   server       tok/s (median round)   TTFT p50 / p95 ms   ITL p50 / p95 ms');
    for (const k of ks) {
      for (const t of targets) {
        const e = res.get(`${t.name}/${k}`)!;
        console.log(`  ${String(k).padStart(2)}                ${t.name.padEnd(11)}  ${f(median(e.tps)).padStart(20)}   ${`${f(pct(e.ttft, 50), 0)} / ${f(pct(e.ttft, 95), 0)}`.padStart(17)}   ${`${f(pct(e.itl, 50), 0)} / ${f(pct(e.itl, 95), 0)}`.padStart(16)}`);
      }
    }
    for (const t of targets) {
      const r8 = median(res.get(`${t.name}/8`)!.tps) / median(res.get(`${t.name}/1`)!.tps);
      console.log(`  ${t.name}: 8 clients vs 1 = ${r8.toFixed(2)}x aggregate tok/s (target ≥ 2.5x)`);
    }
    if (baselineUrl) {
      for (const k of ks) console.log(`  ${k} clients: llama3-zh / baseline tok/s = ${(median(res.get(`llama3-zh/${k}`)!.tps) / median(res.get(`baseline/${k}`)!.tps)).toFixed(2)}x`);
    }
    console.log(`\nfollow-up turn of a ~${HISTORY}-token conversation: time to first token (median of 3)`);
    for (const t of targets) {
      const e = follow.get(t.name)!;
      console.log(`  ${t.name.padEnd(11)} cached ${f(median(e.cached), 0)} ms   whole conversation again ${f(median(e.cold), 0)} ms   ${(median(e.cold) / median(e.cached)).toFixed(1)}x shorter (target ≥ 5x)`);
    }
  } finally {
    await ours.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
