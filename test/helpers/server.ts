import { connect } from 'node:net';
import { openModel } from '../../src/cli/modelFlags.js';
import { loadEngine } from '../../src/engine/load.js';
import { type LoraModule, type RunningServer, startServer } from '../../src/server/start.js';
import { REPLY, testModel } from './models.js';

/** Words that route a prompt to its own reply (see synth/model.ts); replies of many lengths, Chinese and emoji. */
export const ROUTES: Record<string, string> = {
  red: 'Apples are red.',
  blue: '天空蔚蓝',
  green: 'Grass grows fast!',
  猫: '小花喵呜🐱',
  狗: 'Dogs bark loudly',
  鱼: '它在水里游泳，很开心',
  鸟: 'Birds fly south in winter',
  apple: 'OK',
  // A word of the simple API's default system prompt ("…名字叫shareAI-llama3…").
  share: '超级智者到了',
  // For the web page: markup a page must never run, and Markdown it must render.
  evil: '<img src=x onerror=alert(7)><SCRIPT>pwned()</script>',
  md: '# 标题\n- 一项',
};

/** The scripted model the server tests use: REPLY by default, ROUTES[word] when the prompt has the word. */
export function routedModel(o: { leak?: boolean } = {}): Promise<string> {
  return testModel({ reply: REPLY, leak: o.leak, routes: Object.entries(ROUTES).map(([when, reply]) => ({ when, reply })) });
}

export interface TestServerOptions {
  model?: string;
  parallel?: number;
  maxQueue?: number;
  apiKey?: string;
  ctx?: number;
  loraModules?: LoraModule[];
  corsOrigins?: string[];
  name?: string;
  host?: string;
  /** --special-tokens-in-content: the old, unsafe reading of message content. */
  specialTokensInContent?: boolean;
  /** --template-file FILE */
  templateFile?: string;
  /** --template NAME */
  template?: string;
  /** Where the server's problem log goes (internal errors). */
  warn?: (line: string) => void;
  /** --train-dir DIR…: the training view's run folders. */
  trainDirs?: string[];
  /** --embedding-model FILE, as NAME. */
  embeddingModel?: { name: string; path: string };
  /** --embedding-ctx-size N */
  embeddingCtx?: number;
  /** --lora FILE[:SCALE] on the served model itself. */
  lora?: string[];
}

/** A real server on a free port, in this process. */
export async function testServer(o: TestServerOptions = {}): Promise<RunningServer> {
  const model = o.model ?? await routedModel();
  return startServer({
    host: o.host ?? '127.0.0.1',
    port: 0,
    apiKey: o.apiKey,
    corsOrigins: o.corsOrigins,
    warn: o.warn,
    version: '0.0.0-test',
    maxQueue: o.maxQueue ?? 16,
    modelName: o.name ?? 'scripted',
    loraModules: o.loraModules,
    trainDirs: o.trainDirs,
    embeddingModel: o.embeddingModel && {
      name: o.embeddingModel.name,
      load: () => loadEngine({ modelPath: o.embeddingModel!.path, threads: 1, contextSize: 256, parallel: 1, embeddingContextSize: o.embeddingCtx }),
    },
    load: () => openModel({ model, threads: '1', 'ctx-size': String(o.ctx ?? 512), 'special-tokens-in-content': o.specialTokensInContent, 'template-file': o.templateFile, template: o.template, lora: o.lora },
      { parallel: o.parallel ?? 8, embeddingContextSize: o.embeddingCtx }),
  });
}

/** Read a streamed HTTP body as it comes: SSE `data:` payloads or NDJSON lines. */
export async function* streamLines(res: Response): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Bytes written as they are on a raw socket (request targets and headers that fetch would refuse to send);
 * resolves with everything the server sent back once it closes the socket, or after `ms`.
 */
export function rawHttp(base: string, bytes: string, ms = 2000): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let got = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.setEncoding('utf8').on('data', (d) => (got += d));
    socket.on('close', () => { clearTimeout(timer); resolve(got); });
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

/** The status lines of the responses in a raw reply, in order ("HTTP/1.1 400 Bad Request" → 400). */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
}
