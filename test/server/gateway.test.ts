import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { postJson, routedModel, ROUTES, streamLines } from '../helpers/server.js';
import { backendProcess, metric, serveProcess, type ServeProcess, until } from '../helpers/serveProcess.js';

/**
 * `serve --backend`: real `llama3-zh serve` processes behind a real gateway process, driven with the official
 * openai client. Where a behaviour no real engine shows on demand is needed (silence, HTML), a few lines of
 * node:http stand in for the backend.
 */

let model: string;
const b: ServeProcess[] = [];
const urls: string[] = [];
let gw: ServeProcess;
let gwUrl: string;
let client: OpenAI;

before(async () => {
  model = await routedModel();
  b.push(backendProcess(model), backendProcess(model));
  urls.push(...await Promise.all(b.map((p) => p.url)));
  gw = serveProcess(['--backend', urls.join(','), '--port', '0', '--health-interval', '0.2']);
  gwUrl = await gw.url;
  client = new OpenAI({ baseURL: `${gwUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  await until('both backends up', async () => (await (await fetch(`${gwUrl}/health`)).json()).backends.every((x: { state: string }) => x.state === 'up'));
});
after(() => { for (const p of [gw, ...b]) p?.child.kill('SIGKILL'); });

const chatRoute = (page: string) => metric(page, 'llama3zh_requests_total{route="/v1/chat/completions",status="200"}');
const served = async (u: string) => chatRoute(await (await fetch(`${u}/metrics`)).text());

test('gateway: the openai client gets the backends\' exact replies, plain and streamed; /v1/models and /health list what is behind it', async () => {
  const r = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(r.choices[0].message.content, ROUTES.red);
  assert.equal(r.model, 'scripted');
  let text = '';
  for await (const c of await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: '猫' }], stream: true })) text += c.choices[0]?.delta.content ?? '';
  assert.equal(text, ROUTES.猫);
  const c = await client.completions.create({ model: 'scripted', prompt: 'hello', max_tokens: 40 });
  assert.equal(typeof c.choices[0].text, 'string');
  assert.deepEqual((await client.models.list()).data.map((m) => [m.id, (m as unknown as { max_model_len: number }).max_model_len]), [['scripted', 512]]);
  const h = await (await fetch(`${gwUrl}/health`)).json();
  assert.equal(h.status, 'ok');
  assert.deepEqual(h.backends.map((x: { url: string; state: string; models: string[] }) => [x.url, x.state, x.models]), urls.map((u) => [u, 'up', ['scripted']]));
  // The ollama client and the simple API, translated onto the backends' OpenAI API.
  const ollama = new Ollama({ host: gwUrl });
  assert.equal((await ollama.chat({ model: 'scripted', messages: [{ role: 'user', content: 'green' }] })).message.content, ROUTES.green);
  assert.deepEqual((await ollama.list()).models.map((m) => m.name), ['scripted']);
  const simple = await postJson(`${gwUrl}/`, { prompt: '你好' });
  assert.deepEqual([simple.status, simple.json.response, simple.json.status], [200, ROUTES.share, 200]);
  // The web page is the gateway's own.
  assert.match(await (await fetch(`${gwUrl}/`)).text(), /<html/i);
  // A model no backend has: 404 naming those there are, in OpenAI's error shape.
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'red' }] }),
    (e: { status?: number; message: string }) => e.status === 404 && /"nope" does not exist on any backend; they serve: scripted/.test(e.message));
  // The gateway reads the body itself: bad JSON is its own 400, never sent on.
  const bad = await postJson(`${gwUrl}/v1/chat/completions`, '{"model": ');
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /not valid JSON/);
});

test('gateway: one client\'s requests take turns over the backends (their own /metrics say so)', async () => {
  const before = await Promise.all(urls.map(served));
  for (let i = 0; i < 8; i++) {
    // Each a new conversation: no prefix ties it to a backend.
    const r = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: `blue ${i}` }] });
    assert.equal(r.choices[0].message.content, ROUTES.blue);
  }
  const after = await Promise.all(urls.map(served));
  assert.deepEqual(after.map((n, i) => n - before[i]), [4, 4]);
});

test('gateway: the next turn of a conversation goes to the backend that holds its prefix, and its cache is used', async () => {
  const turn1 = (w: string) => [{ role: 'user' as const, content: `${w} 这是一段对话的开头，请记住它` }];
  const a1 = await client.chat.completions.create({ model: 'scripted', messages: turn1('green') });
  const b1 = await client.chat.completions.create({ model: 'scripted', messages: turn1('鸟') });
  const before = await Promise.all(urls.map(served));
  // Both backends have answered equally often, so without affinity either could take the next turn.
  const b2 = await client.chat.completions.create({
    model: 'scripted',
    messages: [...turn1('鸟'), { role: 'assistant', content: b1.choices[0].message.content! }, { role: 'user', content: 'and then?' }],
  });
  const a2 = await client.chat.completions.create({
    model: 'scripted',
    messages: [...turn1('green'), { role: 'assistant', content: a1.choices[0].message.content! }, { role: 'user', content: 'and then?' }],
  });
  const after = await Promise.all(urls.map(served));
  assert.deepEqual(after.map((n, i) => n - before[i]), [1, 1], 'each conversation stayed on its own backend');
  // The whole first turn was in that backend's KV cache.
  assert.ok(b2.usage!.prompt_tokens_details!.cached_tokens! >= b1.usage!.prompt_tokens, `cached ${b2.usage!.prompt_tokens_details!.cached_tokens} of ${b1.usage!.prompt_tokens}`);
  assert.ok(a2.usage!.prompt_tokens_details!.cached_tokens! >= a1.usage!.prompt_tokens);
  assert.ok(metric(await (await fetch(`${gwUrl}/metrics`)).text(), 'llama3zh_gateway_affinity_hits_total') >= 2);
});

/** The content of a whole SSE body, put together. */
const sseText = (body: string) => body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices[0]?.delta?.content ?? '').join('');

/** A long streamed reply (the scripted model goes on past its end with ignore_eos). */
const longStream = (content: string) => fetch(`${gwUrl}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'scripted', stream: true, ignore_eos: true, max_tokens: 400, messages: [{ role: 'user', content }] }),
});

test('gateway: a backend killed under load ends its started streams with an error event; no request that had not started is lost; it is put back when it returns', async () => {
  // Streams on both backends, started (their first bytes have come).
  const streams = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const res = await longStream(`red stream ${i}`);
    assert.equal(res.status, 200);
    const lines = streamLines(res);
    const first = await lines.next();
    assert.match(String(first.value), /^data: /);
    return lines;
  }));
  const port = new URL(urls[0]).port;
  b[0].child.kill('SIGKILL');
  await b[0].exited;
  // Requests sent after the kill: each answered by the live backend, plain or streamed.
  const later = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => {
    const r = await postJson(`${gwUrl}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: `狗 ${i}` }], stream: i % 2 === 1 });
    return r.status === 200 && (i % 2 === 1 ? sseText(r.text) : r.json.choices[0].message.content) === ROUTES.狗;
  }));
  assert.deepEqual(later, [true, true, true, true, true, true]);
  const ends = await Promise.all(streams.map(async (lines) => {
    const all: string[] = [];
    for await (const l of lines) all.push(l);
    return all;
  }));
  // Two streams were on each backend: the killed one's end with OpenAI's error event, the others run to their end.
  assert.deepEqual(ends.map((l) => l.at(-1)), ['data: [DONE]', 'data: [DONE]', 'data: [DONE]', 'data: [DONE]']);
  assert.equal(ends.filter((l) => l.some((x) => x.includes('closed the connection mid-answer'))).length, 2);
  assert.equal(ends.filter((l) => l.some((x) => x.includes('"finish_reason":"length"'))).length, 2);
  const health = await (await fetch(`${gwUrl}/health`)).json();
  assert.equal(health.backends[0].state, 'down');
  assert.equal(health.status, 'ok');
  // It comes back on the same port, and the health checks put it back in the rotation.
  b[0] = backendProcess(model, Number(port));
  await b[0].url;
  await until('the restarted backend up', async () => (await (await fetch(`${gwUrl}/health`)).json()).backends[0].state === 'up');
  const before = await served(urls[0]);
  for (let i = 0; i < 4; i++) await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: `鱼 ${i}` }] });
  assert.ok(await served(urls[0]) - before >= 1, 'the restarted backend takes requests again');
});

test('gateway: a stream cut mid-way says so in the stream', async () => {
  // Every stream goes to one backend, then it dies: the client reads an error event, not a silent truncation.
  const lone = backendProcess(model);
  const g = serveProcess(['--backend', await lone.url, '--port', '0', '--health-interval', '0.2']);
  const u = await g.url;
  await until('up', async () => (await fetch(`${u}/health`)).status === 200);
  const res = await fetch(`${u}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'scripted', stream: true, ignore_eos: true, max_tokens: 400, messages: [{ role: 'user', content: 'red' }] }),
  });
  const lines = streamLines(res);
  await lines.next();
  lone.child.kill('SIGKILL');
  const rest: string[] = [];
  for await (const l of lines) rest.push(l);
  const err = rest.find((l) => l.includes('"error"'));
  assert.ok(err, `an error event in ${rest.slice(-3).join(' | ')}`);
  assert.match(JSON.parse(err.slice(6)).error.message, /the backend http:\/\/127\.0\.0\.1:\d+ closed the connection mid-answer; the reply is cut short/);
  assert.equal(rest.at(-1), 'data: [DONE]');
  // With its only backend gone, requests get 503 naming it.
  await until('down', async () => (await fetch(`${u}/health`)).status === 503);
  const r = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(r.status, 503);
  g.child.kill('SIGKILL');
});

/** A stand-in backend: lists one model and answers chat as `chat` says. */
async function fakeBackend(chat: (res: import('node:http').ServerResponse) => void, models: unknown = { object: 'list', data: [{ id: 'scripted', object: 'model' }] }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/v1/models') { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(models)); return; }
    req.resume();
    req.on('end', () => chat(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('gateway: a backend that is unreachable at start-up is said, checked, and used once it is there', async () => {
  // A port nothing listens on (yet).
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const g = serveProcess(['--backend', `http://127.0.0.1:${port}`, '--port', '0', '--health-interval', '0.2']);
  const u = await g.url;
  assert.match(g.stderr(), new RegExp(`backend http://127.0.0.1:${port} down: connection refused; checking every 0.2 s`));
  assert.match(g.stderr(), /gateway on http:\/\/127\.0\.0\.1:\d+ — 0 of 1 backends up/);
  const h = await fetch(`${u}/health`);
  assert.equal(h.status, 503);
  assert.equal((await h.json()).backends[0].problem, 'connection refused');
  const r = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(r.status, 503);
  assert.match(r.json.error.message, /no backend is up: http:\/\/127\.0\.0\.1:\d+ down \(connection refused\)/);
  const late = backendProcess(model, port);
  await late.url;
  await until('the late backend up', async () => (await fetch(`${u}/health`)).status === 200);
  const ok = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(ok.json.choices[0].message.content, ROUTES.red);
  assert.match(g.stderr(), new RegExp(`backend http://127.0.0.1:${port} up, serving scripted`));
  g.child.kill('SIGKILL');
  late.child.kill('SIGKILL');
});

test('gateway: a URL that is not an OpenAI-compatible server is named with what it answered', async () => {
  const html = createServer((_req, res) => { res.writeHead(404, { 'content-type': 'text/html' }); res.end('<h1>Not Found</h1>'); });
  await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
  const at = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
  const g = serveProcess(['--backend', at, '--port', '0']);
  const u = await g.url;
  assert.match(g.stderr(), new RegExp(`backend ${at} invalid: not an OpenAI-compatible server: GET /v1/models answered 404 text/html: <h1>Not Found</h1>`));
  const h = await (await fetch(`${u}/health`)).json();
  assert.equal(h.backends[0].state, 'invalid');
  g.child.kill('SIGKILL');
  html.close();
});

test('gateway: a silent backend times out and the request goes to another; alone, it is a 504', async () => {
  const silent = await fakeBackend(() => { /* never answers */ });
  const live = backendProcess(model);
  const g = serveProcess(['--backend', `${silent.url},${await live.url}`, '--port', '0', '--backend-timeout', '0.5', '--health-interval', '0.2']);
  const u = await g.url;
  await until('both up', async () => (await (await fetch(`${u}/health`)).json()).backends.every((x: { state: string }) => x.state === 'up'));
  // Two requests: the first goes to the silent one (it comes first), waits 0.5 s, then the live one answers.
  const t0 = performance.now();
  const r = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(r.json.choices[0].message.content, ROUTES.red);
  assert.ok(performance.now() - t0 >= 450);
  const alone = serveProcess(['--backend', silent.url, '--port', '0', '--backend-timeout', '0.3']);
  const ua = await alone.url;
  const t = await postJson(`${ua}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(t.status, 504);
  assert.match(t.json.error.message, /no backend could answer: http:\/\/127\.0\.0\.1:\d+: no answer within 0\.3 s/);
  for (const p of [g, live, alone]) p.child.kill('SIGKILL');
  silent.server.closeAllConnections();
  silent.server.close();
});

test('gateway: a kept-alive connection the backend closed as it was reused is retried on a new one, even with one backend', async () => {
  // As uvicorn (vLLM) and Node close idle connections: this backend drops every request that comes on a used connection.
  const seen = new WeakMap<object, number>();
  const server = createServer((req, res) => {
    const n = (seen.get(req.socket) ?? 0) + 1;
    seen.set(req.socket, n);
    if (req.method === 'POST' && n > 1) { req.socket.destroy(); return; }
    if (req.url === '/v1/models') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"data":[{"id":"scripted"}]}'); return; }
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"choices":[{"index":0,"message":{"role":"assistant","content":"好"}}]}'); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const g = serveProcess(['--backend', `http://127.0.0.1:${(server.address() as AddressInfo).port}`, '--port', '0']);
  const u = await g.url;
  for (let i = 0; i < 3; i++) {
    const r = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '好');
  }
  g.child.kill('SIGKILL');
  server.closeAllConnections();
  server.close();
});

test('gateway: streaming passes through unbuffered: the first piece arrives before the backend has sent the second', async () => {
  const slow = await fakeBackend((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"index":0,"delta":{"content":"一"}}]}\n\n');
    setTimeout(() => { res.write('data: {"choices":[{"index":0,"delta":{"content":"二"}}]}\n\n'); res.end('data: [DONE]\n\n'); }, 600);
  });
  const g = serveProcess(['--backend', slow.url, '--port', '0']);
  const u = await g.url;
  const t0 = performance.now();
  const res = await fetch(`${u}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'scripted', stream: true, messages: [{ role: 'user', content: 'x' }] }) });
  const lines = streamLines(res);
  assert.match(String((await lines.next()).value), /一/);
  const first = performance.now() - t0;
  assert.match(String((await lines.next()).value), /二/);
  const second = performance.now() - t0;
  // Relative, not to the clock: a busy machine delays both pieces, a buffering gateway sends them together.
  assert.ok(second - first >= 300, `first piece at ${first.toFixed(0)} ms, second at ${second.toFixed(0)} ms`);
  g.child.kill('SIGKILL');
  slow.server.close();
});

test('gateway: its own key for clients, the backends\' key for them; its queue full is a 429', async () => {
  const keyed = backendProcess(model, 0, ['--api-key', 'backend-secret']);
  const at = await keyed.url;
  const nokey = serveProcess(['--backend', at, '--port', '0']);
  await nokey.url;
  assert.match(nokey.stderr(), /down: answered 401 \(.*\): give the backend's key with --backend-key/);
  const g = serveProcess(['--backend', at, '--port', '0', '--api-key', 'front', '--backend-key', 'backend-secret', '--parallel', '1', '--max-queue', '0']);
  const u = await g.url;
  const denied = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(denied.status, 401);
  const auth = { authorization: 'Bearer front' };
  const ok = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] }, auth);
  assert.equal(ok.json.choices[0].message.content, ROUTES.red);
  // One in flight (a long stream), none may wait: the next gets 429 at once.
  const running = await fetch(`${u}/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'scripted', stream: true, ignore_eos: true, max_tokens: 300, messages: [{ role: 'user', content: 'blue' }] }) });
  const busy = await postJson(`${u}/v1/chat/completions`, { model: 'scripted', messages: [{ role: 'user', content: 'red' }] }, auth);
  assert.equal(busy.status, 429);
  assert.equal(busy.headers.get('retry-after'), '1');
  await running.body!.cancel();
  for (const p of [nokey, g, keyed]) p.child.kill('SIGKILL');
});

test('serve --backend: local-model flags and bad URLs are usage errors', async () => {
  for (const [args, pattern] of [
    [['--backend', 'http://127.0.0.1:1', model], /serve --backend takes no MODEL/],
    [['--backend', 'http://127.0.0.1:1', '--ctx-size', '512'], /--ctx-size is for a local model; with --backend the backends serve the models/],
    [['--backend', 'ftp://x'], /only http:\/\/ and https:\/\/ backends/],
    [['--backend', 'http://[nope'], /is not a URL/],
    [[model, '--backend-key', 'k'], /--backend-key goes with --backend URL/],
  ] as const) {
    const p = serveProcess([...args, '--port', '0']);
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), pattern);
    assert.equal(p.stderr().trim().split('\n').length, 1, p.stderr());
  }
});
