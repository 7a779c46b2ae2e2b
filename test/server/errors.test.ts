import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { RunningServer } from '../../src/server/start.js';
import { REPLY } from '../helpers/models.js';
import { postJson, testServer } from '../helpers/server.js';

/** Every bad request, sent as raw HTTP, gets the right status and an OpenAI-shaped error; the server goes on serving. */

const KEY = 'sk-test-0123456789abcdef';
let srv: RunningServer;
const auth = { authorization: `Bearer ${KEY}` };

before(async () => {
  srv = await testServer({ apiKey: KEY, parallel: 2, ctx: 256 });
});
after(() => srv.close());

const chat = (body: unknown, headers: Record<string, string> = auth) => postJson(`${srv.url}/v1/chat/completions`, body, headers);
const ok = { model: 'scripted', messages: [{ role: 'user', content: '你好' }] };

function assertError(r: { status: number; json: any }, status: number, message: RegExp, param?: string | null) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.match(r.json.error.message, message);
  assert.ok(!r.json.error.message.includes('\n'), 'one line');
  assert.ok(!/ at .*\.js:\d+/.test(r.json.error.message), 'no stack trace');
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

test('401 without a key or with a wrong one; the right key works; /health needs none', async () => {
  const none = await chat(ok, {});
  assertError(none, 401, /an API key is required: send the header "Authorization: Bearer <key>"/);
  assert.equal(none.json.error.code, 'invalid_api_key');
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  assertError(await chat(ok, { authorization: 'Bearer sk-test-wrong' }), 401, /the API key is wrong/);
  assertError(await chat(ok, { authorization: `Bearer ${KEY}x` }), 401, /wrong/);
  assertError(await chat(ok, { authorization: KEY }), 401, /required/);
  assert.equal((await chat(ok)).json.choices[0].message.content, REPLY);
  assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  assert.equal((await fetch(`${srv.url}/v1/models`)).status, 401);
  assert.equal((await postJson(`${srv.url}/api/chat`, ok)).json.error, 'an API key is required: send the header "Authorization: Bearer <key>"');
});

test('400 for malformed JSON, an empty body, and a body that is not an object', async () => {
  assertError(await chat('{"model": "scripted", "messages": [', auth), 400, /^the request body is not valid JSON: /);
  assertError(await chat('', auth), 400, /the request body is empty; send a JSON object/);
  assertError(await chat('[1,2]', auth), 400, /must be a JSON object/);
});

test('400 for wrong types and values, naming the field', async () => {
  assertError(await chat({ ...ok, temperature: 'hot' }), 400, /"temperature" must be a number \(got string\)/, 'temperature');
  assertError(await chat({ ...ok, temperature: 5 }), 400, /"temperature" must be at most 2 \(got 5\)/, 'temperature');
  assertError(await chat({ ...ok, max_tokens: 0 }), 400, /"max_tokens" must be at least 1/, 'max_tokens');
  assertError(await chat({ ...ok, max_tokens: 2.5 }), 400, /whole number/, 'max_tokens');
  assertError(await chat({ ...ok, n: 0 }), 400, /"n" must be at least 1/, 'n');
  assertError(await chat({ ...ok, n: 3 }), 400, /n is 3 but the server decodes at most 2 sequences at once \(--parallel\)/, 'n');
  assertError(await chat({ ...ok, stop: [1] }), 400, /"stop" must be a string or a list of strings/, 'stop');
  assertError(await chat({ ...ok, stream: 'yes' }), 400, /"stream" must be true or false/, 'stream');
  assertError(await chat({ ...ok, top_logprobs: 3 }), 400, /"top_logprobs" needs "logprobs": true/, 'top_logprobs');
  assertError(await chat({ ...ok, response_format: { type: 'xml' } }), 400, /response_format.type "xml" is not one of/);
  assertError(await chat({ ...ok, model: 7 }), 400, /"model" must be a string/, 'model');
});

test('400 for missing or empty messages, an unknown role, and non-text content', async () => {
  assertError(await chat({ model: 'scripted' }), 400, /"messages" is required/, 'messages');
  assertError(await chat({ model: 'scripted', messages: [] }), 400, /"messages" is empty; send at least one message/, 'messages');
  assertError(await chat({ model: 'scripted', messages: 'hi' }), 400, /"messages" must be a list of messages \(got string\)/);
  assertError(await chat({ model: 'scripted', messages: [{ role: 'robot', content: 'x' }] }), 400, /messages\[0\]\.role is "robot"; use "system", "user" or "assistant"/, 'messages[0].role');
  assertError(await chat({ model: 'scripted', messages: [{ role: 'user', content: 5 }] }), 400, /messages\[0\]\.content must be a string or a list of text parts \(got number\)/);
  assertError(await chat({ model: 'scripted', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }), 400, /"image_url" part; this model reads text parts only/);
  // Text parts are what the openai client sends for structured content; they work.
  const parts = await chat({ model: 'scripted', messages: [{ role: 'user', content: [{ type: 'text', text: '你' }, { type: 'text', text: '好' }] }] });
  assert.equal(parts.json.choices[0].message.content, REPLY);
});

test('400 for a prompt longer than the context, with both token counts', async () => {
  const long = '你好'.repeat(300);
  const r = await chat({ model: 'scripted', messages: [{ role: 'user', content: long }] });
  assertError(r, 400, /^the prompt is \d+ tokens but the context holds 256; shorten the prompt or raise --ctx-size \(the model was trained for 8192\)$/);
  assert.equal(r.json.error.code, 'context_length_exceeded');
  const stream = await chat({ model: 'scripted', messages: [{ role: 'user', content: long }], stream: true });
  assert.equal(stream.status, 400, 'a stream that cannot start is still an HTTP error');
  const c = await postJson(`${srv.url}/v1/completions`, { model: 'scripted', prompt: long }, auth);
  assertError(c, 400, /^the prompt is \d+ tokens but the context holds 256/);
});

test('404 for an unknown model and an unknown route; 405 for a wrong method', async () => {
  const m = await chat({ ...ok, model: 'gpt-4' });
  assertError(m, 404, /the model "gpt-4" does not exist; this server has: scripted/, 'model');
  assert.equal(m.json.error.code, 'model_not_found');
  assertError(await postJson(`${srv.url}/v1/nothing`, ok, auth), 404, /no route POST \/v1\/nothing/);
  const get = await fetch(`${srv.url}/v1/chat/completions`, { headers: auth });
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
});

test('413 for a body over the limit, refused before it is read', async () => {
  const big = JSON.stringify({ ...ok, messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] });
  assertError(await chat(big), 413, /the request body is over the 8 MiB limit/);
  // Without a Content-Length (chunked), the limit holds while reading.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'transfer-encoding': 'chunked' } }, (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('error', reject);
    const chunk = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 9; i++) req.write(chunk);
    req.end();
  });
  assert.equal(status, 413);
});

test('bodies held open on many connections take at most 64 MiB together; past that a 503, and the server still serves', async () => {
  // Each sends all but the last byte of an almost-8 MiB body and waits: the server holds what came.
  const size = 8 * 1024 * 1024 - 64;
  const { port } = new URL(srv.url);
  const held = await Promise.all(Array.from({ length: 8 }, () => new Promise<Socket>((resolve) => {
    const s = connect(Number(port), '127.0.0.1', () => {
      s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth.authorization}\r\nContent-Type: application/json\r\nContent-Length: ${size + 1}\r\n\r\n`);
      s.write(Buffer.alloc(size, 0x20), () => resolve(s));
    });
    s.on('error', () => {});
  })));
  await new Promise((r) => setTimeout(r, 500));
  // Even a small body (1 KiB) does not fit beside them.
  const busy = await chat({ messages: [{ role: 'user', content: 'x'.repeat(1024) }] });
  assertError(busy, 503, /^the server is reading 64 MiB of request bodies already; retry in a moment$/);
  assert.equal(busy.headers.get('retry-after'), '1');
  for (const s of held) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const after = await chat(ok);
  assert.equal(after.status, 200);
  assert.equal(after.json.choices[0].message.content, REPLY);
});

test('the simple API errors carry a status too, and the server still serves after all of the above', async () => {
  const r = await postJson(`${srv.url}/`, { question: 'x' }, auth);
  assert.equal(r.status, 400);
  assert.equal(r.json.status, 400);
  assert.match(r.json.error.message, /"prompt" is required/);
  const after = await chat(ok);
  assert.equal(after.status, 200);
  assert.equal(after.json.choices[0].message.content, REPLY);
  const metrics = await (await fetch(`${srv.url}/metrics`, { headers: auth })).text();
  assert.doesNotMatch(metrics, /status="500"/);
});

test('CORS: localhost pages and listed origins may call; other web pages get 403', async () => {
  const pre = await fetch(`${srv.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://localhost:5173', 'access-control-request-headers': 'authorization, content-type' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:5173');
  assert.match(pre.headers.get('access-control-allow-methods')!, /POST/);
  // DNS rebinding: a loopback server answers only to loopback names.
  const foreign = await rawGet(srv.url, { ...auth, host: 'attacker.example:8000', origin: 'http://attacker.example:8000' });
  assert.equal(foreign.status, 403);
  assert.match(JSON.parse(foreign.body).error.message, /answers only to localhost names, not "attacker.example:8000"; use --host 0.0.0.0/);
  // On all interfaces, a page the server itself hosts, reached by any name, is same-origin.
  const lan = await testServer({ host: '0.0.0.0', parallel: 1, ctx: 256 });
  try {
    assert.equal((await rawGet(lan.url, { host: 'box.lan:8000', origin: 'http://box.lan:8000' })).status, 200);
    assert.equal((await rawGet(lan.url, { host: 'box.lan:8000', origin: 'http://other.lan:8000' })).status, 403);
  } finally {
    await lan.close();
  }
  const evil = await chat(ok, { ...auth, origin: 'https://evil.example' });
  assertError(evil, 403, /the web page origin https:\/\/evil.example are not allowed; start the server with --cors-origins https:\/\/evil.example/);
});

function rawGet(base: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/v1/models`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('token ids beyond the vocabulary are a 400, and a failed prompt of a batch stops the others', async () => {
  assertError(await postJson(`${srv.url}/v1/completions`, { model: 'scripted', prompt: [128000, 999999], echo: true }, auth), 400, /token ids in "prompt" must be below the vocabulary size 128256/);
  assertError(await postJson(`${srv.url}/detokenize`, { tokens: [5, 200000] }, auth), 400, /whole numbers from 0 to 128255/);
  const r = await postJson(`${srv.url}/v1/completions`, { model: 'scripted', prompt: ['hi', '你好'.repeat(300)], max_tokens: 200, ignore_eos: true }, auth);
  assertError(r, 400, /the prompt is \d+ tokens but the context holds 256/);
  const metrics = await (await fetch(`${srv.url}/metrics`, { headers: auth })).text();
  assert.match(metrics, /^llama3zh_requests_running 0$/m);
});
