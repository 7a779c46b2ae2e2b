/**
 * The gateway's own routes (serve --backend): the OpenAI API passed through to a backend as it is, byte for byte
 * and unbuffered, and /v1/models, /health and /metrics answered for all the backends together. The ollama and
 * simple APIs translate onto the backends' OpenAI API (ollama.ts, simple.ts); the web page is the same page.
 */
import type { Ctx, Route } from '../context.js';
import { disconnectSignal, drained, sendJson } from '../http.js';
import { Histogram, memoryGauges, TTFT_BUCKETS } from '../metrics.js';
import { webRoutes } from '../routes/web.js';
import type { Gateway } from './upstream.js';

/** Time from a streamed request's arrival to its first byte from the backend, through the gateway. */
export class GatewayTimes {
  readonly firstByte = new Histogram(TTFT_BUCKETS);
}

/** POST the client's body to the same path on a backend; its answer goes back as it comes. */
function passThrough(gw: Gateway, times: GatewayTimes, path: string) {
  return async (c: Ctx) => {
    const t0 = performance.now();
    const body = await c.body();
    const reply = await gw.post(path, body, disconnectSignal(c.res));
    // Set one by one, not through writeHead: app.ts reads the content type back to end a failed stream in its own shape.
    reply.headers.forEach((v, k) => c.res.setHeader(k, v));
    const streamed = body.stream === true && reply.status === 200;
    if (streamed) times.firstByte.observe((performance.now() - t0) / 1000);
    if (reply.whole) {
      c.res.setHeader('content-length', reply.whole.length);
      c.res.writeHead(reply.status);
      c.res.end(reply.whole);
      return;
    }
    c.res.writeHead(reply.status);
    // Each piece goes out as it comes, not when Nagle's algorithm lets it.
    c.res.socket?.setNoDelay(true);
    const reader = reply.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (c.res.destroyed) return;
        // A slow client holds the backend back rather than the gateway's memory filling up.
        if (!c.res.write(value)) await drained(c.res, gw.clientTimeoutMs);
      }
    } finally {
      if (c.res.destroyed) void reader.cancel().catch(() => {});
    }
    c.res.end();
  };
}

function listModels(gw: Gateway) {
  return async (c: Ctx) => {
    sendJson(c.res, 200, {
      object: 'list',
      data: gw.models().map((m) => ({
        id: m.id, object: 'model', created: m.created ?? 0, owned_by: m.ownedBy ?? 'llama3-zh', root: m.id, parent: null,
        ...(m.maxModelLen !== undefined ? { max_model_len: m.maxModelLen } : {}),
      })),
    });
  };
}

/** 200 while some backend is up, else 503; each backend with its state either way. */
function health(gw: Gateway) {
  return async (c: Ctx) => {
    // Up and serving something: a backend that lists no models answers no request.
    const up = gw.backends.some((b) => b.up && b.models.length > 0);
    sendJson(c.res, up ? 200 : 503, {
      status: up ? 'ok' : 'unavailable',
      backends: gw.backends.map((b) => ({
        url: b.url,
        state: b.state,
        models: b.models.map((m) => m.id),
        outstanding: b.outstanding,
        ...(b.problem ? { problem: b.problem } : {}),
        checked_at: b.checkedAt?.toISOString() ?? null,
      })),
    });
  };
}

function metrics(gw: Gateway, times: GatewayTimes) {
  return async (c: Ctx) => {
    const help = (name: string, type: string, text: string) => [`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`];
    const each = (name: string, type: string, text: string, v: (b: Gateway['backends'][number]) => number) =>
      [...help(name, type, text), ...gw.backends.map((b) => `${name}{backend=${JSON.stringify(b.url)}} ${v(b)}`)];
    const gauge = (name: string, text: string, v: number) => [...help(name, 'gauge', text), `${name} ${v}`];
    const lines = [
      ...c.metrics.requestLines(),
      ...each('llama3zh_backend_up', 'gauge', '1 while the backend answers its health checks and takes requests.', (b) => (b.up ? 1 : 0)),
      ...each('llama3zh_backend_requests_running', 'gauge', 'Requests the gateway has in flight on the backend.', (b) => b.outstanding),
      ...each('llama3zh_backend_requests_total', 'counter', 'Requests the gateway sent to the backend.', (b) => b.sent),
      ...each('llama3zh_backend_failures_total', 'counter', 'Requests that failed on the backend (connection, timeout, lost mid-answer).', (b) => b.failures),
      ...help('llama3zh_gateway_retries_total', 'counter', 'Requests sent on to another backend after one failed or was busy.'), `llama3zh_gateway_retries_total ${gw.retries}`,
      ...help('llama3zh_gateway_affinity_hits_total', 'counter', 'Requests sent to the backend that holds their prompt prefix.'), `llama3zh_gateway_affinity_hits_total ${gw.affinityHits}`,
      ...gauge('llama3zh_requests_running', 'Requests in flight on the backends.', gw.admission.active),
      ...gauge('llama3zh_requests_waiting', 'Requests waiting in the gateway\'s queue.', gw.admission.waiting),
      ...memoryGauges((name, text, v) => gauge(name, text, v)),
      ...times.firstByte.lines('llama3zh_gateway_time_to_first_byte_seconds', 'Time from a streamed request\'s arrival to the backend\'s first byte.'),
    ];
    c.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    c.res.end(lines.join('\n') + '\n');
  };
}

/** The gateway's route table, but for the ollama and simple APIs (given by the caller). */
export function gatewayRoutes(gw: Gateway, translated: Route[] = []): Route[] {
  const times = new GatewayTimes();
  // None of these needs a local model: answered from the first moment.
  const r = (method: 'GET' | 'POST', path: string, family: Route['family'], handler: Route['handler'], pub = false): Route =>
    ({ method, path, family, handler, whileLoading: true, ...(pub ? { public: true } : {}) });
  return [
    r('POST', '/v1/chat/completions', 'openai', passThrough(gw, times, '/v1/chat/completions')),
    r('POST', '/v1/completions', 'openai', passThrough(gw, times, '/v1/completions')),
    r('POST', '/v1/embeddings', 'openai', passThrough(gw, times, '/v1/embeddings')),
    r('GET', '/v1/models', 'openai', listModels(gw)),
    // vLLM and llama-server both serve these at the root; another llama3-zh does too.
    r('POST', '/tokenize', 'system', passThrough(gw, times, '/tokenize')),
    r('POST', '/detokenize', 'system', passThrough(gw, times, '/detokenize')),
    r('GET', '/health', 'system', health(gw), true),
    r('GET', '/metrics', 'system', metrics(gw, times)),
    ...translated,
    ...webRoutes,
  ];
}
