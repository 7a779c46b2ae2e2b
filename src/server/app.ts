import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ContextOverflowError } from '../engine/errors.js';
import { UserError } from '../errors.js';
import type { Ctx, Family, Route } from './context.js';
import { hostName, isLoopbackName, originName } from './hosts.js';
import { ApiError, readJson, sendJson } from './http.js';
import { Metrics } from './metrics.js';
import type { ModelRegistry } from './models.js';
import { browserModelRoutes } from './routes/browserModels.js';
import { embeddingRoutes } from './routes/embeddings.js';
import { ollamaRoutes } from './routes/ollama.js';
import { openaiRoutes } from './routes/openai.js';
import { simpleRoutes } from './routes/simple.js';
import { systemRoutes } from './routes/system.js';
import { trainRoutes } from './routes/train.js';
import { webRoutes } from './routes/web.js';

export interface ServerOptions {
  host: string;
  port: number;
  /** When set, every route but the health check needs `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Browser origins allowed to call the API: exact origins, or "*". Pages on localhost are always allowed. */
  corsOrigins?: string[];
  version: string;
  /** One line per request; none when not given (--quiet). */
  log?: (line: string) => void;
  /** Problems for the operator (an internal error, with its stack); printed even with --quiet. */
  warn?: (line: string) => void;
  /** Run folders (`serve --train-dir`) whose training the page shows: GET /api/train and /api/train/log exist only then. */
  trainDirs?: string[];
  /** The route table; the default is ROUTES. The gateway (serve --backend) brings its own, answered by its backends. */
  routes?: Route[];
}

/** Every route of the server, as data: the fuzz suite and the benchmarks take their targets from here. */
export const ROUTES: Route[] = [...openaiRoutes, ...ollamaRoutes, ...embeddingRoutes, ...simpleRoutes, ...systemRoutes, ...webRoutes, ...browserModelRoutes];

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Equal-length digests compared in constant time: the time taken says nothing about the key. */
function keyMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The URL of a request target: origin-form ("/v1/models?x", even "//a:b"), absolute-form ("http://host/path")
 * or "*". `new URL(target, base)` would read "//a:b" as a host and throw; any target that is not a URL is a 400.
 */
function targetUrl(target: string): URL {
  try {
    if (target.startsWith('/')) return new URL(`http://localhost${target}`);
    if (target === '*') return new URL('http://localhost/');
    if (/^https?:\/\//i.test(target)) {
      const u = new URL(target);
      return new URL(`http://localhost${u.pathname}${u.search}`);
    }
  } catch { /* below */ }
  const shown = target.length > 80 ? `${target.slice(0, 80)}…` : target;
  throw new ApiError(400, `the request target ${JSON.stringify(shown)} is not a valid path; send a path such as /v1/models`);
}

/** The error body each API's clients know how to read. */
function errorBody(family: Family, e: ApiError): unknown {
  const openai = { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
  if (family === 'ollama') return { error: e.message };
  if (family === 'simple') return { ...openai, status: e.status };
  return openai;
}

/** The HTTP server: routing, API keys, CORS, error bodies, request log. The routes do the rest. */
export class ApiServer {
  readonly metrics = new Metrics();
  private models?: ModelRegistry;
  private server: Server;
  private byKey = new Map<string, Route>();
  private paths = new Map<string, string[]>();
  private prefixed: Route[] = [];

  constructor(private o: ServerOptions) {
    for (const r of [...(o.routes ?? ROUTES), ...(o.trainDirs?.length ? trainRoutes(o.trainDirs) : [])]) {
      this.byKey.set(`${r.method} ${r.path}`, r);
      if (r.prefix) this.prefixed.push(r);
      this.paths.set(r.path, [...(this.paths.get(r.path) ?? []), r.method]);
    }
    this.server = createServer((req, res) => {
      // The last resort: nothing a client sends may end the process with an unhandled rejection.
      this.handle(req, res).catch((e: unknown) => this.lastResort(res, e));
    });
    this.server.on('clientError', (err, socket) => this.clientError(err, socket as Socket));
    this.server.keepAliveTimeout = 30_000;
  }

  /** A hostname clients may use: a loopback literal, or the name the server was told to listen on. */
  private knownName(name: string | undefined): boolean {
    return name !== undefined && (isLoopbackName(name) || name.toLowerCase() === this.o.host.toLowerCase());
  }

  /** A Host header naming this server ("localhost:8000", "127.0.0.1", "[::1]:8000"), or none (HTTP/1.0). */
  private isLocalHost(host: string | undefined): boolean {
    return !host || this.knownName(hostName(host));
  }

  /** Start listening; the models come later (health says 503 until then). */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        reject(e.code === 'EADDRINUSE'
          ? new UserError(`port ${this.o.port} on ${this.o.host} is already in use; stop the other server or pass --port N`)
          : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND'
            ? new UserError(`cannot listen on ${this.o.host}: no such address on this machine; use --host 127.0.0.1 or 0.0.0.0`)
            : e);
      };
      this.server.once('error', onError);
      this.server.listen(this.o.port, this.o.host, () => { this.server.off('error', onError); resolve(); });
    });
    return this.url;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}`;
  }

  setModels(models: ModelRegistry) {
    this.models = models;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private allowedOrigin(origin: string, host: string | undefined): boolean {
    const list = this.o.corsOrigins ?? [];
    // A page this server itself hosts (the web UI, reached by any address) is same-origin.
    let same = false;
    try { same = new URL(origin).host === host; } catch { /* not a URL */ }
    return same || list.includes('*') || list.includes(origin) || this.knownName(originName(origin));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const t0 = performance.now();
    let route: Route | undefined;
    let family: Family = 'openai';
    let shownPath = '-';
    res.on('finish', () => {
      this.metrics.request(route?.path ?? 'other', res.statusCode);
      this.o.log?.(`${req.method} ${shownPath} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms`);
    });
    try {
      const url = targetUrl(req.url ?? '/');
      shownPath = url.pathname;
      const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
      const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET';
      route = this.byKey.get(`${method} ${path}`) ?? this.prefixed.find((r) => r.method === method && path.startsWith(r.path));
      family = route?.family ?? (path.startsWith('/api/') ? 'ollama' : 'openai');
      // DNS rebinding: a web page whose name was pointed at 127.0.0.1 reaches a loopback server under a foreign
      // Host name. A server on loopback answers only to loopback names (and the name it was started with).
      if (isLoopbackName(this.o.host) && !this.isLocalHost(req.headers.host)) {
        throw new ApiError(403, `this server listens on ${this.o.host} and answers only to localhost names, not "${req.headers.host}"; use --host 0.0.0.0 to serve other names`, 'permission_error');
      }
      const origin = req.headers.origin;
      if (origin) {
        // A web page on another site may not drive this server (nor read its answers) unless allowed.
        if (!this.allowedOrigin(origin, req.headers.host)) throw new ApiError(403, `requests from the web page origin ${origin} are not allowed; start the server with --cors-origins ${origin}`, 'permission_error');
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', 'Origin');
        if (req.method === 'OPTIONS') {
          res.writeHead(204, {
            'access-control-allow-methods': 'GET, POST, OPTIONS',
            'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
            'access-control-max-age': '600',
          });
          res.end();
          return;
        }
      }
      if (!route) {
        const allowed = this.paths.get(path);
        if (allowed) throw new ApiError(405, `${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`, 'invalid_request_error', null, null, { allow: allowed.join(', ') });
        throw new ApiError(404, `no route ${req.method} ${url.pathname}; see the README for the endpoints`, 'not_found_error');
      }
      if (this.o.apiKey && !route.public) {
        const auth = req.headers.authorization ?? '';
        const given = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
        if (!given || !keyMatches(given, this.o.apiKey)) {
          throw new ApiError(401, given ? 'the API key is wrong' : 'an API key is required: send the header "Authorization: Bearer <key>"',
            'invalid_request_error', null, 'invalid_api_key', { 'www-authenticate': 'Bearer' });
        }
      }
      const models = this.models;
      if (!models && !route.whileLoading) {
        throw new ApiError(503, 'the model is still loading; retry in a moment', 'unavailable_error', null, 'loading', { 'retry-after': '2' });
      }
      let bodyPromise: Promise<Record<string, unknown>> | undefined;
      const ctx: Ctx = {
        req, res, url,
        get models() {
          if (!models) throw new ApiError(503, 'the model is still loading', 'unavailable_error', null, 'loading');
          return models;
        },
        metrics: this.metrics,
        body: () => (bodyPromise ??= readJson(req)),
        version: this.o.version,
        loading: !models,
      };
      await route.handler(ctx);
    } catch (err) {
      this.fail(res, family, err);
    }
  }

  private fail(res: ServerResponse, family: Family, err: unknown) {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err instanceof UserError) e = new ApiError(400, err.message, 'invalid_request_error', null, err instanceof ContextOverflowError ? 'context_length_exceeded' : null);
    else if ((err as Error)?.name === 'AbortError' || res.destroyed) return; // the client left
    else {
      // The details (a stack, a file path) are for the operator's log, not for the client.
      this.o.warn?.(`internal error: ${(err as Error)?.stack ?? err}`);
      e = new ApiError(500, 'internal error; the server log has the details', 'server_error');
    }
    if (res.destroyed) return;
    if (!res.headersSent) {
      sendJson(res, e.status, errorBody(family, e), e.headers);
      return;
    }
    // Mid-stream: the status is already sent, so the error goes in the stream, the way each API's clients read it.
    const type = String(res.getHeader('content-type') ?? '');
    if (type.startsWith('text/event-stream')) res.end(`data: ${JSON.stringify(errorBody('openai', e))}\n\ndata: [DONE]\n\n`);
    else res.end(JSON.stringify(errorBody(family, e)) + '\n');
  }

  /** A handler that failed outside its own try (a bug): log it, answer if still possible, keep serving. */
  private lastResort(res: ServerResponse, err: unknown) {
    this.o.warn?.(`internal error outside a request's handler: ${(err as Error)?.stack ?? err}`);
    try {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, errorBody('openai', new ApiError(500, 'internal error; the server log has the details', 'server_error')));
      else res.destroy();
    } catch {
      res.destroy();
    }
  }

  /**
   * Bytes Node's HTTP parser refused (a bad request line or header, headers too large, a request too slow to
   * arrive): answer with a JSON error and close, as Node's default handler does with an empty body. When a
   * response is already under way on the socket (pipelined garbage), raw bytes would corrupt it: just close.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Socket) {
    const busy = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || busy) {
      socket.destroy();
      return;
    }
    const [status, what] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'the request did not arrive in time']
        : [400, 'the request is not valid HTTP/1.1'];
    const body = JSON.stringify(errorBody('openai', new ApiError(status, `${what}; the connection is closed`)));
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
}
