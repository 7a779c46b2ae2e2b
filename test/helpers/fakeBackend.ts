import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A backend that fails in the ways a real one can mid-stream, on purpose and every time: an OpenAI-compatible
 * server with one model, FLAKY, whose streamed chat reply depends on the last message:
 *  - CUT: two pieces, then the connection is destroyed (the process died);
 *  - ERROR_EVENT: one piece, then `data: {"error": …}` and `[DONE]` (as vLLM and llama3-zh report a failure mid-reply);
 *  - SLOW: a piece every 20 ms until the request is cancelled, which `cancelled` then counts.
 * A request that does not stream gets a 500 with EVENT_ERROR.
 */
export const FLAKY = 'flaky';
export const CUT = 'cut';
export const ERROR_EVENT = 'error-event';
export const SLOW = 'slow';
export const PIECES = ['半', '句'];
export const EVENT_ERROR = 'the engine ran out of KV cache mid-reply';

export interface FakeBackend {
  url: string;
  /** SLOW requests whose connection closed before they ended. */
  cancelled: number;
  close(): Promise<void>;
}

const chunk = (delta: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: FLAKY, choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;

export async function fakeBackend(): Promise<FakeBackend> {
  const state = { cancelled: 0 };
  const stream = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }));
  };
  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: FLAKY, object: 'model', created: 1700000000, owned_by: 'fake', max_model_len: 100 }] }));
      return;
    }
    let text = '';
    for await (const c of req) text += c;
    const body = JSON.parse(text);
    const last = String(body.messages?.at(-1)?.content ?? '');
    if (body.stream !== true) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: EVENT_ERROR, type: 'server_error', param: null, code: null } }));
      return;
    }
    stream(res);
    if (last === CUT) {
      for (const p of PIECES) res.write(chunk({ content: p }));
      setTimeout(() => res.socket?.destroy(), 50);
    } else if (last === ERROR_EVENT) {
      res.write(chunk({ content: PIECES[0] }));
      res.end(`data: ${JSON.stringify({ error: { message: EVENT_ERROR, type: 'server_error', param: null, code: null } })}\n\ndata: [DONE]\n\n`);
    } else {
      const timer = setInterval(() => res.write(chunk({ content: PIECES[0] })), 20);
      res.on('close', () => { clearInterval(timer); if (!res.writableEnded) state.cancelled++; });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get cancelled() { return state.cancelled; },
    close: () => { server.closeAllConnections(); return new Promise<void>((r) => server.close(() => r())); },
  };
}
