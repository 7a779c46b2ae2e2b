/**
 * Gateway benchmark: what `llama3-zh serve --backend URL` adds in front of an OpenAI-compatible engine, measured
 * against the engine itself in the same run (the machine is shared and noisy: every measurement runs direct and
 * through the gateway in alternating order, round by round, and the medians are compared).
 *  1. Overhead, at 1 and at 32 concurrent clients: the wall time of a short non-streamed request (max_tokens 2)
 *     through vs direct (target < 5 ms added); a streamed reply of --tokens tokens (ignore_eos), (through − direct)
 *     / tokens (target < 1 ms per token); time to first token through vs direct.
 *  2. Aggregate throughput over two backends: half the clients on each backend directly, summed, vs all of them
 *     through one gateway in front of both (target ≥ 0.95).
 * On a small machine the gateway competes with the backends and the clients for the CPU, so its own CPU time
 * (utime + stime from /proc/PID/stat) per request and per token is printed too: that cost does not depend on it.
 * Every measurement also goes through a bare reverse proxy (bench/bareProxy.ts: http.request + pipe, no parsing), its
 * own process measured exactly like the gateway: the floor any Node proxy pays on this machine, so "how close is the
 * gateway to the cheapest possible proxy" is read off the same run (wall time added, and CPU as a multiple of it).
 * The backends are `llama3-zh serve` on a tiny synthesized model (fast and steady, so the gateway's cost is not
 * lost in the engine's), or with --backend-url a server already running (llama-server, vLLM; two, comma-separated,
 * for the aggregate part).
 * Options: --rounds=5 --tokens=64 --clients=1,32 --agg-clients=16 --agg-tokens=128 --short=2 --threads=1
 *          --backend-url=URL[,URL] --backend-model=NAME --preset=tiny
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progressBar } from '../src/cli/progress.js';
import { sseData } from '../src/util/sse.js';
import { benchModel } from './model.js';
import { f, median } from './stats.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const ROUNDS = Number(args.get('rounds') ?? 5);
const TOKENS = Number(args.get('tokens') ?? 64);
const CLIENTS = (args.get('clients') ?? '1,32').split(',').map(Number);
const AGG_CLIENTS = Number(args.get('agg-clients') ?? 16);
const AGG_TOKENS = Number(args.get('agg-tokens') ?? 128);
const SHORT = Number(args.get('short') ?? 2);
const THREADS = Number(args.get('threads') ?? 1);
const PRESET = args.get('preset') ?? 'tiny';
const given = args.get('backend-url')?.split(',').map((u) => u.trim().replace(/\/+$/, '').replace(/\/v1$/, '')).filter(Boolean);
/** Differs between runs, so a server left running cannot answer from an earlier run's cache. */
const RUN = Date.now().toString(36);
/** Linux's clock tick for /proc/PID/stat; 100 on every usual kernel. */
const TICK_MS = 10;

const TARGET = { request: 5, token: 1, ratio: 0.95 };

type Via = 'direct' | 'bare' | 'gateway';
interface Target { name: Via; url: string; model?: string; pid?: number }
interface Sample { wall: number; ttft: number; tokens: number }

const mark = (ok: boolean) => (ok ? '✔' : '✘');

/** A process's CPU time so far, user + system, in ms (all its threads). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields are counted from after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function body(t: Target, content: string, maxTokens: number, stream: boolean) {
  return JSON.stringify({
    model: t.model, messages: [{ role: 'user', content }], max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  });
}

async function post(t: Target, payload: string): Promise<Response> {
  const res = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
  if (!res.ok) throw new Error(`${t.name} ${t.url}: HTTP ${res.status}: ${await res.text()}`);
  return res;
}

/** One short non-streamed request: its wall time. */
async function short(t: Target, content: string): Promise<number> {
  const t0 = performance.now();
  const res = await post(t, body(t, content, SHORT, false));
  await res.arrayBuffer();
  return performance.now() - t0;
}

/** One streamed request of `tokens` tokens: wall time, time to the first content, tokens the usage says. */
async function streamed(t: Target, content: string, tokens: number): Promise<Sample> {
  const t0 = performance.now();
  const res = await post(t, body(t, content, tokens, true));
  let ttft = NaN;
  let n = 0;
  let pieces = 0;
  for await (const payload of sseData(res.body!)) {
    if (payload === '[DONE]') continue;
    const data = JSON.parse(payload);
    if (data.choices?.[0]?.delta?.content) { pieces++; if (Number.isNaN(ttft)) ttft = performance.now() - t0; }
    if (data.usage?.completion_tokens) n = data.usage.completion_tokens;
  }
  return { wall: performance.now() - t0, ttft, tokens: n || pieces };
}

/** `k` clients at once, each sending `each` requests one after another; each client its own prompts. */
function clients<T>(k: number, each: number, one: (i: number, j: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: k }, async (_, i) => {
    const out: T[] = [];
    for (let j = 0; j < each; j++) out.push(await one(i, j));
    return out;
  })).then((xs) => xs.flat());
}

/** Runs `block` on the target, with the proxy's CPU time over it when the target is a proxy (bare or gateway). */
async function timed<T>(t: Target, block: () => Promise<T>): Promise<{ out: T; cpu: number }> {
  const c0 = t.pid ? cpuMs(t.pid) : 0;
  const out = await block();
  return { out, cpu: t.pid ? cpuMs(t.pid) - c0 : 0 };
}

interface Server { url: string; child: ChildProcess; stop: () => Promise<void> }

/** `node SCRIPT ARGS` as its own process, once it says where it serves and /health says it is ready. */
function start(label: string, script: string, argv: string[]): Promise<Server> {
  const child = spawn(process.execPath, [script, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const stop = () => new Promise<void>((r) => { if (child.exitCode !== null) { r(); return; } child.on('close', () => r()); child.kill('SIGINT'); });
  return new Promise((resolve, reject) => {
    child.on('close', (code) => reject(new Error(`${label} ${argv.join(' ')} exited (${code}): ${err}`)));
    child.stderr!.setEncoding('utf8').on('data', (d) => {
      err += d;
      const m = / on (http:\/\/[\d.]+:\d+) /.exec(err);
      if (!m) return;
      const url = m[1];
      child.stderr!.removeAllListeners('data');
      child.stderr!.resume();
      void (async () => {
        for (const end = Date.now() + 120_000; Date.now() < end;) {
          const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
          if (ok) { resolve({ url, child, stop }); return; }
          await new Promise((r) => setTimeout(r, 100));
        }
        reject(new Error(`${url}/health did not say ready within 120 s`));
      })();
    });
  });
}

const serve = (argv: string[]) => start('llama3-zh serve', join(process.cwd(), 'bin', 'llama3-zh.js'), ['serve', ...argv, '--port', '0', '--quiet']);
const backend = (model: string) => serve([model, '-t', String(THREADS), '-c', String(Math.max(512, 2 * AGG_TOKENS + 64)), '--parallel', String(Math.max(32, ...CLIENTS, AGG_CLIENTS)), '--served-model-name', 'bench']);
const gateway = (urls: string[]) => serve(['--backend', urls.join(',')]);
/** Its /health is the backend's, passed through: ready as soon as it listens. */
const bareProxy = (urls: string[]) => start('bare proxy', join(dirname(fileURLToPath(import.meta.url)), 'bareProxy.js'), [urls.join(',')]);

async function modelOf(url: string): Promise<string> {
  const j = await (await fetch(`${url}/v1/models`)).json() as { data: { id: string }[] };
  return args.get('backend-model') ?? j.data[0].id;
}

/** Direct, bare, gateway in even rounds, the reverse in odd ones: a steady drift in the machine's speed favours none. */
const order = <T>(r: number, xs: T[]) => (r % 2 ? [...xs].reverse() : xs);

async function main() {
  const servers: Server[] = [];
  const stopAll = () => Promise.all(servers.map((s) => s.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    let backends: string[];
    let what: string;
    if (given?.length) {
      backends = given;
      what = `given backends ${given.join(', ')}`;
    } else {
      const model = await benchModel(PRESET);
      const started = await Promise.all([backend(model), backend(model)]);
      servers.push(...started);
      backends = started.map((s) => s.url);
      what = `2 × llama3-zh serve ${model} (-t ${THREADS})`;
    }
    const model = await modelOf(backends[0]);
    const one = await gateway([backends[0]]);
    servers.push(one);
    const two = backends.length > 1 ? await gateway(backends.slice(0, 2)) : undefined;
    if (two) servers.push(two);
    const bare1 = await bareProxy([backends[0]]);
    servers.push(bare1);
    const bare2 = two ? await bareProxy(backends.slice(0, 2)) : undefined;
    if (bare2) servers.push(bare2);

    const direct: Target = { name: 'direct', url: backends[0], model };
    const bare: Target = { name: 'bare', url: bare1.url, model, pid: bare1.child.pid };
    const through: Target = { name: 'gateway', url: one.url, model, pid: one.child.pid };
    const targets = [direct, bare, through];
    console.log(`${what}; gateway ${one.url} and bare proxy ${bare1.url} in front of ${backends[0]}${two ? `, gateway ${two.url} and bare proxy ${bare2!.url} in front of both` : ''}`);
    console.log(`model ${model}; ${ROUNDS} rounds; short requests max_tokens ${SHORT}; streamed ${TOKENS} tokens; clients ${CLIENTS.join(', ')}; aggregate ${AGG_CLIENTS} clients × ${AGG_TOKENS} tokens`);

    // How many requests each client sends per block: enough samples at 1 client, a few at 32.
    const shortEach = (k: number) => Math.max(3, Math.ceil(48 / k));
    const streamEach = (k: number) => (k === 1 ? 6 : 1);

    const total = targets.length + ROUNDS * (CLIENTS.length * 2 * targets.length + (two ? 3 : 0));
    const bar = progressBar('benchmarking', 'items');
    let done = 0;
    const tick = () => bar.update(++done, total);
    bar.start(total);

    // Warm-up: JIT, kept-alive connections, the backends' first batches.
    for (const t of targets) {
      await clients(4, 2, (i, j) => short(t, `warm ${RUN} ${i} ${j}`));
      await clients(4, 1, (i) => streamed(t, `warm stream ${RUN} ${i}`, 16));
      tick();
    }

    type Acc = { short: number[][]; wall: number[][]; ttft: number[][]; tokens: number[][]; cpuShort: number; nShort: number; cpuStream: number; nStreamTokens: number; nStream: number };
    const acc = new Map<string, Acc>();
    const get = (key: string) => {
      let a = acc.get(key);
      if (!a) acc.set(key, a = { short: [], wall: [], ttft: [], tokens: [], cpuShort: 0, nShort: 0, cpuStream: 0, nStreamTokens: 0, nStream: 0 });
      return a;
    };
    const agg = {
      direct: [] as number[], bare: [] as number[], gateway: [] as number[],
      cpu: { bare: 0, gateway: 0 } as Record<Via, number>, tokens: { bare: 0, gateway: 0 } as Record<Via, number>,
    };

    for (let r = 0; r < ROUNDS; r++) {
      for (const k of CLIENTS) {
        for (const t of order(r, targets)) {
          const a = get(`${t.name}/${k}`);
          const s = await timed(t, () => clients(k, shortEach(k), (i, j) => short(t, `${RUN} r${r} k${k} c${i} q${j} 你好`)));
          a.short.push(s.out);
          a.cpuShort += s.cpu;
          a.nShort += s.out.length;
          tick();
        }
        for (const t of order(r, targets)) {
          const a = get(`${t.name}/${k}`);
          const s = await timed(t, () => clients(k, streamEach(k), (i, j) => streamed(t, `${RUN} r${r} k${k} c${i} s${j} 写一首关于春天的诗`, TOKENS)));
          a.wall.push(s.out.map((x) => x.wall));
          a.ttft.push(s.out.map((x) => x.ttft));
          a.tokens.push(s.out.map((x) => x.tokens));
          a.cpuStream += s.cpu;
          a.nStream += s.out.length;
          a.nStreamTokens += s.out.reduce((n, x) => n + x.tokens, 0);
          tick();
        }
      }
      if (two) {
        const both: Target[] = backends.slice(0, 2).map((url) => ({ name: 'direct', url, model }));
        const proxy: Record<'bare' | 'gateway', Target> = {
          bare: { name: 'bare', url: bare2!.url, model, pid: bare2!.child.pid },
          gateway: { name: 'gateway', url: two.url, model, pid: two.child.pid },
        };
        for (const side of order(r, ['direct', 'bare', 'gateway'] as const)) {
          const t0 = performance.now();
          const pid = side === 'direct' ? undefined : proxy[side].pid!;
          const c0 = pid ? cpuMs(pid) : 0;
          // Clients split evenly between the two backends, or all on one proxy, which must split them itself.
          const out = await clients(AGG_CLIENTS, 1, (i) => streamed(side === 'direct' ? both[i % 2] : proxy[side], `${RUN} agg r${r} c${i} 讲个很长的故事`, AGG_TOKENS));
          const tokens = out.reduce((n, x) => n + x.tokens, 0);
          const tps = (tokens / (performance.now() - t0)) * 1000;
          agg[side].push(tps);
          if (pid) { agg.cpu[side] += cpuMs(pid) - c0; agg.tokens[side] += tokens; }
          tick();
        }
      }
    }
    bar.done();

    // Per round, the paired difference of the medians (proxy − direct); the median of those over the rounds.
    const diff = (via: Via, k: number, pick: (a: Acc) => number[][], per?: (a: Acc, r: number) => number) => {
      const d = get(`direct/${k}`), p = get(`${via}/${k}`);
      const ds = Array.from({ length: ROUNDS }, (_, r) => (median(pick(p)[r]) - median(pick(d)[r])) / (per ? per(p, r) : 1));
      return median(ds);
    };
    const all = (a: Acc, pick: (a: Acc) => number[][]) => median(pick(a).flat());
    const tokensIn = (a: Acc, r: number) => median(a.tokens[r]);
    const signed = (x: number, d: number) => `${x >= 0 ? '+' : ''}${f(x, d)}`;
    /** "gateway CPU X unit = R x bare proxy (Y)": the gateway's CPU against the floor's, same work. */
    const cpu = (g: number, b: number, d: number, unit: string) => `${f(g, d)} ${unit} = ${f(g / b, 2)}x bare proxy (${f(b, d)})`;

    const rows: string[] = [];
    const row = (what: string, d: string, b: string, g: string, target: string, ok: boolean | undefined, c: string) =>
      rows.push(`  ${what.padEnd(42)} ${d.padStart(9)} ${b.padStart(20)} ${g.padStart(20)}   ${target.padEnd(8)} ${ok === undefined ? ' ' : mark(ok)}   ${c}`);
    console.log(`\n  ${'measurement'.padEnd(42)} ${'direct'.padStart(9)} ${'bare proxy (added)'.padStart(20)} ${'gateway (added)'.padStart(20)}   ${'target'.padEnd(8)}     gateway CPU`);
    for (const k of CLIENTS) {
      const d = get(`direct/${k}`), b = get(`bare/${k}`), g = get(`gateway/${k}`);
      const cs = (via: Via, a: Acc, pick: (a: Acc) => number[][], dd: number, per?: (a: Acc, r: number) => number, scale = 1) =>
        `${f(all(a, pick) / scale, dd - 1)} ms (${signed(diff(via, k, pick, per), dd)})`;
      const perReq = diff('gateway', k, (a) => a.short);
      row(`request (max_tokens ${SHORT}), ${k} client${k > 1 ? 's' : ''}`, `${f(all(d, (a) => a.short), 1)} ms`, cs('bare', b, (a) => a.short, 2), cs('gateway', g, (a) => a.short, 2),
        `< ${TARGET.request} ms`, perReq < TARGET.request, cpu(g.cpuShort / g.nShort, b.cpuShort / b.nShort, 3, 'ms/request'));
      const perTok = diff('gateway', k, (a) => a.wall, tokensIn);
      row(`streamed ${TOKENS} tokens, ${k} client${k > 1 ? 's' : ''}: per token`, `${f(all(d, (a) => a.wall) / TOKENS, 2)} ms`, cs('bare', b, (a) => a.wall, 3, tokensIn, TOKENS), cs('gateway', g, (a) => a.wall, 3, tokensIn, TOKENS),
        `< ${TARGET.token} ms`, perTok < TARGET.token, `${cpu(g.cpuStream / g.nStreamTokens, b.cpuStream / b.nStreamTokens, 4, 'ms/token')}, incl. its request's share`);
      const ttft = diff('gateway', k, (a) => a.ttft);
      row(`  time to first token, ${k} client${k > 1 ? 's' : ''}`, `${f(all(d, (a) => a.ttft), 1)} ms`, cs('bare', b, (a) => a.ttft, 2), cs('gateway', g, (a) => a.ttft, 2),
        `< ${TARGET.request} ms`, ttft < TARGET.request, '');
    }
    if (two) {
      const ratio = (via: 'bare' | 'gateway') => median(Array.from({ length: ROUNDS }, (_, r) => agg[via][r] / agg.direct[r]));
      const g = ratio('gateway');
      row(`aggregate tok/s, ${AGG_CLIENTS} clients on 2 backends`, `${f(median(agg.direct), 0)}`, `${f(median(agg.bare), 0)} (${f(ratio('bare'), 3)}x)`, `${f(median(agg.gateway), 0)} (${f(g, 3)}x)`,
        `≥ ${TARGET.ratio}x`, g >= TARGET.ratio, cpu(agg.cpu.gateway / agg.tokens.gateway, agg.cpu.bare / agg.tokens.bare, 4, 'ms/token'));
    }
    console.log(rows.join('\n'));
    console.log(`\n  "added": per round, proxy median − direct median (per token: divided by the reply's tokens), then the median over ${ROUNDS} rounds;`);
    console.log('  the target is for the gateway; bare proxy = node:http + http.request + pipe (bench/bareProxy.ts), the floor any Node proxy pays.');
    console.log('  aggregate: direct = both backends driven at once, clients split evenly; the bare proxy splits them round robin, the gateway by its own routing;');
    console.log('  ratio = proxy / direct, median over rounds.');
    console.log(`  CPU: each proxy process's utime + stime (/proc/PID/stat, ${TICK_MS} ms ticks) over all rounds, divided by requests or tokens;`);
    console.log('  on a small machine the gateway shares the CPU with the backends and the clients, so its wall-time cost includes that contention.');
  } finally {
    await stopAll();
  }
}

main().catch((e) => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
