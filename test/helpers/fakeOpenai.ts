import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in OpenAI-compatible server for what a real `llama3-zh serve` never does on cue: an error event in the
 * middle of a stream, a connection that drops mid-answer, an answer that never ends, vLLM-style tool calls whose
 * arguments come in pieces. It records each request body, and whether the client went away before the answer ended.
 */
export interface FakeAnswer {
  /** Chat completion chunks' `choices[0]` parts (delta, finish_reason), sent in order. */
  chunks: Array<Record<string, unknown>>;
  /** Sent as the last chunk when given (OpenAI's usage chunk, choices []). */
  usage?: Record<string, unknown>;
  /** After the chunks: an error event (and the end of the stream). */
  error?: Record<string, unknown>;
  /** After the chunks: the socket is destroyed, with no [DONE]. */
  cut?: boolean;
  /** After the chunks: this text, every 50 ms, until the client goes away. */
  forever?: string;
}

export interface FakeServer {
  url: string;
  /** Each POST /v1/chat/completions body, parsed. */
  requests: Array<Record<string, any>>;
  /** How many answers the client left before they ended (an aborted fetch). */
  abandoned: number;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) => new Promise<string>((resolve) => {
  let s = '';
  req.setEncoding('utf8').on('data', (d) => (s += d)).on('end', () => resolve(s));
});

export const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ index: 0, delta: d, finish_reason: finish });

export async function fakeOpenai(models: string[], answer: (body: Record<string, any>) => FakeAnswer): Promise<FakeServer> {
  const state = { requests: [] as Array<Record<string, any>>, abandoned: 0 };
  const server: Server = createServer(async (req, res) => {
    const text = await readBody(req);
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'fake' })) }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') { res.writeHead(404).end(); return; }
    const body = JSON.parse(text);
    state.requests.push(body);
    const a = answer(body);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let ended = false;
    res.on('close', () => { if (!ended) state.abandoned++; });
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    const chunk = (choice: Record<string, unknown>) => send({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: body.model, choices: [choice] });
    for (const c of a.chunks) chunk(c);
    if (a.cut) { setTimeout(() => res.destroy(), 20); return; }
    if (a.error) { send({ error: a.error }); ended = true; res.end(); return; }
    if (a.forever !== undefined) {
      const t = setInterval(() => chunk(delta({ content: a.forever })), 50);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (a.usage) send({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: body.model, choices: [], usage: a.usage });
    ended = true;
    res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() { return state.requests; },
    get abandoned() { return state.abandoned; },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A web server that is no OpenAI API: every path answers a small HTML page. */
export async function htmlServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
