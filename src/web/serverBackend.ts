import { sseData } from '../util/sse.js';
import type { Backend, ChatChunk, PageModel } from './backend.js';

const KEY = 'llama3zh.apiKey';

function headers(): Record<string, string> {
  const key = localStorage.getItem(KEY);
  return { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

/** fetch, asking once for the API key when the server wants one (and keeping it). */
export async function api(path: string, ask: () => string | null, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const res = await fetch(path, { ...init, headers: headers() });
    if (res.status !== 401) return res;
    const key = ask()?.trim();
    if (!key) return res;
    localStorage.setItem(KEY, key);
  }
}

/** The key the page holds for the server, if any: the browser engine needs it to fetch the server's GGUF. */
export function apiKey(): string | undefined {
  return localStorage.getItem(KEY) ?? undefined;
}

/** The server that hosts the page: its /v1/models, /tokenize and streamed /v1/chat/completions. */
export class ServerBackend implements Backend {
  readonly kind = 'server';
  constructor(private ask: () => string | null) {}

  async models(): Promise<PageModel[]> {
    const res = await api('/v1/models', this.ask);
    if (!res.ok) return [];
    const list = (await res.json()).data as Array<{ id: string; max_model_len: number; demo?: boolean }>;
    return list.map((m) => ({ id: m.id, contextSize: m.max_model_len, demo: m.demo }));
  }

  async countTokens(model: string, messages: Array<Record<string, unknown>>): Promise<number> {
    const res = await api('/tokenize', this.ask, { method: 'POST', body: JSON.stringify({ model, messages }) });
    return res.ok ? ((await res.json()) as { count: number }).count : 0;
  }

  async *stream(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<ChatChunk> {
    const res = await api('/v1/chat/completions', this.ask, { method: 'POST', signal, body: JSON.stringify(body) });
    if (!res.ok) throw new Error((await res.json().catch(() => null))?.error?.message ?? `HTTP ${res.status}`);
    for await (const payload of sseData(res.body!)) {
      if (payload !== '[DONE]') yield JSON.parse(payload) as ChatChunk;
    }
  }
}
