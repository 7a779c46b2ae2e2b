import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Message, Ollama } from 'ollama';
import type { RunningServer } from '../../src/server/start.js';
import { SIMPLE_API_SYSTEM } from '../../src/server/simpleFields.js';
import { assertClose } from '../helpers/embeddings.js';
import { CUT, ERROR_EVENT, EVENT_ERROR, type FakeBackend, fakeBackend, FLAKY, PIECES, SLOW } from '../helpers/fakeBackend.js';
import { gatewayServer } from '../helpers/gatewayUpstream.js';
import { REPLY } from '../helpers/models.js';
import { postJson, ROUTES, streamLines, testServer } from '../helpers/server.js';
import { CALL_ARGS, FINAL, openaiTools, PREAMBLE, PREAMBLE_WORD, RESULT, TIME, WEATHER, weatherModel } from '../helpers/toolModels.js';

/**
 * ollama's API and the simple API through the gateway (serve --backend), on real backends: two llama3-zh servers
 * (the routed scripted model, and a model that calls tools) and a backend that fails mid-stream on purpose. Each
 * answer is compared with what the backend's own ollama API answers for the same request: the same but for the
 * times, and `context`, which the gateway cannot know.
 */

let scripted: RunningServer;
let weather: RunningServer;
let flaky: FakeBackend;
let gw: Awaited<ReturnType<typeof gatewayServer>>;
let viaGw: Ollama;
let local: Ollama;
let localWeather: Ollama;

before(async () => {
  scripted = await testServer({ parallel: 4 });
  weather = await testServer({ model: await weatherModel(), name: 'weather', parallel: 2 });
  flaky = await fakeBackend();
  gw = await gatewayServer([scripted.url, weather.url, flaky.url]);
  viaGw = new Ollama({ host: gw.url });
  local = new Ollama({ host: scripted.url });
  localWeather = new Ollama({ host: weather.url });
});
after(async () => {
  await gw.close();
  await scripted.close();
  await weather.close();
  await flaky.close();
});

const TIMES = ['created_at', 'total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration'];

/** An answer without what differs by nature: the times, a call's random id (checked to be there), `context`. */
function comparable(x: unknown): any {
  const o = JSON.parse(JSON.stringify(x));
  for (const k of [...TIMES, 'context']) delete o[k];
  for (const c of o.message?.tool_calls ?? []) {
    assert.equal(typeof c.id, 'string');
    delete c.id;
  }
  return o;
}

async function pieces(stream: AsyncIterable<unknown>): Promise<any[]> {
  const out: any[] = [];
  for await (const p of stream) out.push(comparable(p));
  return out;
}

test('/api/chat, whole and streamed, answers as the backend\'s own ollama API does', async () => {
  const req = { model: 'scripted', messages: [{ role: 'user', content: '你是谁？' }] };
  const r = await viaGw.chat({ ...req, stream: false });
  assert.equal(r.message.content, REPLY);
  assert.deepEqual(comparable(r), comparable(await local.chat({ ...req, stream: false })));
  assert.ok(r.total_duration > 0 && r.prompt_eval_count > 0 && r.eval_count > 0);
  assert.equal(r.load_duration, 0);
  const streamReq = { model: 'scripted:latest', messages: [{ role: 'user', content: '猫' }], stream: true as const };
  const got = await pieces(await viaGw.chat(streamReq));
  assert.deepEqual(got, await pieces(await local.chat(streamReq)));
  assert.equal(got.filter((p) => !p.done).map((p) => p.message.content).join(''), ROUTES.猫);
  assert.equal(got.filter((p) => p.done).length, 1);
});

test('/api/chat streamed: the durations are the gateway\'s, time to the first token and the rest', async () => {
  let last: any;
  for await (const p of await viaGw.chat({ model: 'scripted', messages: [{ role: 'user', content: 'green' }], stream: true })) last = p;
  assert.equal(last.done, true);
  for (const k of ['total_duration', 'prompt_eval_duration', 'eval_duration']) assert.ok(last[k] > 0, k);
  assert.ok(Math.abs(last.total_duration - last.prompt_eval_duration - last.eval_duration) <= 2, 'prompt + eval = total');
  assert.equal(last.load_duration, 0);
});

test('ollama\'s options and their defaults become OpenAI\'s fields and vLLM\'s extras', async () => {
  await viaGw.chat({ model: 'scripted', messages: [{ role: 'user', content: 'red' }], stream: false });
  const plain = gw.gateway.sent.at(-1)!;
  assert.equal(plain.path, '/v1/chat/completions');
  assert.deepEqual(plain.body, {
    model: 'scripted', messages: [{ role: 'user', content: 'red' }],
    temperature: 0.8, top_p: 0.9, top_k: 40, min_p: 0, repetition_penalty: 1.1, presence_penalty: 0, frequency_penalty: 0, stream: false,
  });
  const r = await viaGw.chat({
    model: 'scripted', messages: [{ role: 'user', content: 'red' }], stream: true,
    options: { temperature: 0, top_k: 0, seed: 7, stop: [' red'], num_predict: 5, repeat_last_n: 32, min_p: 0.05 },
  });
  let text = '';
  for await (const p of r) text += p.message.content;
  assert.equal(text, 'Apples are');
  assert.deepEqual(gw.gateway.sent.at(-1)!.body, {
    model: 'scripted', messages: [{ role: 'user', content: 'red' }],
    temperature: 0, top_p: 0.9, top_k: -1, min_p: 0.05, repetition_penalty: 1.1, presence_penalty: 0, frequency_penalty: 0,
    repeat_last_n: 32, seed: 7, stop: [' red'], max_tokens: 5, stream: true, stream_options: { include_usage: true },
  });
  for (const predict of [-1, -2]) {
    await viaGw.chat({ model: 'scripted', messages: [{ role: 'user', content: 'red' }], stream: false, options: { num_predict: predict } });
    assert.equal(gw.gateway.sent.at(-1)!.body.max_tokens, undefined);
  }
});

test('/api/generate: templated with a system prompt, raw, streamed with stop; equal to the local answers but for `context`', async () => {
  const templated = { model: 'scripted', prompt: 'green', system: '简短回答。', stream: false as const };
  const r = await viaGw.generate(templated);
  const mine = await local.generate(templated);
  assert.equal(r.response, ROUTES.green);
  assert.ok(Array.isArray(mine.context));
  assert.equal('context' in r, false);
  assert.deepEqual(comparable(r), comparable(mine));
  assert.deepEqual(gw.gateway.sent.at(-1)!.body.messages, [{ role: 'system', content: '简短回答。' }, { role: 'user', content: 'green' }]);
  const raw = { model: 'scripted', prompt: 'red\n\n', raw: true, stream: false as const, options: { num_predict: 2, temperature: 0 } };
  const rr = await viaGw.generate(raw);
  assert.equal(rr.response, 'Apples');
  assert.equal(rr.done_reason, 'length');
  assert.deepEqual(comparable(rr), comparable(await local.generate(raw)));
  assert.equal(gw.gateway.sent.at(-1)!.path, '/v1/completions');
  assert.equal(gw.gateway.sent.at(-1)!.body.prompt, 'red\n\n');
  const streamed = { model: 'scripted', prompt: '狗', stream: true as const, options: { stop: [' loudly'] } };
  const got = await pieces(await viaGw.generate(streamed));
  assert.equal(got.map((p) => p.response).join(''), 'Dogs bark');
  assert.deepEqual(got, await pieces(await local.generate(streamed)));
});

test('/api/generate raw without num_predict asks for no limit (max_tokens null), not the 16 tokens of a text completion', async () => {
  const r = await viaGw.generate({ model: 'scripted', prompt: 'green\n\n', raw: true, stream: false });
  assert.equal(gw.gateway.sent.at(-1)!.body.max_tokens, null);
  assert.equal(r.done, true);
  // And a llama3-zh backend reads that null as vLLM does: until the context is full, not its default of 16.
  const full = await postJson(`${scripted.url}/v1/completions`, { model: 'scripted', prompt: 'green', max_tokens: null, ignore_eos: true });
  assert.equal(full.json.choices[0].finish_reason, 'length');
  assert.equal(full.json.usage.prompt_tokens + full.json.usage.completion_tokens, 512);
});

test('an empty /api/generate prompt answers the load reply, and a 404 for a model no backend lists', async () => {
  const r = await postJson(`${gw.url}/api/generate`, { model: 'scripted:latest' });
  assert.equal(r.status, 200);
  assert.equal(r.json.model, 'scripted');
  assert.equal(r.json.done_reason, 'load');
  const none = await postJson(`${gw.url}/api/generate`, { model: 'nope' });
  assert.equal(none.status, 404);
  assert.deepEqual(none.json, { error: `the model "nope" does not exist; the backends have: scripted, weather, ${FLAKY}` });
});

test('format "json" becomes response_format json_object, a schema json_schema; the replies are the local ones', async () => {
  // The scripted model's JSON goes on for ever ("json" sets no shape): a few tokens of it, the same as the local ones.
  const req = { model: 'scripted', messages: [{ role: 'user', content: '你是谁' }], stream: false as const, format: 'json', options: { temperature: 0, num_predict: 6 } };
  const r = await viaGw.chat(req);
  assert.deepEqual(gw.gateway.sent.at(-1)!.body.response_format, { type: 'json_object' });
  assert.match(r.message.content, /^\s*[[{]/);
  assert.deepEqual(comparable(r), comparable(await local.chat(req)));
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
  const g = await viaGw.generate({ model: 'scripted', prompt: '你是谁', stream: false, format: schema, options: { temperature: 0 } });
  assert.deepEqual(gw.gateway.sent.at(-1)!.body.response_format, { type: 'json_schema', json_schema: { name: 'format', schema } });
  assert.equal(typeof JSON.parse(g.response!).ok, 'boolean');
});

test('/api/tags, /api/show, /api/ps and /api/version from the backends\' model lists', async () => {
  const tags = await viaGw.list();
  assert.deepEqual(tags.models.map((m) => m.name), ['scripted', 'weather', FLAKY]);
  assert.deepEqual(tags.models[0].details, { parent_model: '', format: '', family: '', families: [], parameter_size: '', quantization_level: '' });
  assert.match(tags.models[0].digest, /^[0-9a-f]{64}$/);
  assert.ok(!Number.isNaN(new Date(tags.models[0].modified_at).getTime()));
  const show = await viaGw.show({ model: 'scripted' });
  assert.equal(show.parameters, 'num_ctx 512');
  assert.equal((show.model_info as any)['llama.context_length'], 512);
  assert.deepEqual(show.capabilities, ['completion', 'tools']);
  assert.equal((await viaGw.show({ model: FLAKY })).parameters, 'num_ctx 100');
  await assert.rejects(viaGw.show({ model: 'nope' }), /the model "nope" does not exist; the backends have: scripted, weather, flaky/);
  const ps = await viaGw.ps();
  assert.deepEqual(ps.models.map((m) => [m.name, (m as any).context_length]), [['scripted', 512], ['weather', 512], [FLAKY, 100]]);
  assert.deepEqual(await viaGw.version(), { version: '0.0.0-gateway' });
});

test('/api/embed and /api/embeddings through /v1/embeddings: the local vectors; dimensions cut; num_ctx refused', async () => {
  const input = ['今天天气很好', 'The quick brown fox'];
  const r = await viaGw.embed({ model: 'scripted', input });
  const mine = await local.embed({ model: 'scripted', input });
  assert.equal(gw.gateway.sent.at(-1)!.path, '/v1/embeddings');
  assert.equal(r.embeddings.length, 2);
  r.embeddings.forEach((v, i) => assertClose(v, mine.embeddings[i], `input ${i}`, 1e-12));
  assert.equal(r.prompt_eval_count, mine.prompt_eval_count);
  const cut = await viaGw.embed({ model: 'scripted', input: input[0], dimensions: 8 });
  assertClose(cut.embeddings[0], (await local.embed({ model: 'scripted', input: input[0], dimensions: 8 })).embeddings[0], 'cut', 1e-12);
  assert.deepEqual(await postJson(`${gw.url}/api/embed`, { model: 'scripted' }).then((x) => x.json), { model: 'scripted', embeddings: [] });
  const big = await postJson(`${gw.url}/api/embed`, { model: 'scripted', input: 'x', dimensions: 100000 });
  assert.equal(big.status, 400);
  assert.match(big.json.error, /"dimensions" is 100000, but this model's embeddings have \d+ numbers/);
  const ctx = await postJson(`${gw.url}/api/embed`, { model: 'scripted', input: 'x', options: { num_ctx: 8 } });
  assert.equal(ctx.status, 400);
  assert.match(ctx.json.error, /"options.num_ctx" is not supported through the gateway/);
  const old = await viaGw.embeddings({ model: 'scripted', prompt: input[0] });
  assertClose(old.embedding, mine.embeddings[0], 'unit vector', 1e-12);
  assert.deepEqual(await postJson(`${gw.url}/api/embeddings`, { model: 'scripted' }).then((x) => x.json), { embedding: [] });
});

const question: Message[] = [{ role: 'user', content: '北京天气怎么样？' }];
const tools = openaiTools(WEATHER, TIME);

test('a tool call round trip: the call, its result as a tool message, the answer; each as the local server answers', async () => {
  const first = { model: 'weather', messages: question, tools, stream: false as const };
  const r = await viaGw.chat(first);
  assert.deepEqual(r.message.tool_calls?.map((c) => c.function), [{ index: 0, name: 'get_weather', arguments: CALL_ARGS }]);
  assert.match((r.message.tool_calls![0] as any).id, /^call_/);
  assert.deepEqual(comparable(r), comparable(await localWeather.chat(first)));
  // The result without an id, as ollama's clients send it: the gateway links it to the call and sends its id on.
  const second = { model: 'weather', tools, stream: false as const, messages: [...question, r.message, { role: 'tool', content: RESULT, tool_name: 'get_weather' }] };
  const s = await viaGw.chat(second);
  assert.equal(s.message.content, FINAL);
  assert.deepEqual(comparable(s), comparable(await localWeather.chat(second)));
  const sent = gw.gateway.sent.at(-1)!.body.messages as any[];
  const id = (r.message.tool_calls![0] as any).id;
  assert.deepEqual(sent[1].tool_calls, [{ id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(CALL_ARGS) } }]);
  assert.deepEqual(sent[2], { role: 'tool', content: RESULT, tool_call_id: id, name: 'get_weather' });
});

test('a streamed tool call: the text before it, the call in a piece of its own, then done; as the local server streams it', async () => {
  const req = { model: 'weather', messages: [{ role: 'user', content: PREAMBLE_WORD }], tools, stream: true as const };
  const got = await pieces(await viaGw.chat(req));
  assert.deepEqual(got, await pieces(await localWeather.chat(req)));
  assert.equal(got.map((p) => p.message.content).join(''), PREAMBLE);
  assert.deepEqual(got.flatMap((p) => p.message.tool_calls ?? []).map((c) => c.function), [{ index: 0, name: 'get_weather', arguments: CALL_ARGS }]);
  // The whole loop, streamed, as an agent runs it.
  const messages: Message[] = [...question];
  for (let turn = 0; turn < 3; turn++) {
    let content = '';
    const calls: Message['tool_calls'] = [];
    for await (const p of await viaGw.chat({ model: 'weather', messages, tools, stream: true })) {
      content += p.message.content;
      calls.push(...(p.message.tool_calls ?? []));
    }
    messages.push({ role: 'assistant', content, tool_calls: calls });
    if (!calls.length) break;
    for (const c of calls) messages.push({ role: 'tool', content: RESULT, tool_name: c.function.name });
  }
  assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant']);
  assert.equal(messages.at(-1)!.content, FINAL);
});

test('the simple API: the demo\'s system prompt and sampling, the first listed model; the local answer', async () => {
  const r = await postJson(gw.url, { prompt: '你好' });
  assert.equal(r.status, 200);
  const mine = await postJson(scripted.url, { prompt: '你好' });
  assert.equal(r.json.response, mine.json.response);
  assert.equal(r.json.response, ROUTES.share);
  assert.equal(r.json.status, 200);
  assert.match(r.json.time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.deepEqual(gw.gateway.sent.at(-1)!.body, {
    model: 'scripted', messages: [{ role: 'system', content: SIMPLE_API_SYSTEM }, { role: 'user', content: '你好' }], temperature: 0.6, top_p: 0.9, stream: false,
  });
  const bad = await postJson(gw.url, {});
  assert.equal(bad.status, 400);
  assert.equal(bad.json.status, 400);
  assert.match(bad.json.error.message, /"prompt" is required/);
});

test('errors: a model no backend has is a 404 naming those there are; the local refusals in the same words', async () => {
  await assert.rejects(viaGw.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), /the model "nope" does not exist on any backend; they serve: scripted, weather, flaky/);
  const r = await postJson(`${gw.url}/api/chat`, { model: 'nope', messages: [{ role: 'user', content: 'x' }], stream: false });
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { error: 'the model "nope" does not exist on any backend; they serve: scripted, weather, flaky' });
  for (const body of [
    { model: 'scripted', messages: [] },
    { model: 'scripted', messages: [{ role: 'user', content: 'x' }], options: { temperature: 'hot' } },
    { model: 'scripted', messages: [{ role: 'user', content: 'x', images: ['aGk='] }] },
    { model: 'scripted', messages: [{ role: 'user', content: 'x' }], options: { mirostat: 2 } },
    { model: 'scripted', messages: [{ role: 'user', content: 'x' }], options: { num_ctx: 4096 } },
    { model: 'scripted', messages: [{ role: 'user', content: 'x' }], think: true },
  ]) {
    const before = gw.gateway.sent.length;
    const g = await postJson(`${gw.url}/api/chat`, body);
    const l = await postJson(`${scripted.url}/api/chat`, body);
    assert.equal(g.status, 400, g.text);
    assert.equal(gw.gateway.sent.length, before, 'refused before any backend is asked');
    if (!('num_ctx' in ((body as any).options ?? {}))) assert.deepEqual(g.json, l.json);
    else assert.deepEqual(g.json, { error: '"options.num_ctx" is 4096, but the backends serve "scripted" with a context of 512 tokens; start them with a larger one, or ask for less' });
  }
});

test('a backend that dies mid-stream, or reports an error mid-stream: the NDJSON stream ends with an error line', async () => {
  const cut = await fetch(`${gw.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: FLAKY, messages: [{ role: 'user', content: CUT }] }) });
  assert.equal(cut.status, 200);
  const lines: any[] = [];
  for await (const l of streamLines(cut)) lines.push(JSON.parse(l));
  assert.deepEqual(lines.slice(0, -1).map((l) => l.message.content), PIECES);
  assert.match(lines.at(-1).error, /^the backend http:\/\/127\.0\.0\.1:\d+ closed the connection mid-answer; the reply is cut short$/);
  assert.equal(lines.some((l) => l.done), false);
  const parts: string[] = [];
  await assert.rejects(async () => {
    for await (const p of await viaGw.chat({ model: FLAKY, messages: [{ role: 'user', content: ERROR_EVENT }], stream: true })) parts.push(p.message.content);
  }, { message: EVENT_ERROR });
  assert.deepEqual(parts, [PIECES[0]]);
  // Whole (stream false): the backend's status and message.
  const whole = await postJson(`${gw.url}/api/chat`, { model: FLAKY, messages: [{ role: 'user', content: ERROR_EVENT }], stream: false });
  assert.equal(whole.status, 500);
  assert.deepEqual(whole.json, { error: EVENT_ERROR });
});

test('a client that goes away cancels the backend\'s request', async () => {
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/api/chat`, { method: 'POST', signal: ac.signal, body: JSON.stringify({ model: FLAKY, messages: [{ role: 'user', content: SLOW }] }) });
  const reader = res.body!.getReader();
  await reader.read();
  const before = flaky.cancelled;
  ac.abort();
  for (let i = 0; i < 100 && flaky.cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(flaky.cancelled, before + 1);
});
