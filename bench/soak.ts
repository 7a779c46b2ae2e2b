/**
 * Soak: `llama3-zh serve` (its own process, on loopback) under N minutes of mixed valid and bad traffic on every
 * API: chat and completions (streamed or not, many prompts, JSON schemas), ollama, the simple API, the tokenizer,
 * malformed bodies, unknown routes, raw request targets, clients that leave mid-stream.
 * Every 30 s: requests, errors by kind, p50/p95 latency and the server's memory (RSS, V8 heap, buffers);
 * at the end the RSS growth (end / after the first 30 s of warm-up). The server must stay up throughout.
 * Options: --minutes=2 --clients=8 --preset=tiny --parallel=4 --ctx=1024 --threads=N
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { benchModel } from './model.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const MINUTES = Number(args.get('minutes') ?? 2);
const CLIENTS = Number(args.get('clients') ?? 8);
const PRESET = args.get('preset') ?? 'tiny';
const PARALLEL = Number(args.get('parallel') ?? 4);
const CTX = Number(args.get('ctx') ?? 1024);
const THREADS = Number(args.get('threads') ?? Math.max(1, availableParallelism() - 1));
const REPORT_MS = 30_000;

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);

function startServer(model: string): Promise<{ url: string; pid: number; stop: () => Promise<number | null>; exited: () => boolean }> {
  const bin = join(process.cwd(), 'bin', 'llama3-zh.js');
  const child = spawn(process.execPath, [bin, 'serve', model, '--port', '0', '--quiet', '--parallel', String(PARALLEL), '-c', String(CTX), '-t', String(THREADS), '--served-model-name', 'soak'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  let gone = false;
  const closed = new Promise<number | null>((r) => child.on('close', (code) => { gone = true; r(code); }));
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d) => {
      err += d;
      // Anything after the start-up lines is the server's log: with --quiet only problems, which a soak must not have.
      if (err.length > 20_000) err = err.slice(-10_000);
      const m = / on (http:\/\/[\d.]+:\d+) /.exec(err);
      if (m) resolve({ url: m[1], pid: child.pid!, exited: () => gone, stop: () => { child.kill('SIGINT'); return closed; } });
    });
    void closed.then((code) => reject(new Error(`llama3-zh serve exited (${code}): ${err}`)));
  });
}

/** Resident memory of a process, from /proc (Linux); NaN elsewhere. */
function rss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  } catch {
    return NaN;
  }
}

type Kind = string;
interface Sample { kind: Kind; status: number | 'network'; ms: number }

const WORDS = ['你好', '写一首诗', 'red', 'blue', '猫', '解释一下', 'Translate: 我爱你', 'def fib(n):'];
let counter = 0;
const word = () => `${WORDS[counter++ % WORDS.length]} ${counter}`;

/** One request of each kind: [kind, run] where run resolves with the HTTP status. */
function traffic(url: string): Array<[Kind, () => Promise<number>]> {
  const post = async (path: string, body: unknown, stream = false): Promise<number> => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    if (stream) for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>) { /* drain */ }
    else await res.arrayBuffer();
    return res.status;
  };
  const msg = () => [{ role: 'user', content: word() }];
  return [
    ['chat', () => post('/v1/chat/completions', { messages: msg(), max_tokens: 24 })],
    ['chat stream', () => post('/v1/chat/completions', { messages: msg(), max_tokens: 24, stream: true, stream_options: { include_usage: true } }, true)],
    ['chat n=2 logprobs', () => post('/v1/chat/completions', { messages: msg(), max_tokens: 8, n: 2, logprobs: true, top_logprobs: 3 })],
    // A new schema each time: the grammar cache must stay bounded.
    ['chat json_schema', () => post('/v1/chat/completions', { messages: msg(), max_tokens: 16, response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object', properties: { [`k${counter}`]: { type: 'string' } } } } } })],
    ['completions ×6', () => post('/v1/completions', { prompt: Array.from({ length: 6 }, word), max_tokens: 8 })],
    ['ollama chat', () => post('/api/chat', { model: 'soak', messages: msg(), options: { num_predict: 16 } }, true)],
    ['ollama generate', () => post('/api/generate', { model: 'soak', prompt: word(), stream: false, options: { num_predict: 16 } })],
    ['ollama tags/ps', async () => { const a = await fetch(`${url}/api/tags`); await a.arrayBuffer(); const b = await fetch(`${url}/api/ps`); await b.arrayBuffer(); return Math.max(a.status, b.status); }],
    ['simple', () => post('/', { prompt: word(), max_tokens: 16 })],
    ['tokenize', () => post('/tokenize', { prompt: word().repeat(20) })],
    ['bad json', () => post('/v1/chat/completions', '{"messages": [')],
    ['bad field', () => post('/v1/chat/completions', { messages: msg(), temperature: 'hot' })],
    ['too long', () => post('/v1/completions', { prompt: '你好'.repeat(CTX), max_tokens: 4 })],
    ['unknown model', () => post('/api/chat', { model: `nope-${counter}`, messages: msg() })],
    ['unknown route', async () => { const r = await fetch(`${url}/v1/nothing/${counter}`); await r.arrayBuffer(); return r.status; }],
    ['raw bad target', () => raw(url, `GET //a:b${counter} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)],
    ['raw rebinding host', () => raw(url, `GET /v1/models HTTP/1.1\r\nHost: 127.evil.example\r\nConnection: close\r\n\r\n`)],
    ['leaves mid-stream', async () => {
      const ac = new AbortController();
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', signal: ac.signal, body: JSON.stringify({ messages: msg(), max_tokens: 200, ignore_eos: true, stream: true }) });
      const it = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      await it.next();
      ac.abort();
      return res.status;
    }],
  ];
}

/** A raw request; the status of its answer (0 when the socket closed without one). */
function raw(url: string, bytes: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(bytes));
    let got = '';
    s.setEncoding('utf8').on('data', (d) => (got += d));
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

async function main() {
  const model = await benchModel(PRESET);
  const server = await startServer(model);
  const kinds = traffic(server.url);
  console.log(`soak: ${MINUTES} min, ${CLIENTS} clients, ${kinds.length} kinds of request, model ${PRESET} (${model}), --parallel ${PARALLEL} -c ${CTX} -t ${THREADS}; server pid ${server.pid}`);
  const fresh = rss(server.pid);
  console.log(`  RSS fresh (model loaded, nothing served): ${MiB(fresh)}`);
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  let window: Sample[] = [];
  const byKind = new Map<Kind, number[]>();
  let total = 0;
  const errors = new Map<string, number>();
  let warm: number | undefined;
  let next = 0;
  const worker = async () => {
    while (Date.now() < end && !server.exited()) {
      const [kind, run] = kinds[next++ % kinds.length];
      const s = performance.now();
      let status: number | 'network';
      try { status = await run(); } catch { status = 'network'; }
      const ms = performance.now() - s;
      window.push({ kind, status, ms });
      byKind.set(kind, [...(byKind.get(kind) ?? []), ms]);
      total++;
      // 4xx are what the bad requests are for; 5xx (but 503) and network errors are failures.
      if (status === 'network' || (status >= 500 && status !== 503)) errors.set(`${kind} → ${status}`, (errors.get(`${kind} → ${status}`) ?? 0) + 1);
    }
  };
  const metrics = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const v = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    return { heap: v('nodejs_heap_size_total_bytes'), external: v('nodejs_external_memory_bytes') };
  };
  const report = async () => {
    const s = window;
    window = [];
    const byStatus = new Map<string, number>();
    for (const x of s) byStatus.set(String(x.status), (byStatus.get(String(x.status)) ?? 0) + 1);
    const m = await metrics().catch(() => ({ heap: NaN, external: NaN }));
    const now = rss(server.pid);
    warm ??= now;
    const lat = s.map((x) => x.ms);
    console.log(`  ${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s  ${String(total).padStart(6)} requests  ` +
      `p50 ${pct(lat, 50).toFixed(0)} / p95 ${pct(lat, 95).toFixed(0)} ms  RSS ${MiB(now)} (V8 heap reserved ${MiB(m.heap)}, buffers ${MiB(m.external)})  ` +
      `statuses ${[...byStatus].sort().map(([k, n]) => `${k}×${n}`).join(' ')}`);
  };
  const timer = setInterval(() => void report(), REPORT_MS);
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  clearInterval(timer);
  await report();
  const last = rss(server.pid);
  const alive = !server.exited();
  console.log('\n  latency by kind, whole run (p50 / p95 ms):');
  for (const [kind, xs] of byKind) console.log(`    ${kind.padEnd(20)} ${String(xs.length).padStart(5)} × ${pct(xs, 50).toFixed(0).padStart(6)} / ${pct(xs, 95).toFixed(0).padStart(6)}`);
  console.log(`\n  ${total} requests; failures (5xx but 503, network): ${errors.size ? [...errors].map(([k, n]) => `${k} ×${n}`).join(', ') : 'none'}`);
  console.log(`  server ${alive ? 'alive' : 'DIED'}; RSS fresh ${MiB(fresh)}, after warm-up ${MiB(warm ?? NaN)}, end ${MiB(last)}: growth end / after warm-up = ${(last / (warm ?? NaN)).toFixed(2)}x`);
  if (alive) await server.stop();
  if (!alive || errors.size) process.exitCode = 1;
}

main().catch((e) => { console.error(e); process.exit(1); });
