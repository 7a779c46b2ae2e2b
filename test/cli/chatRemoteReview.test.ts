import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { RunningServer } from '../../src/server/start.js';
import { sseData } from '../../src/util/sse.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { ROUTES, testServer } from '../helpers/server.js';

/**
 * A hostile review of `chat --base-url`: each test showed a defect a user hits, failing, until it was fixed. A real `llama3-zh serve` where it shows
 * the behaviour; a raw node:http stand-in (any bytes, any status) for what other servers (llama-server, proxies,
 * servers that ignore `stream`) do.
 */

const NO_KEYS = { LLAMA3_ZH_API_KEY: '', OPENAI_API_KEY: '' };
const run = (args: string[], o: { input?: string; env?: Record<string, string> } = {}) => runCli(args, { ...o, env: { ...NO_KEYS, ...o.env } });

let srv: RunningServer;
before(async () => { srv = await testServer(); });
after(() => srv.close());

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A stand-in that answers each request as `handler` says; GET /v1/models lists "fake" unless the handler answers it. */
async function standIn(handler: Handler): Promise<{ url: string; bodies: any[]; close(): Promise<void> }> {
  const bodies: any[] = [];
  const server = createServer((req, res) => {
    let s = '';
    req.setEncoding('utf8').on('data', (d) => (s += d)).on('end', () => {
      if (req.method === 'POST') bodies.push(JSON.parse(s));
      handler(req, s, res);
      if (!res.headersSent && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'fake', object: 'model' }] }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, bodies, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const chunk = (d: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;

// llama.cpp's llama-server sends an error met after the stream began as an `error:` field (server_sent_event(sink,
// "error", …)), then `data: [DONE]`; a prompt over its context is one (exceed_context_size_error, found in the slot).
const LLAMA_SERVER_OVERFLOW = 'error: {"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}\n\ndata: [DONE]\n\n';

test('llama-server\'s in-stream error (an `error:` field): the chat says the server\'s words, not "connection lost"', async () => {
  const s = await standIn((req, _b, res) => {
    if (req.url !== '/v1/chat/completions') return;
    res.writeHead(200, { 'content-type': 'text/event-stream' }).end(LLAMA_SERVER_OVERFLOW);
  });
  try {
    const r = await run(['chat', '--base-url', s.url, '-p', '你好']);
    assertOneLineError(r, /exceeds the available context size/);
  } finally {
    await s.close();
  }
});

test('llama-server\'s context overflow in a stream: the oldest round goes and the question is asked again (README promises it)', async () => {
  // Two questions fit; three do not (as a small llama-server context would say it, inside the stream).
  const s = await standIn((req, _b, res) => {
    if (req.url !== '/v1/chat/completions') return;
    const body = s.bodies.at(-1);
    const users = body.messages.filter((m: any) => m.role === 'user').length;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (users > 2) { res.end(LLAMA_SERVER_OVERFLOW); return; }
    res.end(chunk({ role: 'assistant', content: `answer${users}` }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
  });
  try {
    const r = await run(['chat', '--base-url', s.url, '-i'], { input: 'one\ntwo\nthree\n/exit\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'answer1\nanswer2\nanswer2\n', r.stderr);
    assert.match(r.stderr, /left out the 1 oldest round of the conversation to fit the server's context/);
  } finally {
    await s.close();
  }
});

test('a password in --base-url (a reverse proxy with basic auth) never shows on the terminal, in --json or in /save', async () => {
  const url = srv.url.replace('http://', 'http://alice:hunter2@');
  const r = await run(['chat', '--base-url', url, '--json', '-p', 'red', '--temperature', '0']);
  assert.ok(!`${r.stdout}${r.stderr}`.includes('hunter2'), `the password shows:\n${r.stderr}${r.stdout}`);
  // And the chat works: the credentials go as the request's basic authorization, as curl and OpenAI's clients send them.
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).reply, ROUTES.red);
});

test('--model NAME given: a server without GET /v1/models (404) still chats with that name', async () => {
  const s = await standIn((req, _b, res) => {
    if (req.url === '/v1/models') { res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"Not Found"}}'); return; }
    res.writeHead(200, { 'content-type': 'text/event-stream' }).end(chunk({ role: 'assistant', content: '好的' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
  });
  try {
    const r = await run(['chat', '--base-url', s.url, '--model', 'my-model', '-p', '你好']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '好的\n');
    assert.equal(s.bodies[0]?.model, 'my-model');
  } finally {
    await s.close();
  }
});

test('a server that ignores "stream" and answers one JSON chat.completion (200): the reply is shown, not "not an OpenAI-compatible API"', async () => {
  const s = await standIn((req, _b, res) => {
    if (req.url !== '/v1/chat/completions') return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      id: 'c', object: 'chat.completion', model: 'fake',
      choices: [{ index: 0, message: { role: 'assistant', content: '你好！' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
    }));
  });
  try {
    const r = await run(['chat', '--base-url', s.url, '-p', '你好']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '你好！\n');
  } finally {
    await s.close();
  }
});

test('an API key with a line break in it (a two-line key file): one line of error, and the key never printed', async () => {
  const r = await run(['chat', '--base-url', srv.url, '--api-key', 'sk-top\nsecret', '-p', 'red']);
  assert.ok(!r.stderr.includes('secret'), `the key shows:\n${r.stderr}`);
  assertOneLineError(r, /api.key/i);
  // A key the header cannot carry (not Latin-1) is the key's fault, not "cannot reach" the server.
  const wide = await run(['chat', '--base-url', srv.url, '--api-key', 'sk-密钥', '-p', 'red']);
  assertOneLineError(wide, /api.key/i);
  assert.doesNotMatch(wide.stderr, /cannot reach/);
});

test('a tool call whose arguments are not JSON (OpenAI warns models write such): the answer is not thrown away', async () => {
  const tools = JSON.stringify([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'review-')), 'tools.json');
  writeFileSync(file, tools);
  const s = await standIn((req, _b, res) => {
    if (req.url !== '/v1/chat/completions') return;
    res.writeHead(200, { 'content-type': 'text/event-stream' }).end(
      chunk({ role: 'assistant', content: '我查一下。' })
      + chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "北京"' } }] })
      + chunk({}, 'tool_calls') + 'data: [DONE]\n\n');
  });
  try {
    const r = await run(['chat', '--base-url', s.url, '--tools', file, '-i'], { input: '北京天气\n/history\n/exit\n' });
    assert.equal(r.code, 0, r.stderr);
    // The words the model said before its broken call stay in the conversation, as a local model's do.
    assert.match(r.stdout, /\[assistant\] 我查一下。/, `${r.stdout}\n${r.stderr}`);
  } finally {
    await s.close();
  }
});

test('SSE: a CR LF line end split between two reads does not split one event (two data lines) in two', async () => {
  const enc = new TextEncoder();
  const parts = ['data: {"a":\r', '\ndata: 1}\r\n\r\n'];
  const body = new ReadableStream<Uint8Array>({ start(c) { for (const p of parts) c.enqueue(enc.encode(p)); c.close(); } });
  const got: string[] = [];
  for await (const d of sseData(body)) got.push(d);
  assert.deepEqual(got, ['{"a":\n1}']);
});


test('through the gateway (serve --backend) in front of a small-context llama3-zh serve: rounds are dropped as directly', async () => {
  const { gatewayServer } = await import('../helpers/gatewayUpstream.js');
  const small = await testServer({ ctx: 256, name: 'small' });
  const gw = await gatewayServer([small.url]);
  try {
    const question = (i: number) => `第${i}个问题：${'请你详细地说'.repeat(8)}`;
    const input = [1, 2, 3, 4].map(question).join('\n') + '\n/exit\n';
    const direct = await run(['chat', '--base-url', small.url, '-i', '-n', '16', '--temperature', '0'], { input });
    const via = await run(['chat', '--base-url', gw.url, '-i', '-n', '16', '--temperature', '0'], { input });
    assert.equal(via.code, 0, via.stderr);
    assert.equal(via.stdout, direct.stdout, via.stderr);
    assert.match(via.stderr, /left out the 1 oldest round/, via.stderr);
  } finally {
    await gw.close();
    await small.close();
  }
});
