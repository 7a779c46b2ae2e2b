/**
 * The original demo's API (POST / with {"prompt": "…"}), read the same way by the local route (routes/simple.ts)
 * and the gateway's (gateway/simple.ts).
 */
import type { Message } from '../chat/messages.js';
import { optNumber, optString } from './fields.js';
import { badRequest } from './http.js';

type Body = Record<string, unknown>;

/** The system prompt of the original project's FastAPI demo. */
export const SIMPLE_API_SYSTEM = '你是一个超级智者，名字叫shareAI-llama3，拥有优秀的问题解答能力。';

/** "YYYY-MM-DD HH:MM:SS" in local time, as the Python demo stamps its answers. */
export function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export interface SimpleRequest {
  messages: Message[];
  maxTokens?: number;
  temperature: number;
  topP: number;
}

/**
 * The request's fields: "prompt", and optional "system", "history" (earlier [{"role","content"}] turns),
 * "max_tokens" (or the demo's "max_length"), "temperature", "top_p". `system` is the system prompt when the
 * request has none; `()` so that it is asked for only once the prompt is known to be there.
 */
export function simpleRequest(body: Body, system: () => string): SimpleRequest {
  const prompt = optString(body, 'prompt');
  if (!prompt) throw badRequest('"prompt" is required, e.g. {"prompt": "你好"}', 'prompt');
  const sys = optString(body, 'system') ?? system();
  const history = body.history ?? [];
  if (!Array.isArray(history) || history.some((m) => typeof m?.content !== 'string' || (m.role !== 'user' && m.role !== 'assistant'))) {
    throw badRequest('"history" must be a list of {"role": "user"|"assistant", "content": "…"}', 'history');
  }
  return {
    messages: [{ role: 'system', content: sys }, ...(history as Message[]), { role: 'user', content: prompt }],
    maxTokens: optNumber(body, 'max_tokens', { min: 1, int: true }) ?? optNumber(body, 'max_length', { min: 1, int: true }),
    // The demo sampled with temperature 0.6 and top_p 0.9.
    temperature: optNumber(body, 'temperature', { min: 0, max: 2 }) ?? 0.6,
    topP: optNumber(body, 'top_p', { min: 0, max: 1 }) ?? 0.9,
  };
}
