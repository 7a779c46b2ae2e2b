/** Health, metrics and tokenizer endpoints (llama-server's and vLLM's names). */
import { renderPrompt } from '../generation.js';
import { badRequest, sendJson } from '../http.js';
import { messageList, optBool } from '../fields.js';
import type { Ctx, Route } from '../context.js';

async function tokenize(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(body.model);
  const engine = model.engine;
  let tokens: number[];
  if (body.messages !== undefined) {
    tokens = renderPrompt(model, { messages: messageList(body) });
  } else {
    const text = body.prompt ?? body.content;
    if (typeof text !== 'string') throw badRequest('send "prompt" (or "content") as a string, or "messages"', 'prompt');
    const special = optBool(body, 'add_special_tokens') ?? optBool(body, 'add_special') ?? true;
    tokens = special ? renderPrompt(model, { prompt: text }) : engine.tokenize(text, true);
  }
  const withPieces = optBool(body, 'with_pieces') ?? false;
  sendJson(c.res, 200, {
    tokens: withPieces ? tokens.map((id) => ({ id, piece: engine.detokenize([id], true) })) : tokens,
    count: tokens.length,
    max_model_len: engine.info.contextSize,
  });
}

async function detokenize(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(body.model);
  const t = body.tokens;
  const vocab = model.engine.info.vocabSize;
  if (!Array.isArray(t) || t.some((x) => !Number.isInteger(x) || x < 0 || x >= vocab)) {
    throw badRequest(`"tokens" must be a list of token ids (whole numbers from 0 to ${vocab - 1})`, 'tokens');
  }
  const text = model.engine.detokenize(t as number[], true);
  // vLLM answers "prompt", llama-server "content".
  sendJson(c.res, 200, { prompt: text, content: text });
}

async function metrics(c: Ctx) {
  const body = c.metrics.render({ running: c.loading ? 0 : c.models.running, waiting: c.loading ? 0 : c.models.waiting, loading: c.loading });
  c.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  c.res.end(body);
}

async function health(c: Ctx) {
  if (c.loading) sendJson(c.res, 503, { status: 'loading', error: { message: 'the model is loading', type: 'unavailable_error', param: null, code: 'loading' } });
  else sendJson(c.res, 200, { status: 'ok' });
}

export const systemRoutes: Route[] = [
  { method: 'GET', path: '/health', family: 'system', public: true, whileLoading: true, handler: health },
  { method: 'GET', path: '/metrics', family: 'system', whileLoading: true, handler: metrics },
  { method: 'POST', path: '/tokenize', family: 'system', handler: tokenize },
  { method: 'POST', path: '/detokenize', family: 'system', handler: detokenize },
];
