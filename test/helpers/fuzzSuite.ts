import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Route } from '../../src/server/context.js';
import { ROOT } from './models.js';
import { postJson, rawHttp, ROUTES, statuses } from './server.js';

/**
 * Random and mutated requests on every route (issue 12): after each batch the server still answers a valid
 * request exactly; no 5xx but 503; every JSON API answer has a body; no error shows a stack or a path of ours.
 * Fixed seeds and bounded counts: the same cases every run, in well under a minute. The same suite runs on a
 * server (fuzz.test.ts) and on a gateway in front of one (fuzzGateway.test.ts).
 */

/** Fixed, so every run tries the same cases; FUZZ_SEED and FUZZ_SCALE (a multiplier of the counts) explore further by hand. */
const SEED = Number(process.env.FUZZ_SEED ?? 1212);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);

export interface FuzzTarget {
  url: string;
  close(): Promise<void>;
}

/** The fuzz tests, on the server `start` gives (with a scripted model served as "scripted"), whose routes are `routes`. */
export function fuzzSuite(start: () => Promise<FuzzTarget>, routes: Route[]) {
let srv: FuzzTarget;

before(async () => {
  srv = await start();
});
after(() => srv.close());

const user = (content: string) => [{ role: 'user', content }];

/** A valid body for every POST route; a route without one fails the suite, so new routes get fuzzed too. */
const VALID: Record<string, Record<string, unknown>> = {
  '/v1/chat/completions': { model: 'scripted', messages: user('red'), max_tokens: 8 },
  '/v1/completions': { model: 'scripted', prompt: 'blue', max_tokens: 8 },
  '/api/chat': { model: 'scripted', messages: user('green'), stream: false, options: { num_predict: 8 } },
  '/api/generate': { model: 'scripted', prompt: '猫', stream: false, options: { num_predict: 8 } },
  '/api/show': { model: 'scripted' },
  '/v1/embeddings': { model: 'scripted', input: ['红', '蓝'] },
  '/api/embed': { model: 'scripted', input: '猫' },
  '/api/embeddings': { model: 'scripted', prompt: '狗' },
  '/': { prompt: '狗', max_tokens: 8 },
  '/tokenize': { prompt: '你好' },
  '/detokenize': { tokens: [9906, 1917] },
};

/** Every field some route reads, so a mutation hits real fields more often than random names. */
const FIELDS = ['model', 'messages', 'prompt', 'max_tokens', 'max_completion_tokens', 'max_length', 'temperature', 'top_p', 'top_k', 'min_p',
  'repetition_penalty', 'presence_penalty', 'frequency_penalty', 'seed', 'stop', 'n', 'stream', 'stream_options', 'logprobs', 'top_logprobs',
  'echo', 'suffix', 'response_format', 'ignore_eos', 'user', 'options', 'format', 'raw', 'system', 'history', 'tokens', 'content',
  'add_special_tokens', 'add_special', 'with_pieces', 'name', 'keep_alive', 'tools', 'logit_bias', 'best_of', 'images',
  'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'input', 'encoding_format', 'dimensions', 'truncate'];

const posts = routes.filter((r) => r.method === 'POST');
const gets = routes.filter((r) => r.method === 'GET');

test('every POST route has a valid body to mutate', () => {
  assert.deepEqual(posts.map((r) => r.path).filter((p) => !VALID[p]), []);
});

/** Tools, tool choices and conversations with calls and results: valid ones, and each part of them broken. */
const some = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, fc.jsonValue({ maxDepth: 2 }));
const schema = fc.oneof(
  fc.constant({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
  fc.constant({ type: 'object', properties: { code: { type: 'string', pattern: '^[0-9]+$' } } }),
  fc.record({ type: fc.constantFrom('object', 'string'), properties: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }) }, { requiredKeys: [] }),
);
const tool = fc.record({
  type: fc.constantFrom('function', 'x'),
  function: some(fc.record({ name: some(fc.constantFrom('get_weather', 'get_time', 'a b', '', 'x'.repeat(65))), description: fc.string({ maxLength: 8 }), parameters: some(schema) }, { requiredKeys: [] })),
}, { requiredKeys: [] });
const toolChoice = fc.oneof(
  fc.constantFrom('auto', 'none', 'required', 'any', ''),
  fc.record({ type: fc.constantFrom('function', 'tool'), function: some(fc.record({ name: fc.constantFrom('get_weather', 'get_time', 'nope') }, { requiredKeys: [] })) }, { requiredKeys: [] }),
);
const callId = fc.constantFrom('call_1', 'call_2', '');
const call = fc.record({
  id: some(callId), type: fc.constantFrom('function', 'x'),
  function: some(fc.record({ name: some(fc.constantFrom('get_weather', 'nope')), arguments: fc.oneof(fc.constantFrom('{"city":"Beijing"}', '{}', '', '{bad', '[1]'), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] })),
}, { requiredKeys: [] });
const toolConversation = fc.array(fc.oneof(
  fc.record({ role: fc.constant('user'), content: fc.constantFrom('red', '北京天气') }),
  fc.record({ role: fc.constantFrom('assistant', 'user'), content: fc.constantFrom('', null), tool_calls: some(fc.array(call, { maxLength: 2 })) }, { requiredKeys: ['role'] }),
  fc.record({ role: fc.constant('tool'), content: some(fc.constantFrom('snow', '')), tool_call_id: some(callId), tool_name: some(fc.constantFrom('get_weather', 'nope')) }, { requiredKeys: ['role'] }),
), { minLength: 1, maxLength: 4 });

/** Values of every JSON type, the edges of numbers and strings, and shapes the fields expect. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.array(tool, { maxLength: 3 }),
  toolChoice,
  toolConversation,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 1, 2 ** 31, -(2 ** 53), 1e308, 0.5, '', 'json', 'text', '\u0000', '<|eot_id|>', [], {}, [[]], [0], [-1], [128255], [1e9]),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.array(fc.integer({ min: -5, max: 130_000 }), { maxLength: 6 }),
  fc.record({ type: fc.constantFrom('text', 'json_object', 'json_schema', 'xml'), json_schema: fc.option(fc.record({ schema: fc.jsonValue({ maxDepth: 3 }) })) }),
  fc.array(fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool', ''), content: fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 })) }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('num_predict', 'temperature', 'top_k', 'stop', 'seed', 'num_ctx', 'x'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

type Mutation = { op: 'set'; key: string; value: unknown } | { op: 'delete'; key: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })), value }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...FIELDS) }),
);

interface Req { path: string; body: string; stream: boolean }
const request: fc.Arbitrary<Req> = fc.oneof(
  // A valid body with a few fields changed.
  fc.record({ path: fc.constantFrom(...posts.map((r) => r.path)), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) }).map(({ path, mutations }) => {
    const body: Record<string, unknown> = structuredClone(VALID[path]);
    for (const m of mutations) {
      if (m.op === 'set') body[m.key] = m.value;
      else delete body[m.key];
    }
    return { path, body: JSON.stringify(body), stream: body.stream === true || (path.startsWith('/api/') && body.stream !== false) };
  }),
  // Whatever bytes: not JSON, JSON that is not an object, a truncated valid body.
  fc.record({ path: fc.constantFrom(...posts.map((r) => r.path)), body: fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))) })
    .map(({ path, body }) => ({ path, body, stream: true })),
);

/** What no answer may show: a stack frame, or a path of this checkout or of Node's internals. */
function assertCleanError(text: string, what: string) {
  assert.doesNotMatch(text, /\n\s+at |\bat \S+ \(|node:internal|\.[cm]?[jt]s:\d+/, `${what}: a stack trace in ${text}`);
  assert.ok(!text.includes(ROOT) && !text.includes('node_modules'), `${what}: a file path in ${text}`);
}

async function send(r: Req): Promise<void> {
  const what = `POST ${r.path} ${r.body.slice(0, 300)}`;
  const res = await fetch(`${srv.url}${r.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: r.body });
  const text = await res.text();
  assert.ok(res.status < 500 || res.status === 503, `${what}: HTTP ${res.status} ${text}`);
  assert.ok(text.length > 0, `${what}: HTTP ${res.status} with an empty body`);
  if (res.status >= 400) {
    assertCleanError(text, what);
    const json = JSON.parse(text);
    const message: string = typeof json.error === 'string' ? json.error : json.error.message;
    assert.ok(message && !message.includes('\n'), `${what}: the error is not one line: ${text}`);
  } else if (/event-stream|ndjson/.test(res.headers.get('content-type') ?? '')) {
    // Mid-stream errors are events too; they follow the same rules.
    for (const line of text.split('\n').filter((l) => l.includes('"error"'))) assertCleanError(line, what);
  }
}

/** The valid request after every batch: the scripted model's exact reply, so nothing was left broken or busy. */
async function assertAlive() {
  const r = await postJson(`${srv.url}/v1/chat/completions`, { messages: user('red') });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, ROUTES.red);
}

test('mutated and random bodies on every POST route', { timeout: 120_000 * SCALE }, async () => {
  await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 6 }), async (batch) => {
    await Promise.all(batch.map(send));
    await assertAlive();
  }), { seed: SEED, numRuns: runs(80), endOnFailure: true });
});

test('every GET route, and random paths and methods', { timeout: 60_000 * SCALE }, async () => {
  for (const r of gets) {
    // The web page's assets are 404 where the page is not built (npm run build); a folder route (the browser's
    // model parts) has nothing at its bare folder; the rest is 200.
    const res = await fetch(`${srv.url}${r.path}`);
    assert.ok(res.status === 200 || (res.status === 404 && (r.path.startsWith('/assets/') || r.prefix)), `${r.path}: ${res.status}`);
    assert.ok((await res.text()).length > 0, r.path);
  }
  const folders = ['', ...gets.filter((r) => r.prefix).map((r) => r.path.slice(1))];
  const segment = fc.tuple(fc.constantFrom(...folders), fc.string({ unit: fc.constantFrom('a', 'v1', 'api', '/', ':', '[', ']', '%', '%zz', '@', '..', '?', '#', '猫', ' ', '.gguf'), maxLength: 8 }))
    .map(([folder, rest]) => folder + rest);
  await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), segment, async (method, path) => {
    const res = await fetch(`${srv.url}/${path}`, { method, body: method === 'GET' || method === 'HEAD' ? undefined : '{}' });
    const text = await res.text();
    assert.ok(res.status < 500, `${method} /${path}: ${res.status} ${text}`);
    if (res.status >= 400 && method !== 'HEAD') assertCleanError(text, `${method} /${path}`);
  }), { seed: SEED, numRuns: runs(60), endOnFailure: true });
  await assertAlive();
});

/** Bytes fetch would never send: odd request targets, Host and Origin headers, header names and values. */
const target = fc.oneof(
  fc.constantFrom('//a:b', '//[', '//%zz', '//a:99999', 'http://[', 'http://127.0.0.1/health', '*', '/health?x=%zz', '/v1/models#x', '/%00', '/..%2f..'),
  fc.string({ unit: fc.constantFrom('/', '/', 'a', ':', '[', ']', '%', '@', '?', '#', '\\', '"', 'h', 't', 'p', '.', '9'), minLength: 1, maxLength: 12 }),
);
const hostHeader = fc.oneof(
  fc.constantFrom('127.0.0.1', 'localhost', '[::1]', '127.evil.example', '127.0.0.1.nip.io', '[', ']:80', ':', '', 'a b', '127.0.0.1:99999', 'LOCALHOST.'),
  fc.string({ unit: fc.constantFrom('1', '2', '7', '.', ':', '[', ']', 'a', '-'), maxLength: 16 }),
);
const header = fc.tuple(
  fc.constantFrom('Origin', 'Content-Type', 'Content-Length', 'Transfer-Encoding', 'Authorization', 'Connection', 'X-Any', 'Expect'),
  fc.string({ unit: fc.constantFrom('a', '1', ' ', ':', '/', 'h', 't', 'p', '-', 'chunked', 'close', '100-continue', 'http://127.evil.example'), maxLength: 12 }),
);

test('raw request targets and headers', { timeout: 60_000 * SCALE }, async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'POST', 'OPTIONS', 'HEAD'), target, hostHeader, fc.array(header, { maxLength: 3 }), async (method, t, host, headers) => {
    const lines = [`${method} ${t} HTTP/1.1`, `Host: ${host}`, ...headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
    const raw = await rawHttp(srv.url, `${lines.join('\r\n')}\r\n\r\n`, 1500);
    for (const s of statuses(raw)) assert.ok(s < 500, `${JSON.stringify(lines)} got ${s}: ${raw}`);
    assertCleanError(raw.replace(/^[\s\S]*?\r\n\r\n/, ''), JSON.stringify(lines));
  }), { seed: SEED, numRuns: runs(120), endOnFailure: true });
  await assertAlive();
});

test('pipelined requests and sockets closed at any moment leave no sequence busy', { timeout: 60_000 * SCALE }, async () => {
  const { port } = new URL(srv.url);
  await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 150 }), async (batch, ms) => {
    const bytes = batch.map((r) => `POST ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`).join('');
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      setTimeout(() => socket.destroy(), ms);
    });
  }), { seed: SEED, numRuns: runs(30), endOnFailure: true });
  // Every aborted sequence comes free on the next decode step.
  const end = Date.now() + 10_000;
  let text = '';
  while (Date.now() < end) {
    text = await (await fetch(`${srv.url}/metrics`)).text();
    if (/^llama3zh_requests_running 0$/m.test(text) && /^llama3zh_requests_waiting 0$/m.test(text)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(text, /^llama3zh_requests_running 0$/m);
  assert.doesNotMatch(text, /status="5\d\d"/);
  await assertAlive();
});
}
