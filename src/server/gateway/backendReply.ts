/**
 * Reading a backend's OpenAI-API reply: an error status as the ApiError the client gets (same status, same
 * message), a JSON body, or the events of an SSE stream. vLLM, llama-server, SGLang and llama3-zh word their
 * errors in two shapes: OpenAI's {"error": {"message"…}} and vLLM's older {"object": "error", "message"…}.
 */
import { ApiError, clipped } from '../http.js';
import type { BackendReply } from './types.js';
import { sseData } from '../../util/sse.js';

type Body = Record<string, unknown>;

/** An error body is a line or a page; more than this is not read (an HTML page from a proxy, say). */
const MAX_ERROR_BYTES = 64 * 1024;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

async function readText(body: ReadableStream<Uint8Array>, limit = Infinity): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.length > limit) break;
    }
    return text + decoder.decode();
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The error an event or body carries, in either shape; undefined when it is no error. */
function errorOf(data: unknown): { message?: string; type?: string; param?: string; code?: string | number } | undefined {
  if (!isObject(data)) return undefined;
  if (typeof data.error === 'string') return { message: data.error };
  if (isObject(data.error)) {
    const e = data.error;
    return { message: str(e.message), type: str(e.type), param: str(e.param), code: typeof e.code === 'number' ? e.code : str(e.code) };
  }
  if (data.object === 'error') return { message: str(data.message), type: str(data.type), param: str(data.param), code: typeof data.code === 'number' ? data.code : str(data.code) };
  return undefined;
}

function apiError(status: number, e: NonNullable<ReturnType<typeof errorOf>>, fallback: string): ApiError {
  return new ApiError(status, e.message ?? fallback, e.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
    e.param ?? null, typeof e.code === 'string' ? e.code : null);
}

/** A non-2xx reply as the ApiError its client gets: the backend's status and message. */
export async function backendError(reply: BackendReply): Promise<ApiError> {
  const text = (await readText(reply.body, MAX_ERROR_BYTES).catch(() => '')).trim();
  let data: unknown;
  try { data = JSON.parse(text); } catch { /* not JSON: its text is the message */ }
  const e = errorOf(data) ?? (isObject(data) && typeof data.detail === 'string' ? { message: data.detail } : undefined);
  return apiError(reply.status, e ?? { message: text ? clipped(text.replace(/\s+/g, ' ')) : undefined }, `a backend answered ${reply.status} with no message`);
}

const ok = (reply: BackendReply) => reply.status >= 200 && reply.status < 300;

/** A whole reply's JSON; a backend's error as its ApiError. */
export async function replyJson(reply: BackendReply): Promise<Body> {
  if (!ok(reply)) throw await backendError(reply);
  const text = await readText(reply.body);
  try {
    const data = JSON.parse(text);
    if (isObject(data)) return data;
  } catch { /* below */ }
  throw new ApiError(502, 'a backend answered with a body that is not a JSON object', 'server_error');
}

/**
 * The JSON payloads of an SSE reply's events, up to `[DONE]` (util/sse.ts reads them, llama-server's `error:` field
 * too). An error event, or a stream that ends without `[DONE]`, rejects with an ApiError; so does `signal` once
 * aborted (the backend's request is aborted with it). Leaving the loop early cancels the body too: the backend stops
 * writing for nobody.
 */
export async function* sseEvents(reply: BackendReply, signal: AbortSignal): AsyncGenerator<Body> {
  if (!ok(reply)) throw await backendError(reply);
  for await (const payload of sseData(reply.body)) {
    if (signal.aborted) throw new ApiError(499, 'the client went away', 'client_closed');
    if (payload.trim() === '[DONE]') return;
    let event: unknown;
    try { event = JSON.parse(payload); } catch {
      throw new ApiError(502, `a backend sent a stream event that is not JSON: ${clipped(payload, 120)}`, 'server_error');
    }
    const e = errorOf(event);
    if (e) throw apiError(typeof e.code === 'number' && e.code >= 400 && e.code < 600 ? e.code : 502, e, 'a backend failed mid-reply');
    if (isObject(event)) yield event;
  }
  if (signal.aborted) throw new ApiError(499, 'the client went away', 'client_closed');
  throw new ApiError(502, 'a backend ended its stream before the reply was complete', 'server_error');
}
