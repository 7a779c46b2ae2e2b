/** The original demo's API (POST /) over the backends: read as routes/simple.ts reads it, answered by the first listed model. */
import { ApiError, disconnectSignal, sendJson } from '../http.js';
import type { Ctx, Route } from '../context.js';
import { SIMPLE_API_SYSTEM, simpleRequest, stamp } from '../simpleFields.js';
import { complete } from './completion.js';
import { openaiMessages } from './openaiRequest.js';
import type { Upstream } from './types.js';

function simple(up: Upstream) {
  return async (c: Ctx) => {
    const body = await c.body();
    // A created model's own system prompt (create --system) is on a backend's disk, unknown here: the demo's is the default.
    const r = simpleRequest(body, () => SIMPLE_API_SYSTEM);
    const model = up.defaultModel();
    if (!model) throw new ApiError(503, 'no backend is up to answer; retry in a moment', 'unavailable_error', null, null, { 'retry-after': '2' });
    const out = await complete(up, '/v1/chat/completions', {
      model,
      messages: openaiMessages(r.messages),
      temperature: r.temperature,
      top_p: r.topP,
      ...(r.maxTokens !== undefined ? { max_tokens: r.maxTokens } : {}),
      stream: false,
    }, disconnectSignal(c.res));
    if (!out) return;
    sendJson(c.res, 200, { response: out.text, status: 200, time: stamp() });
  };
}

export function gatewaySimpleRoutes(up: Upstream): Route[] {
  return [{ method: 'POST', path: '/', family: 'simple', whileLoading: true, handler: simple(up) }];
}
