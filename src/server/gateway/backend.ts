import { Agent, request, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { UserError } from '../../errors.js';
import { NOT_CONNECTED, networkWords } from '../../util/netErrors.js';

/**
 * One engine behind the gateway and what the gateway knows of it: whether it answers, which models it lists, how
 * many of the gateway's requests it has in flight. Its state is set by health checks (GET /v1/models) and by
 * requests that could not reach it.
 */
export type BackendState = 'checking' | 'up' | 'loading' | 'down' | 'invalid';

export interface BackendModel {
  id: string;
  maxModelLen?: number;
  created?: number;
  ownedBy?: string;
}

/** Connections are kept open between requests: a new TCP (and TLS) handshake per request would cost more than the gateway may add. */
const httpAgent = new Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 15_000 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 15_000 });

/** The backend's root ("http://h:8000/v1" and "http://h:8000/" are the same server): OpenAI paths go under /v1 of it. */
export function backendRoot(given: string): URL {
  let u: URL;
  try {
    u = new URL(given.includes('://') ? given : `http://${given}`);
  } catch {
    throw new UserError(`--backend ${given} is not a URL; give e.g. http://127.0.0.1:8000 (vLLM) or http://10.0.0.5:8080 (llama-server)`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`--backend ${given}: only http:// and https:// backends are supported`, 2);
  if (u.search || u.hash) throw new UserError(`--backend ${given}: give the server's address without a query or fragment`, 2);
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '') + '/';
  return u;
}

export interface SendOptions {
  method: 'GET' | 'POST';
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
  /** Abort at once (the client left). */
  signal?: AbortSignal;
  /** No connection within this many ms: the backend is taken as unreachable. */
  connectMs: number;
  /** No byte for this many ms (waiting for the answer, or between two pieces of it). */
  idleMs: number;
}

/** Why a request to a backend failed before any of its answer came: `connect` ones mean the backend is down. */
export class BackendFailure extends Error {
  /** `stale`: the request went out on a kept-alive connection the backend had closed, before any answer. */
  constructor(message: string, readonly kind: 'connect' | 'timeout' | 'lost', readonly stale = false) {
    super(message);
  }
}

/** Node's error codes, in words an operator reads. */
const said = (e: NodeJS.ErrnoException) => networkWords(e.code) ?? e.message;

export class Backend {
  readonly root: URL;
  state: BackendState = 'checking';
  /** What the last check or request found wrong, in words. */
  problem?: string;
  models: BackendModel[] = [];
  /** The gateway's requests it is answering now. */
  outstanding = 0;
  /** Requests sent to it, and those that failed before their answer came. */
  sent = 0;
  failures = 0;
  checkedAt?: Date;

  /** The URL as the operator gave it, without a password it may hold: what /health, /metrics and messages show. */
  readonly url: string;
  /** Health checks failed in a row. */
  private misses = 0;
  private checking?: Promise<boolean>;

  constructor(given: string, private key?: string) {
    // The root keeps user:password (Node sends it as Basic authentication); nothing shown does.
    this.root = backendRoot(given);
    const shown = new URL(this.root.href);
    shown.username = '';
    shown.password = '';
    this.url = given.includes('@') ? shown.href.replace(/\/$/, '') : given;
  }

  get up(): boolean {
    return this.state === 'up';
  }

  serves(model: string): boolean {
    return this.models.some((m) => m.id === model);
  }

  /**
   * One HTTP exchange, resolved when the answer's headers have come. Fails with a BackendFailure when the backend
   * cannot be reached, does not answer in time, or closes the connection first.
   */
  async send(o: SendOptions): Promise<IncomingMessage> {
    try {
      return await this.sendOnce(o);
    } catch (e) {
      // A kept-alive connection the backend closed as it was reused (uvicorn closes idle ones after 5 s): nothing of
      // the request was read, so it goes again on a new connection, as Node's documentation advises.
      if (e instanceof BackendFailure && e.stale && !o.signal?.aborted) return this.sendOnce(o);
      throw e;
    }
  }

  private sendOnce(o: SendOptions): Promise<IncomingMessage> {
    const target = new URL(o.path.replace(/^\//, ''), this.root);
    const https = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (e: BackendFailure) => {
        clearTimeout(connectTimer);
        req.destroy();
        reject(e);
      };
      const req = (https ? httpsRequest : request)(target, {
        method: o.method,
        agent: https ? httpsAgent : httpAgent,
        headers: {
          accept: 'application/json, text/event-stream',
          ...(o.body ? { 'content-type': 'application/json', 'content-length': String(o.body.length) } : {}),
          ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
          ...o.headers,
        },
        signal: o.signal,
      });
      req.on('socket', (s) => {
        // A kept-alive socket is connected already; a new one gets connectMs to connect.
        if (!s.connecting) return;
        connectTimer = setTimeout(() => fail(new BackendFailure(`no connection within ${o.connectMs / 1000} s`, 'connect')), o.connectMs);
        s.once('connect', () => clearTimeout(connectTimer));
      });
      req.setTimeout(o.idleMs, () => fail(new BackendFailure(`no answer within ${o.idleMs / 1000} s`, 'timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        if (o.signal?.aborted) { reject(o.signal.reason); return; }
        // A reused socket the backend had closed is a lost connection, not a down backend: it is retried like one.
        const connecting = !req.reusedSocket && NOT_CONNECTED.includes(e.code ?? '');
        const stale = req.reusedSocket && ['ECONNRESET', 'EPIPE'].includes(e.code ?? '');
        reject(new BackendFailure(said(e), connecting ? 'connect' : 'lost', stale));
      });
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        // From here the answer's reader watches for silence (upstream.ts), in its own words.
        req.setTimeout(0);
        resolve(res);
      });
      req.end(o.body);
    });
  }

  /** Health check: GET /v1/models, read for the models; sets the state and says whether it changed. One at a time. */
  check(timeoutMs: number): Promise<boolean> {
    this.checking ??= this.checkOnce(timeoutMs).finally(() => { this.checking = undefined; });
    return this.checking;
  }

  private async checkOnce(timeoutMs: number): Promise<boolean> {
    const before = `${this.state} ${this.problem ?? ''} ${this.models.map((m) => m.id).join(',')}`;
    try {
      const res = await this.send({ method: 'GET', path: '/v1/models', connectMs: timeoutMs, idleMs: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
      const text = await readAll(res, 4 << 20);
      this.judge(res.statusCode ?? 0, String(res.headers['content-type'] ?? ''), text);
      this.misses = 0;
    } catch (e) {
      const refused = e instanceof BackendFailure && e.kind === 'connect';
      const problem = e instanceof BackendFailure ? e.message : (e as Error).name === 'TimeoutError' ? `no answer to GET /v1/models within ${timeoutMs / 1000} s` : (e as Error).message;
      // A backend that is there but slow to list its models once (busy) stays in; two misses, or a refusal, take it out.
      if (refused || ++this.misses >= 2 || this.state !== 'up') {
        this.state = 'down';
        this.problem = problem;
      }
    }
    this.checkedAt = new Date();
    return before !== `${this.state} ${this.problem ?? ''} ${this.models.map((m) => m.id).join(',')}`;
  }

  /** What an answer to GET /v1/models says about the backend. */
  private judge(status: number, type: string, text: string) {
    let json: { data?: unknown; error?: { message?: unknown; code?: unknown } | string } | undefined;
    try { json = JSON.parse(text); } catch { json = undefined; }
    const start = text.slice(0, 120).replace(/\s+/g, ' ').trim();
    const message = typeof json?.error === 'string' ? json.error : typeof json?.error?.message === 'string' ? json.error.message : start;
    if (status === 503) {
      // llama3-zh and llama-server answer 503 while their model loads.
      this.state = 'loading';
      this.problem = `loading (${message})`;
      return;
    }
    if (status === 401 || status === 403) {
      this.state = 'down';
      this.problem = `answered ${status} (${message}): give the backend's key with --backend-key`;
      return;
    }
    if (status !== 200 || !Array.isArray(json?.data)) {
      this.state = 'invalid';
      this.problem = `not an OpenAI-compatible server: GET /v1/models answered ${status}${type ? ` ${type.split(';')[0]}` : ''}: ${start || '(empty)'}`;
      return;
    }
    this.models = (json.data as Record<string, unknown>[]).filter((m) => typeof m?.id === 'string').map((m) => ({
      id: m.id as string,
      maxModelLen: typeof m.max_model_len === 'number' ? m.max_model_len : undefined,
      created: typeof m.created === 'number' ? m.created : undefined,
      ownedBy: typeof m.owned_by === 'string' ? m.owned_by : undefined,
    }));
    this.state = 'up';
    this.problem = this.models.length ? undefined : 'lists no models';
  }

  /** A request could not reach it: out of the rotation until a health check finds it again. */
  markDown(problem: string) {
    this.state = 'down';
    this.problem = problem;
  }
}

/** A whole (small) answer, at most `limit` bytes. */
export async function readAll(res: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    size += (c as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new BackendFailure(`answered more than ${limit >> 20} MiB`, 'lost');
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
