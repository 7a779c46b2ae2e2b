/**
 * Which model of a remote server a chat talks to: the one named (--model NAME), which must be one the server lists
 * in GET /v1/models, or without a name its only model, or its first while saying which others there are.
 */
import { UserError } from '../errors.js';
import { type Endpoint, failure, notOpenAi, send, shownBase } from './openaiHttp.js';

export interface RemoteModel {
  id: string;
  /** vLLM and llama3-zh list it (max_model_len); llama-server does not. */
  contextSize?: number;
}

/** GET /v1/models: the models in the order the server lists them. */
export async function listModels(ep: Endpoint, wanted?: string): Promise<RemoteModel[]> {
  const what = 'GET /v1/models';
  const res = await send(ep, 'models', { method: 'GET' });
  // A server without the list (a proxy that passes only chat, an old llama-server) still chats with a model named.
  if (wanted !== undefined && [404, 405, 501].includes(res.status)) {
    await res.body?.cancel();
    return [{ id: wanted }];
  }
  if (!res.ok) throw await failure(ep, what, res);
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { throw notOpenAi(ep, what, res, text); }
  const data = json?.data;
  if (!Array.isArray(data) || data.some((m) => typeof m?.id !== 'string')) throw notOpenAi(ep, what, res, text);
  return data.map((m: { id: string; max_model_len?: unknown }) => ({
    id: m.id,
    ...(typeof m.max_model_len === 'number' && m.max_model_len > 0 ? { contextSize: m.max_model_len } : {}),
  }));
}

export interface Chosen {
  model: RemoteModel;
  /** Said on stderr when the server has several models and none was named. */
  notice?: string;
}

export function chooseModel(ep: Endpoint, models: RemoteModel[], wanted?: string): Chosen {
  const base = shownBase(ep.base);
  const names = models.map((m) => m.id);
  if (!models.length) throw new UserError(`${base} lists no models (GET /v1/models gave an empty list); is a model loaded?`);
  if (wanted !== undefined) {
    const found = models.find((m) => m.id === wanted);
    if (!found) throw new UserError(`${base} has no model "${wanted}"; its models: ${names.join(', ')}`);
    return { model: found };
  }
  const [first, ...others] = models;
  if (!others.length) return { model: first };
  return { model: first, notice: `(${base} serves ${models.length} models: chatting with "${first.id}"; the others: ${others.map((m) => m.id).join(', ')}; choose one with --model NAME)` };
}
