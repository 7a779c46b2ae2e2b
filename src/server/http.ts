import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonDepth } from '../util/json.js';
import type { Socket } from 'node:net';

/** An error a client caused (or a state it must wait out), with the HTTP status and OpenAI error fields. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, param: string | null = null) => new ApiError(400, message, 'invalid_request_error', param);

/** A client's value as an error message quotes it: its JSON, cut short, so that a megabyte sent is not a megabyte back. */
export function shown(v: unknown, max = 60): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** A message built elsewhere around a client's value (chat/tools.ts readTools), kept to one readable line: its start and its advice. */
export function clipped(message: string, max = 400): string {
  return message.length > max ? `${message.slice(0, max / 2)}…${message.slice(-max / 2)}` : message;
}

/** Request bodies above this are refused with 413 before they are read into memory. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Request bodies nesting deeper than this are refused. OpenAI's structured outputs allow 10 levels of schema
 * nesting (about 25 levels of JSON with the request around it) and serde_json stops at 128, so no real client
 * comes near; past a few thousand levels our recursive code (JSON.stringify, grammar building) would overflow.
 */
export const MAX_BODY_DEPTH = 128;

/**
 * Bytes of request bodies being read, all requests together, and their limit. Each body is held until its last
 * byte: a client that opens many connections and sends all but that byte of 8 MiB on each (Node waits up to
 * its 300 s requestTimeout) would otherwise hold 8 MiB per connection, as many as it likes, until memory runs out.
 */
export const MAX_PENDING_BODY_BYTES = 8 * MAX_BODY_BYTES;
let pendingBodyBytes = 0;

/** The body as parsed JSON: 413 when too big, 400 when not JSON, not an object, or nested too deeply. */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  // The rest of the body is never read, so the connection cannot carry another request: close it.
  const tooBig = () => new ApiError(413, `the request body is over the ${limit / 1024 / 1024} MiB limit`, 'invalid_request_error', null, 'request_too_large', { connection: 'close' });
  if (declared > limit) throw tooBig();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) throw tooBig();
      if (pendingBodyBytes + (c as Buffer).length > MAX_PENDING_BODY_BYTES) {
        throw new ApiError(503, `the server is reading ${MAX_PENDING_BODY_BYTES / 1024 / 1024} MiB of request bodies already; retry in a moment`, 'unavailable_error', null, null, { connection: 'close', 'retry-after': '1' });
      }
      pendingBodyBytes += (c as Buffer).length;
      chunks.push(c as Buffer);
    }
  } finally {
    pendingBodyBytes -= chunks.reduce((n, c) => n + c.length, 0);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) throw badRequest('the request body is empty; send a JSON object');
  // Measured before parsing: V8's JSON.parse takes 4 s and 280 MB for an 8 MiB body of nested lists.
  const depth = jsonDepth(text);
  if (depth > MAX_BODY_DEPTH) throw badRequest(`the request body nests ${depth} levels deep; the limit is ${MAX_BODY_DEPTH} (a JSON schema needs far fewer)`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw badRequest('the request body must be a JSON object');
  return data as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A response that streams events; `closed` turns true (and `signal` aborts) when the client goes away. */
export class EventStream {
  readonly signal: AbortSignal;

  constructor(private res: ServerResponse, private kind: 'sse' | 'ndjson') {
    this.signal = disconnectSignal(res);
  }

  get closed(): boolean {
    return this.signal.aborted;
  }

  private start() {
    if (this.res.headersSent) return;
    this.res.writeHead(200, this.kind === 'sse'
      ? { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' }
      : { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
    // Each token goes out at once, not when Nagle's algorithm lets it.
    this.res.socket?.setNoDelay(true);
  }

  send(data: unknown) {
    if (this.closed) return;
    this.start();
    this.res.write(this.kind === 'sse' ? `data: ${JSON.stringify(data)}\n\n` : JSON.stringify(data) + '\n');
  }

  end() {
    if (this.closed) return;
    this.start();
    if (this.kind === 'sse') this.res.write('data: [DONE]\n\n');
    this.res.end();
  }
}

/**
 * Wait while `res` holds more than it can send (a client reading slowly: its stream waits for it, rather than memory
 * filling up). A client that takes nothing for `ms` is stalled: its connection is closed, so it holds nothing.
 */
export async function drained(res: ServerResponse, ms: number): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return;
  // One signal for both waits and the limit: the wait that loses leaves no listener behind.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]);
  } catch { /* the limit, or the response failed: either way, looked at below */ } finally {
    clearTimeout(timer);
    ac.abort();
  }
  if (res.writableNeedDrain && !res.destroyed) res.destroy();
}

/** The unfinished responses of each socket, aborted together when it closes: one listener per socket. */
const unfinished = new WeakMap<Socket, Set<() => void>>();

function onSocketClose(socket: Socket, abort: () => void): () => void {
  let set = unfinished.get(socket);
  if (!set) {
    const all = new Set<() => void>();
    socket.once('close', () => { for (const a of all) a(); });
    unfinished.set(socket, set = all);
  }
  set.add(abort);
  return () => set.delete(abort);
}

/**
 * Abort when the client disconnects before the response is complete. Node emits `close` only on the response
 * being written; a pipelined request waiting behind it on the same socket hears nothing when the socket goes,
 * and would decode to its end for nobody. So the socket itself is watched too.
 */
export function disconnectSignal(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  const abort = () => { if (!res.writableFinished) ac.abort(); };
  const socket = res.req.socket;
  if (socket.destroyed) abort();
  else {
    const unwatch = onSocketClose(socket, abort);
    res.once('close', () => { unwatch(); abort(); });
  }
  return ac.signal;
}
