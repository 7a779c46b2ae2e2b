/**
 * Talking to an OpenAI-compatible server (vLLM, llama.cpp's llama-server, SGLang, llama3-zh serve) over fetch: its
 * API root from the URL a user gives, and each way a request can fail said as one line that names what to do:
 * nothing listening, an API key wanted or wrong, a prompt over the server's context, a URL that is no such API.
 */
import { ContextOverflowError } from '../engine/errors.js';
import { UserError } from '../errors.js';
import { networkWords } from '../util/netErrors.js';

export interface Endpoint {
  /** The API root, ending in "/v1/". */
  base: URL;
  apiKey?: string;
  /** Where the key came from ("--api-key", "OPENAI_API_KEY"), for the message when the server refuses it. */
  keyFrom?: string;
}

/** The API root of a server given as http://host:port or http://host:port/v1 (a trailing slash or not). */
export function apiBase(given: string, flag = '--base-url'): URL {
  let url: URL | undefined;
  try { url = new URL(given.replace(/\/+$/, '') + '/'); } catch { url = undefined; }
  // "localhost:8000" parses, as a URL of the scheme "localhost:"; only http(s) is a server here.
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new UserError(`${flag} ${given} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1`, 2);
  }
  url.search = '';
  url.hash = '';
  return /\/v1\/$/.test(url.pathname) ? url : new URL('v1/', url);
}

/** The API root as users write it (no trailing slash), for messages, --json and /save: never a password it holds. */
export function shownBase(base: URL): string {
  const u = new URL(base.href);
  u.username = '';
  u.password = '';
  return u.href.replace(/\/$/, '');
}

/**
 * The URL to fetch and its Authorization: the API key as a bearer token, else the URL's own user:password (a reverse
 * proxy with Basic authentication) as a header, since fetch refuses a URL that holds them.
 */
function target(ep: Endpoint, path: string): { url: URL; authorization?: string } {
  const url = new URL(path, ep.base);
  const basic = url.username || url.password
    ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
  url.username = '';
  url.password = '';
  return { url, authorization: ep.apiKey ? `Bearer ${ep.apiKey}` : basic };
}

/**
 * A 400 (413) that says the prompt is longer than the server's context: llama3-zh's code "context_length_exceeded",
 * vLLM's "maximum context length", llama-server's "exceeds the available context size", others' "too long".
 */
export function saysContextOverflow(status: number, message: string, type?: unknown, code?: unknown): boolean {
  return (status === 400 || status === 413) && /context|too long|exceed/i.test(`${message} ${type ?? ''} ${code ?? ''}`);
}

/** Why fetch failed, in words: undici puts the system's error (code and message) in `cause`. */
export function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const words = networkWords(cause?.code);
  if (words) return cause?.code === 'ECONNREFUSED' ? `${words}; is the server running?` : words;
  return cause?.message ?? (e as Error).message;
}

const isAbort = (e: unknown) => (e as Error)?.name === 'AbortError';

/** fetch `path` under the API root with the key; a server not reached is a UserError, an abort stays an AbortError. */
export async function send(ep: Endpoint, path: string, init: { method: string; body?: object; signal?: AbortSignal }): Promise<Response> {
  try {
    const { url, authorization } = target(ep, path);
    return await fetch(url, {
      method: init.method,
      headers: {
        accept: init.body ? 'text/event-stream, application/json' : 'application/json',
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(authorization ? { authorization } : {}),
      },
      body: init.body ? JSON.stringify(init.body) : undefined,
      signal: init.signal,
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new UserError(`cannot reach ${shownBase(ep.base)}: ${networkReason(e)}`);
  }
}

/** The start of a body that is not what an OpenAI API sends, on one line. */
export function bodyStart(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat ? JSON.stringify(flat.length > 120 ? `${flat.slice(0, 120)}…` : flat) : '(an empty body)';
}

/** The server's own words in an error body: OpenAI's {error: {message}}, FastAPI's {detail}, or {message}. */
function errorMessage(json: any): string | undefined {
  const e = json?.error;
  const m = typeof e === 'string' ? e : e?.message ?? json?.detail ?? json?.message;
  return typeof m === 'string' ? m : m !== undefined ? JSON.stringify(m) : undefined;
}

/** The error for a response that is not a success, read to its end. */
export async function failure(ep: Endpoint, what: string, res: Response): Promise<UserError> {
  const text = await res.text().catch(() => '');
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  const base = shownBase(ep.base);
  if (res.status === 401 || res.status === 403) {
    if (!ep.apiKey) return new UserError(`the server at ${base} wants an API key: pass --api-key KEY (or set LLAMA3_ZH_API_KEY)`);
    return new UserError(`the API key is wrong: ${base} refused the one from ${ep.keyFrom ?? '--api-key'} (${res.status})`);
  }
  const message = errorMessage(json);
  if (message === undefined) return notOpenAi(ep, what, res, text);
  if (saysContextOverflow(res.status, message, json?.error?.type, json?.error?.code)) {
    return new ContextOverflowError(`${base} cannot take the conversation: ${message}`);
  }
  return new UserError(`${base} answered ${what} with ${res.status}: ${message}`);
}

/** A server that answers, but not as an OpenAI API does: what it said, so the user sees which URL is wrong. */
export function notOpenAi(ep: Endpoint, what: string, res: Response, text: string): UserError {
  const type = res.headers.get('content-type')?.split(';')[0];
  return new UserError(`${shownBase(ep.base)} is not an OpenAI-compatible API: ${what} answered ${res.status}${type ? ` (${type})` : ''}: ${bodyStart(text)}`);
}
