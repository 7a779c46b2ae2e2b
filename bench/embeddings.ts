/**
 * Embeddings benchmark: 100 short Chinese sentences, embedded three ways side by side in one process, interleaved
 * round by round, so that a noisy shared machine affects all alike:
 *  1. node-llama-cpp's getEmbeddingFor in a loop (the same GGUF, mean-pooled, on an embedding context of its own);
 *  2. our engine's embed() of all 100 in one call;
 *  3. one POST /v1/embeddings of all 100 to `llama3-zh serve` (in this process), as an openai client sends them.
 * It prints embeddings per second and the ratios to node-llama-cpp's (target ≥ 0.95: our layer adds little to a
 * decode). With --generate, a streaming chat runs beside (2) and (3) and the chat's tokens/s is printed too.
 * Model: a synthesized random-weight GGUF (preset tiny by default; speed does not depend on values).
 * Options: --rounds=5 --threads=N --preset=tiny --generate
 */
import { availableParallelism } from 'node:os';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { chatModel } from '../src/chat/model.js';
import { loadEngine } from '../src/engine/load.js';
import { startServer } from '../src/server/start.js';
import { benchModel } from './model.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? 'tiny';
const ROUNDS = Number(args.get('rounds') ?? 5);
const threads = Number(args.get('threads') ?? availableParallelism());
const generate = args.has('generate');

const WHO = ['我', '你', '他', '我们', '老师', '学生', '妈妈', '小猫', '工程师', '医生'];
const WHAT = ['今天去公园散步', '在图书馆看书', '喜欢吃北京烤鸭', '正在学习机器学习', '明天要坐火车去上海', '写了一首关于春天的诗', '觉得这个问题很难', '每天早上跑步', '把房间打扫干净了', '想去海边看日出'];
/** 100 different sentences of 8 to 16 tokens. */
const SENTENCES = WHO.flatMap((w) => WHAT.map((x) => `${w}${x}。`));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/**
 * Embeddings per second of wall time, and CPU ms per embedding (this process's, llama.cpp's threads included): on a
 * shared machine other processes take the cores for a while and wall time jumps; CPU time moves far less.
 */
interface Rate { perSecond: number; cpuMs: number }
const rate = async (f: () => Promise<unknown>): Promise<Rate> => {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await f();
  const c = process.cpuUsage(c0);
  return { perSecond: (SENTENCES.length / (performance.now() - t0)) * 1000, cpuMs: (c.user + c.system) / 1000 / SENTENCES.length };
};

async function main() {
  const path = await benchModel(preset);
  console.log(`model ${path}, ${threads} threads, ${SENTENCES.length} sentences, ${ROUNDS} rounds (medians)`);

  // 1. node-llama-cpp alone: the model loaded with pooling_type mean, as llama-server --pooling mean would run it.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 0 });
  const bareModel = await llama.loadModel({ modelPath: path, metadataOverrides: { llama: { pooling_type: 1 } } as never });
  const bareContext = await bareModel.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads });
  const bare = async () => { for (const s of SENTENCES) await bareContext.getEmbeddingFor(s); };

  // 2. our engine.
  const engine = await loadEngine({ modelPath: path, threads, contextSize: 512, parallel: 4, gpu: false });
  const ours = () => engine.embed(SENTENCES);

  // 3. the server, on that engine.
  const server = await startServer({ host: '127.0.0.1', port: 0, version: 'bench', maxQueue: 16, modelName: 'bench', load: async () => chatModel(engine) });
  const http = async () => {
    const res = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bench', input: SENTENCES }) });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.json();
  };

  // A chat that streams while we embed, to see what each costs the other.
  let chatTokens = 0;
  const chat = async (until: () => boolean) => {
    const prompt = engine.tokenize('<|begin_of_text|>你好', true);
    while (!until()) chatTokens += (await engine.generate({ prompt, maxTokens: 16, ignoreEndOfGeneration: true })).tokens.length;
  };
  const withChat = async (f: () => Promise<unknown>) => {
    if (!generate) return rate(f);
    let done = false;
    const c = chat(() => done);
    try { return await rate(f); } finally { done = true; await c; }
  };

  await bare(); await ours(); await http(); // warm-up: contexts made, caches filled
  let chatAlone = 0;
  if (generate) {
    const t0 = performance.now();
    await chat(() => performance.now() - t0 > 2000);
    chatAlone = (chatTokens / (performance.now() - t0)) * 1000;
    chatTokens = 0;
  }
  const B: Rate[] = [], O: Rate[] = [], H: Rate[] = [];
  let chatMs = 0;
  for (let i = 0; i < ROUNDS; i++) {
    // A different order each round, so a drift in the machine's speed favours none.
    const order = [async () => B.push(await rate(bare)), async () => O.push(await withChat(ours)), async () => H.push(await withChat(http))];
    for (let k = 0; k < order.length; k++) {
      const t0 = performance.now();
      await order[(k + i) % order.length]();
      if ((k + i) % order.length !== 0) chatMs += performance.now() - t0;
    }
  }
  await server.close();
  await bareContext.dispose();
  await bareModel.dispose();
  const [b, o, h] = [B, O, H].map((x) => median(x.map((r) => r.perSecond)));
  const [bc, oc, hc] = [B, O, H].map((x) => median(x.map((r) => r.cpuMs)));
  console.log(`\nembeddings/s      node-llama-cpp getEmbeddingFor loop ${b.toFixed(1)}   engine.embed ${o.toFixed(1)}   POST /v1/embeddings ${h.toFixed(1)}`);
  console.log(`  ratio to node-llama-cpp: engine ${(o / b).toFixed(3)}   HTTP ${(h / b).toFixed(3)} ${generate ? '(with --generate (2) and (3) share the engine with a chat: no target)' : '(target ≥ 0.95)'}`);
  console.log(`CPU ms/embedding  node-llama-cpp ${bc.toFixed(2)}   engine ${oc.toFixed(2)}   HTTP ${hc.toFixed(2)}   (node-llama-cpp / ours: engine ${(bc / oc).toFixed(3)}, HTTP ${(bc / hc).toFixed(3)})`);
  if (generate) {
    const beside = (chatTokens / chatMs) * 1000;
    console.log(`chat tokens/s    alone ${chatAlone.toFixed(1)}   beside (2) and (3) ${beside.toFixed(1)}   ratio ${(beside / chatAlone).toFixed(2)} (embeddings take turns with its decode steps; target ≥ 0.5)`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
