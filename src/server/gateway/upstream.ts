import type { IncomingMessage } from 'node:http';
import { Admission } from '../admission.js';
import { ApiError } from '../http.js';
import { AffinityTable, prefixPoints } from './affinity.js';
import { Backend, BackendFailure, readAll } from './backend.js';
import type { BackendReply, Upstream, UpstreamModel } from './types.js';
import { bare } from '../models.js';
import { findModel } from './models.js';

export interface GatewayOptions {
  backends: string[];
  /** Sent to every backend as "Authorization: Bearer KEY". */
  backendKey?: string;
  /** No byte from a backend for this long (waiting for its answer, or mid-stream): it has timed out. */
  timeoutMs: number;
  /** A client that takes nothing of a stream for this long is cut off (nginx's send_timeout): it holds a slot. */
  clientTimeoutMs: number;
  /** How often each backend's /v1/models is asked. */
  healthIntervalMs: number;
  /** Requests in flight per backend; the gateway as a whole admits this many times the backends. */
  parallel: number;
  /** Requests that may wait beyond those; more get 429. */
  maxQueue: number;
  /** A backend's state changed (up, down, back up): one line for the operator. */
  onBackend?: (line: string) => void;
}

/** A health check's answer may take this long (a busy backend lists its models late), whatever the interval. */
const HEALTH_TIMEOUT_MS = 5_000;
/** A new connection that takes longer than this means the backend is not there. */
const CONNECT_MS = 5_000;
/** A non-streamed answer is read whole before it goes on (so a backend failing half-way is retried); at most this big. */
const MAX_ANSWER_BYTES = 64 << 20;
/**
 * Affinity gives way to load when its backend has this many more requests in flight than the least busy one, and
 * at least twice as many: a warm cache saves a prompt's prefill, a queue costs every token of the wait.
 */
const AFFINITY_SLACK = 4;

/** Statuses that say "not now, not here" rather than "not this request": another backend may take it. */
const RETRYABLE = new Set([429, 502, 503]);


export class Gateway implements Upstream {
  /** How long a client may take nothing of a stream before it is cut off. */
  readonly clientTimeoutMs: number;
  readonly backends: Backend[];
  readonly admission: Admission;
  private affinity = new AffinityTable<Backend>();
  private timer?: NodeJS.Timeout;
  retries = 0;
  affinityHits = 0;

  constructor(private o: GatewayOptions) {
    this.clientTimeoutMs = o.clientTimeoutMs;
    const seen = new Set<string>();
    this.backends = o.backends.map((u) => new Backend(u, o.backendKey)).filter((b) => !seen.has(b.root.href) && seen.add(b.root.href));
    this.admission = new Admission(o.parallel * this.backends.length, o.maxQueue);
  }

  /** Check every backend now, then every healthIntervalMs. */
  async start(): Promise<void> {
    await this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.o.healthIntervalMs);
  }

  stop() {
    clearInterval(this.timer);
  }

  /** Check each backend whose last check has ended; a slow one does not hold the others' back. */
  async checkAll(): Promise<void> {
    await Promise.all(this.backends.map(async (b) => {
      if (await b.check(HEALTH_TIMEOUT_MS)) this.say(b);
    }));
  }

  private say(b: Backend) {
    const what = b.state === 'up'
      ? `up, serving ${b.models.map((m) => m.id).join(', ') || 'no models'}`
      : `${b.state}: ${b.problem}${b.state === 'invalid' ? '' : `; checking every ${this.o.healthIntervalMs / 1000} s`}`;
    this.o.onBackend?.(`llama3-zh serve: backend ${b.url} ${what}`);
  }

  models(): UpstreamModel[] {
    const byId = new Map<string, UpstreamModel>();
    for (const b of this.backends) {
      if (!b.up) continue;
      for (const m of b.models) {
        const known = byId.get(m.id);
        if (known) known.backends.push(b.url);
        else byId.set(m.id, { id: m.id, backends: [b.url], maxModelLen: m.maxModelLen, created: m.created, ownedBy: m.ownedBy });
      }
    }
    return [...byId.values()];
  }

  defaultModel(): string | undefined {
    return this.models()[0]?.id;
  }

  /** The model id a request means, or the 404 / 503 that says why there is none. */
  private resolve(name: unknown): string {
    if (name !== undefined && name !== null && typeof name !== 'string') throw new ApiError(400, '"model" must be a string', 'invalid_request_error', 'model');
    const up = this.models();
    if (!up.length) throw this.noneUp();
    if (!name) return up[0].id;
    const id = findModel(up, name)?.id;
    if (id) return id;
    const downWith = this.backends.filter((b) => !b.up && (b.serves(name) || b.serves(bare(name))));
    if (downWith.length) {
      throw new ApiError(503, `the backends that serve "${name}" are not up (${downWith.map((b) => `${b.url}: ${b.problem}`).join('; ')}); retry shortly`,
        'unavailable_error', 'model', 'backend_unavailable', { 'retry-after': '2' });
    }
    throw new ApiError(404, `the model "${name}" does not exist on any backend; they serve: ${up.map((m) => m.id).join(', ')}`,
      'invalid_request_error', 'model', 'model_not_found');
  }

  private noneUp(): ApiError {
    return new ApiError(503, `no backend is up: ${this.backends.map((b) => `${b.url} ${b.state}${b.problem ? ` (${b.problem})` : ''}`).join('; ')}`,
      'unavailable_error', null, 'no_backend', { 'retry-after': '2' });
  }

  /** The backend for a request: the one holding its prefix unless that one is much busier, else the least busy. */
  private pick(model: string, points: string[], tried: Set<Backend>): Backend | undefined {
    const usable = (b: Backend) => b.up && b.serves(model) && !tried.has(b);
    let least: Backend | undefined;
    for (const b of this.backends) {
      // Ties go to the one sent fewer requests, so one client's requests take turns.
      if (usable(b) && (!least || b.outstanding < least.outstanding || (b.outstanding === least.outstanding && b.sent < least.sent))) least = b;
    }
    if (!least) return undefined;
    const warm = this.affinity.lookup(points, usable);
    if (warm && warm !== least) {
      const extra = warm.outstanding - least.outstanding;
      if (extra < Math.max(AFFINITY_SLACK, least.outstanding)) {
        this.affinityHits++;
        return warm;
      }
    } else if (warm) this.affinityHits++;
    return least;
  }

  async post(path: string, body: Record<string, unknown>, signal: AbortSignal): Promise<BackendReply> {
    const model = this.resolve(body.model);
    const payload = Buffer.from(JSON.stringify({ ...body, model }));
    if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
      // vLLM would read 1 or "true" as true; the gateway would then buffer what the client means to stream.
      throw new ApiError(400, '"stream" must be true or false', 'invalid_request_error', 'stream');
    }
    const stream = body.stream === true;
    const points = prefixPoints(path, body, model);
    const release = await this.admission.acquire(1, signal);
    const tried = new Set<Backend>();
    const failures: string[] = [];
    const statuses: number[] = [];
    let last: { res: IncomingMessage; text: Buffer; backend: Backend } | undefined;
    try {
      for (;;) {
        const b = this.pick(model, points, tried);
        if (!b) break;
        tried.add(b);
        if (tried.size > 1) this.retries++;
        b.outstanding++;
        b.sent++;
        let done = false;
        const finish = () => { if (!done) { done = true; b.outstanding--; } };
        try {
          const res = await b.send({ method: 'POST', path, body: payload, signal, connectMs: CONNECT_MS, idleMs: this.o.timeoutMs });
          const status = res.statusCode ?? 502;
          if (RETRYABLE.has(status)) {
            // Read for its message: the client sees it if no other backend does better.
            last = { res, text: Buffer.from(await readAll(res, 1 << 20).catch(() => '')), backend: b };
            statuses.push(status);
            finish();
            continue;
          }
          this.watch(res);
          if (status === 401 || status === 403) {
            // The backend refused the gateway's key, not the client's: the client's own key was fine.
            res.resume();
            b.failures++;
            throw new ApiError(502, `the backend ${b.url} refused the gateway's key (${status}); give it with --backend-key`, 'server_error', null, 'backend_unauthorized');
          }
          if (!stream || status !== 200) {
            const whole = await this.readWhole(res);
            finish();
            this.settled(b, status, points);
            release();
            return wholeReply(b.url, status, headersOf(res), whole);
          }
          // Before the first byte nothing has reached the client: a backend failing now is retried like any other.
          const first = await this.firstPiece(res);
          this.settled(b, status, points);
          return { backend: b.url, status, headers: headersOf(res), body: this.relay(first, res, b, signal, () => { finish(); release(); }) };
        } catch (e) {
          finish();
          if (signal.aborted) throw signal.reason;
          if (!(e instanceof BackendFailure)) throw e;
          b.failures++;
          failures.push(`${b.url}: ${e.message}`);
          statuses.push(e.kind === 'timeout' ? 504 : 502);
          if (e.kind === 'connect') {
            b.markDown(e.message);
            this.o.onBackend?.(`llama3-zh serve: backend ${b.url} down: ${e.message}; checking every ${this.o.healthIntervalMs / 1000} s`);
          }
        }
      }
    } catch (e) {
      release();
      throw e;
    }
    release();
    if (!tried.size) throw this.resolveAgain(model);
    if (last && statuses.every((s) => RETRYABLE.has(s))) {
      // Every backend was busy or unavailable: the client gets the last one's own answer (429 with retry-after…).
      return wholeReply(last.backend.url, last.res.statusCode ?? 502, headersOf(last.res), last.text);
    }
    const timedOut = statuses.every((s) => s === 504);
    throw new ApiError(timedOut ? 504 : 502, `no backend could answer: ${failures.join('; ')}`, 'server_error', null, timedOut ? 'backend_timeout' : 'backend_failed');
  }

  /** Every backend with the model went away while we tried: say so as resolve would now. */
  private resolveAgain(model: string): ApiError {
    try {
      this.resolve(model);
      return this.noneUp();
    } catch (e) {
      return e as ApiError;
    }
  }

  /** A backend answered: a good answer ties the prompt's prefixes to it. */
  private settled(b: Backend, status: number, points: string[]) {
    if (status >= 200 && status < 300 && points.length) this.affinity.record(points, b);
  }

  /** A backend that goes quiet for the timeout, waiting or mid-answer, is cut off with a BackendFailure. */
  private watch(res: IncomingMessage) {
    // Armed only while the gateway waits for the backend (next()): while a slow client holds the stream back, the
    // backend's silence is the gateway's doing, not the backend's.
    res.on('timeout', () => res.destroy(new BackendFailure(`sent nothing for ${this.o.timeoutMs / 1000} s`, 'timeout')));
  }

  private async readWhole(res: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const it = res[Symbol.asyncIterator]();
    let size = 0;
    for (;;) {
      const r = await this.next(it, res);
      if (r.done) return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      size += r.value.length;
      if (size > MAX_ANSWER_BYTES) {
        res.destroy();
        // Not a failure another backend would not repeat: said, not retried.
        throw new ApiError(502, `the backend's answer is over ${MAX_ANSWER_BYTES >> 20} MiB; ask for less (fewer inputs or tokens), or stream it`, 'server_error', null, 'backend_answer_too_large');
      }
      chunks.push(r.value);
    }
  }

  /** The next piece of an answer; one cut off mid-way is a BackendFailure. */
  private async next(it: AsyncIterator<Buffer>, res: IncomingMessage): Promise<IteratorResult<Buffer>> {
    res.socket?.setTimeout(this.o.timeoutMs);
    try {
      const r = await it.next();
      // Node ends an answer cut off mid-body without an error on some paths: the missing bytes say so.
      if (r.done && !res.complete) throw new BackendFailure('closed the connection mid-answer', 'lost');
      return r;
    } catch (e) {
      throw failureOf(e);
    } finally {
      res.socket?.setTimeout(0);
    }
  }

  /** The first piece of a streamed answer (null: it ended with none), the answer paused after it. */
  private firstPiece(res: IncomingMessage): Promise<Buffer | null> {
    res.socket?.setTimeout(this.o.timeoutMs);
    return new Promise((resolve, reject) => {
      const done = () => { res.off('data', onData); res.off('end', onEnd); res.off('close', onClose); res.off('error', onError); };
      const onData = (c: Buffer) => { res.pause(); done(); resolve(c); };
      const onEnd = () => { done(); resolve(null); };
      const onClose = () => { if (!res.complete) { done(); reject(new BackendFailure('closed the connection mid-answer', 'lost')); } };
      const onError = (e: Error) => { done(); reject(failureOf(e)); };
      res.on('data', onData).on('end', onEnd).on('close', onClose).on('error', onError);
    });
  }

  /**
   * A streamed answer as it comes, unbuffered; a failure mid-stream is an ApiError the route ends its stream with.
   * Driven by the answer's events, not a read per piece: the web stream asks for more (pull) when its reader has
   * taken what it held, and the answer is paused while it holds enough. The backend's silence is timed only while
   * the answer flows: while paused, a slow client holds it back.
   */
  private relay(first: Buffer | null, res: IncomingMessage, b: Backend, signal: AbortSignal, end: () => void): ReadableStream<Uint8Array> {
    let over = false;
    const flowing = (on: boolean) => {
      res.socket?.setTimeout(on ? this.o.timeoutMs : 0);
      if (on) res.resume();
      else res.pause();
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const fail = (e: unknown) => {
          if (over) return;
          over = true;
          end();
          // The client leaving aborts the backend's request too: that is no fault of the backend's.
          if (signal.aborted) { controller.error(signal.reason); return; }
          b.failures++;
          const f = failureOf(e);
          const timeout = f.kind === 'timeout';
          controller.error(new ApiError(timeout ? 504 : 502, `the backend ${b.url} ${f.message}; the reply is cut short`, 'server_error', null, timeout ? 'backend_timeout' : 'backend_lost'));
        };
        const close = () => {
          if (over) return;
          over = true;
          end();
          controller.close();
        };
        if (first === null) { close(); return; }
        controller.enqueue(first);
        res.on('data', (c: Buffer) => {
          if (over) return;
          controller.enqueue(c);
          if ((controller.desiredSize ?? 0) <= 0) flowing(false);
        });
        res.on('end', () => (res.complete ? close() : fail(new BackendFailure('closed the connection mid-answer', 'lost'))));
        res.on('error', fail);
        // A backend gone is counted gone at once, not when a stalled client next asks for more.
        res.on('close', () => { if (!res.complete) fail(new BackendFailure('closed the connection mid-answer', 'lost')); });
      },
      pull: () => { if (!over && res.isPaused()) flowing(true); },
      cancel: () => { over = true; res.destroy(); end(); },
    }, { highWaterMark: 16 });
  }
}

/** Any error of an answer's stream, as a BackendFailure (Node's "aborted" and resets are a connection lost mid-answer). */
function failureOf(e: unknown): BackendFailure {
  if (e instanceof BackendFailure) return e;
  const quiet = (e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as Error).message === 'aborted';
  return new BackendFailure(`closed the connection mid-answer${quiet ? '' : ` (${(e as Error).message})`}`, 'lost');
}

/** An answer read whole: its bytes as they are, and as a stream for readers of streams. */
function wholeReply(backend: string, status: number, headers: Headers, whole: Buffer): BackendReply {
  return { backend, status, headers, whole, get body() { return new Response(new Uint8Array(whole.buffer as ArrayBuffer, whole.byteOffset, whole.length)).body!; } };
}

/** Hop-by-hop headers (RFC 9110 7.6.1), a length the gateway does not keep, and cookies, which are not an API's. */
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'content-length', 'date', 'server', 'set-cookie']);

/** The headers a client may see. */
function headersOf(res: IncomingMessage): Headers {
  const named = String(res.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim());
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined || DROPPED.has(k) || named.includes(k)) continue;
    h.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  return h;
}
