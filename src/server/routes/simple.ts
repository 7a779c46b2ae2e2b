import type { Message } from '../../chat/messages.js';
import { badRequest, disconnectSignal, sendJson } from '../http.js';
import { optNumber, optString } from '../fields.js';
import { generate } from '../generation.js';
import type { Ctx, Route } from '../context.js';

/** The system prompt of the original project's FastAPI demo. */
export const SIMPLE_API_SYSTEM = '你是一个超级智者，名字叫shareAI-llama3，拥有优秀的问题解答能力。';

/** "YYYY-MM-DD HH:MM:SS" in local time, as the Python demo stamps its answers. */
function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * POST / with {"prompt": "…"}: the original demo's API. Optional: "system", "history" (earlier
 * [{"role","content"}] turns), "max_tokens", "temperature", "top_p". Answers {"response", "status": 200, "time"}.
 */
async function simple(c: Ctx) {
  const body = await c.body();
  const prompt = optString(body, 'prompt');
  if (!prompt) throw badRequest('"prompt" is required, e.g. {"prompt": "你好"}', 'prompt');
  // The demo's prompt is this API's default, but a model made with create --system brings its own (as ollama's SYSTEM).
  const system = optString(body, 'system') ?? c.models.base.system ?? SIMPLE_API_SYSTEM;
  const history = body.history ?? [];
  if (!Array.isArray(history) || history.some((m) => typeof m?.content !== 'string' || (m.role !== 'user' && m.role !== 'assistant'))) {
    throw badRequest('"history" must be a list of {"role": "user"|"assistant", "content": "…"}', 'history');
  }
  const messages: Message[] = [{ role: 'system', content: system }, ...(history as Message[]), { role: 'user', content: prompt }];
  const out = await generate({
    model: c.models.base,
    input: { messages },
    maxTokens: optNumber(body, 'max_tokens', { min: 1, int: true }) ?? optNumber(body, 'max_length', { min: 1, int: true }),
    // The demo sampled with temperature 0.6 and top_p 0.9.
    sampling: { temperature: optNumber(body, 'temperature', { min: 0, max: 2 }) ?? 0.6, topP: optNumber(body, 'top_p', { min: 0, max: 1 }) ?? 0.9 },
    stop: [],
    n: 1,
    signal: disconnectSignal(c.res),
  }, c.metrics);
  sendJson(c.res, 200, { response: out.choices[0].text, status: 200, time: stamp() });
}

export const simpleRoutes: Route[] = [{ method: 'POST', path: '/', family: 'simple', handler: simple }];
