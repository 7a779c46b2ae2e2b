import { disconnectSignal, sendJson } from '../http.js';
import { generate } from '../generation.js';
import type { Ctx, Route } from '../context.js';
import { SIMPLE_API_SYSTEM, simpleRequest, stamp } from '../simpleFields.js';

export { SIMPLE_API_SYSTEM } from '../simpleFields.js';

/**
 * POST / with {"prompt": "…"}: the original demo's API. Optional: "system", "history" (earlier
 * [{"role","content"}] turns), "max_tokens", "temperature", "top_p". Answers {"response", "status": 200, "time"}.
 */
async function simple(c: Ctx) {
  const body = await c.body();
  // The demo's prompt is this API's default, but a model made with create --system brings its own (as ollama's SYSTEM).
  const r = simpleRequest(body, () => c.models.base.system ?? SIMPLE_API_SYSTEM);
  const out = await generate({
    model: c.models.base,
    input: { messages: r.messages },
    maxTokens: r.maxTokens,
    sampling: { temperature: r.temperature, topP: r.topP },
    stop: [],
    n: 1,
    signal: disconnectSignal(c.res),
  }, c.metrics);
  sendJson(c.res, 200, { response: out.choices[0].text, status: 200, time: stamp() });
}

export const simpleRoutes: Route[] = [{ method: 'POST', path: '/', family: 'simple', handler: simple }];
