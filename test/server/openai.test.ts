import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { decode, encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import { readGguf } from '../../src/gguf/reader.js';
import { meta } from '../../src/gguf/types.js';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import type { RunningServer } from '../../src/server/start.js';
import { redirectLora, REPLY } from '../helpers/models.js';
import { postJson, ROUTES, routedModel, streamLines, testServer } from '../helpers/server.js';

let srv: RunningServer;
let client: OpenAI;

before(async () => {
  // LoRA module "short": its adapter sends "\n\n" (axis 0 of the script) to the 4th token of REPLY instead of the 1st.
  const model = await routedModel();
  const embd = meta<number>(readGguf(model, { skipArrays: true }), 'llama.embedding_length')!;
  const lora = await redirectLora(embd, 0, encode(REPLY)[3], 80);
  srv = await testServer({ model, loraModules: [{ name: 'short', path: lora, scale: 1 }] });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(() => srv.close());

const user = (content: string) => [{ role: 'user' as const, content }];

/** Prompt tokens of a one-message chat, as the llama3 template renders it. */
const promptLength = (content: string) => encode(NATIVE_TEMPLATES.llama3.render(user(content)).replace('<|begin_of_text|>', '')).length + 1;

test('chat completion with the openai client: the exact reply, usage and finish reason', async () => {
  const r = await client.chat.completions.create({ model: 'scripted', messages: user('你是谁？') });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'scripted');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, REPLY);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage?.completion_tokens, encode(REPLY).length);
  assert.equal(r.usage?.prompt_tokens, promptLength('你是谁？'));
  assert.equal(r.usage?.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  assert.match(r.id, /^chatcmpl-/);
});

test('the prompt picks the reply: each route word gets its own answer', async () => {
  for (const [word, reply] of Object.entries(ROUTES)) {
    const r = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'system', content: 'Answer briefly.' }, ...user(word)] });
    assert.equal(r.choices[0].message.content, reply, `route ${word}`);
  }
});

test('streaming: role first, content deltas, one finish_reason, the usage chunk, then [DONE]', async () => {
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'scripted', messages: user('猫'), stream: true, stream_options: { include_usage: true } }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  const lines: string[] = [];
  for await (const l of streamLines(res)) lines.push(l);
  assert.equal(lines.at(-1), 'data: [DONE]');
  const chunks = lines.slice(0, -1).map((l) => { assert.ok(l.startsWith('data: ')); return JSON.parse(l.slice(6)); });
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  const deltas = chunks.slice(1, -2).map((c) => c.choices[0].delta.content as string);
  // Chinese and emoji span several tokens; no delta may carry half a character.
  for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `delta ${JSON.stringify(d)} has a broken character`);
  assert.equal(deltas.join(''), ROUTES.猫);
  assert.ok(deltas.length >= 3 && deltas.length < encode(ROUTES.猫).length, 'held-back bytes come out with the character they complete');
  const finishes = chunks.flatMap((c) => c.choices.map((x: { finish_reason: string | null }) => x.finish_reason)).filter((f) => f !== null);
  assert.deepEqual(finishes, ['stop']);
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.completion_tokens, encode(ROUTES.猫).length);
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
});

test('streaming with the openai client, and without the usage chunk', async () => {
  const stream = await client.chat.completions.create({ model: 'scripted', messages: user('blue'), stream: true });
  let text = '';
  let roleSeen = false;
  let finish: string | null = null;
  for await (const chunk of stream) {
    assert.equal(chunk.usage, undefined);
    const c = chunk.choices[0];
    if (c.delta.role) roleSeen = true;
    text += c.delta.content ?? '';
    if (c.finish_reason) { assert.equal(finish, null); finish = c.finish_reason; }
  }
  assert.ok(roleSeen);
  assert.equal(text, ROUTES.blue);
  assert.equal(finish, 'stop');
});

test('max_tokens and max_completion_tokens cut the reply with finish_reason "length"', async () => {
  const tokens = encode(ROUTES.鸟);
  for (const key of ['max_tokens', 'max_completion_tokens'] as const) {
    const r = await client.chat.completions.create({ model: 'scripted', messages: user('鸟'), [key]: 3 });
    assert.equal(r.choices[0].message.content, 'Birds fly');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage?.completion_tokens, 3);
  }
  assert.equal(tokens.length, 6);
});

test('stop strings (one or a list) end the reply before them', async () => {
  const one = await client.chat.completions.create({ model: 'scripted', messages: user('green'), stop: ' fast' });
  assert.equal(one.choices[0].message.content, 'Grass grows');
  assert.equal(one.choices[0].finish_reason, 'stop');
  const list = await client.chat.completions.create({ model: 'scripted', messages: user('狗'), stop: ['zzz', 'bark'] });
  assert.equal(list.choices[0].message.content, 'Dogs ');
});

test('n gives several choices; temperature, top_p, seed and penalties are accepted', async () => {
  const r = await client.chat.completions.create({
    model: 'scripted', messages: user('red'), n: 3, temperature: 0.7, top_p: 0.9, seed: 42, presence_penalty: 0.5, frequency_penalty: 0.2, user: 'test-user',
  });
  assert.deepEqual(r.choices.map((c) => [c.index, c.message.content]), [[0, ROUTES.red], [1, ROUTES.red], [2, ROUTES.red]]);
  assert.equal(r.usage?.completion_tokens, 3 * encode(ROUTES.red).length);
});

test('logprobs and top_logprobs: the chosen token is near-certain, the alternatives far below', async () => {
  const r = await client.chat.completions.create({ model: 'scripted', messages: user('red'), logprobs: true, top_logprobs: 2, temperature: 0 });
  const content = r.choices[0].logprobs!.content!;
  assert.deepEqual(content.map((c) => c.token), ['App', 'les', ' are', ' red', '.']);
  for (const c of content) {
    assert.ok(c.logprob > -1e-6 && c.logprob <= 0, `logprob ${c.logprob}`);
    assert.equal(c.top_logprobs.length, 2);
    assert.equal(c.top_logprobs[0].token, c.token);
    assert.ok(c.top_logprobs[1].logprob < -10, `runner-up logprob ${c.top_logprobs[1].logprob}`);
    assert.deepEqual(c.bytes, [...Buffer.from(c.token)]);
  }
});

test('response_format json_schema is enforced by grammar', async () => {
  const r = await client.chat.completions.create({
    model: 'scripted',
    messages: user('你是谁？'),
    temperature: 0,
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'answer', schema: { type: 'object', properties: { answer: { type: 'string', enum: ['是', '否'] } }, required: ['answer'] } },
    },
  });
  const parsed = JSON.parse(r.choices[0].message.content!);
  assert.ok(['是', '否'].includes(parsed.answer), JSON.stringify(parsed));
  assert.deepEqual(Object.keys(parsed), ['answer']);
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('response_format json_object makes the reply a JSON value', async () => {
  // Left alone the model says "Apples are red."; the grammar makes it open a JSON object instead.
  const r = await client.chat.completions.create({ model: 'scripted', messages: user('red'), temperature: 0, max_tokens: 8, response_format: { type: 'json_object' } });
  assert.match(r.choices[0].message.content!, /^\{\s*"/);
});

test('response_format on text completions too: the grammar holds, and a bad schema is a 400', async () => {
  // Left alone the raw prompt gets "Apples are red."; the schema allows only "是" or "否".
  const schema = { type: 'object', properties: { answer: { type: 'string', enum: ['是', '否'] } }, required: ['answer'] };
  const r = await postJson(`${srv.url}/v1/completions`, { prompt: 'red\n\n', temperature: 0, max_tokens: 30, response_format: { type: 'json_schema', json_schema: { name: 'a', schema } } });
  assert.equal(r.status, 200, r.text);
  assert.ok(['是', '否'].includes(JSON.parse(r.json.choices[0].text).answer), r.json.choices[0].text);
  const bad = await postJson(`${srv.url}/v1/completions`, { prompt: 'red\n\n', response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'foo' } } } });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.message, 'the JSON schema is not supported: #/type is "foo"; use "string", "number", "integer", "boolean", "null", "object" or "array"');
});

test('text completions: raw prompt, echo, several prompts, streaming', async () => {
  // The raw prompt ends in "\n\n" after the route word, as the chat template would.
  const r = await client.completions.create({ model: 'scripted', prompt: 'apple\n\n', max_tokens: 10 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, ROUTES.apple);
  assert.equal(r.choices[0].finish_reason, 'stop');
  const echo = await client.completions.create({ model: 'scripted', prompt: 'red\n\n', max_tokens: 2, echo: true });
  assert.equal(echo.choices[0].text, 'red\n\nApples');
  assert.equal(echo.choices[0].finish_reason, 'length');
  const two = await client.completions.create({ model: 'scripted', prompt: ['red\n\n', 'blue\n\n'], max_tokens: 10 });
  assert.deepEqual(two.choices.map((c) => [c.index, c.text]), [[0, ROUTES.red], [1, ROUTES.blue]]);
  const stream = await client.completions.create({ model: 'scripted', prompt: 'green\n\n', max_tokens: 10, stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.text ?? '';
  assert.equal(text, ROUTES.green);
  const lp = await client.completions.create({ model: 'scripted', prompt: 'apple\n\n', max_tokens: 10, logprobs: 1 });
  assert.deepEqual(lp.choices[0].logprobs?.tokens, ['OK']);
  assert.equal(lp.choices[0].logprobs?.text_offset?.[0], 0);
});

test('8 concurrent requests with different replies each get exactly their own', async () => {
  const words = ['red', 'blue', 'green', '猫', '狗', '鱼', '鸟', 'apple'];
  const results = await Promise.all(words.map(async (w, i) => {
    if (i % 2) {
      const s = await client.chat.completions.create({ model: 'scripted', messages: user(w), stream: true });
      let t = '';
      for await (const c of s) t += c.choices[0]?.delta.content ?? '';
      return t;
    }
    return (await client.chat.completions.create({ model: 'scripted', messages: user(w) })).choices[0].message.content;
  }));
  assert.deepEqual(results, words.map((w) => ROUTES[w]));
});

test('a follow-up turn reuses the cached conversation instead of evaluating it again', async () => {
  const first = await client.chat.completions.create({ model: 'scripted', messages: user('鱼') });
  const turn2 = [...user('鱼'), { role: 'assistant' as const, content: first.choices[0].message.content! }, ...user('还有呢？')];
  const second = await client.chat.completions.create({ model: 'scripted', messages: turn2 });
  assert.equal(second.choices[0].message.content, ROUTES.鱼);
  // Cached: the first prompt and its reply (the <|eot_id|> after it was never evaluated).
  assert.equal(second.usage?.prompt_tokens_details?.cached_tokens, first.usage!.prompt_tokens + first.usage!.completion_tokens);
});

test('a LoRA module is picked by model name and changes the reply', async () => {
  const base = await client.chat.completions.create({ model: 'scripted', messages: user('你好') });
  const lora = await client.chat.completions.create({ model: 'short', messages: user('你好') });
  assert.equal(base.choices[0].message.content, REPLY);
  assert.equal(lora.choices[0].message.content, decode(encode(REPLY).slice(3)));
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['scripted', 'short']);
  assert.equal((models.data[1] as unknown as { parent: string }).parent, 'scripted');
});

test('the simple API answers {"response", "status": 200} with the demo system prompt unless given one', async () => {
  const r = await postJson(srv.url + '/', { prompt: '你好' });
  assert.equal(r.status, 200);
  // The default system prompt names shareAI, which routes to the "share" reply.
  assert.equal(r.json.response, ROUTES.share);
  assert.equal(r.json.status, 200);
  assert.match(r.json.time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const own = await postJson(srv.url + '/', { prompt: '你好', system: '你是助手。' });
  assert.equal(own.json.response, REPLY);
});

test('tokenize and detokenize round-trip, with one BOS', async () => {
  const t = await postJson(srv.url + '/tokenize', { prompt: '你好，世界' });
  assert.equal(t.status, 200);
  assert.deepEqual(t.json.tokens, [TOKEN.BOS, ...encode('你好，世界')]);
  assert.equal(t.json.count, t.json.tokens.length);
  assert.equal(t.json.max_model_len, 512);
  const chat = await postJson(srv.url + '/tokenize', { messages: user('你是谁？') });
  assert.equal(chat.json.count, promptLength('你是谁？'));
  const d = await postJson(srv.url + '/detokenize', { tokens: encode('你好，世界') });
  assert.equal(d.json.prompt, '你好，世界');
});

test('/health, /v1/models and /metrics', async () => {
  assert.deepEqual(await (await fetch(srv.url + '/health')).json(), { status: 'ok' });
  const m = await (await fetch(srv.url + '/v1/models')).json();
  assert.equal(m.object, 'list');
  assert.equal(m.data[0].max_model_len, 512);
  const text = await (await fetch(srv.url + '/metrics')).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('llama3zh_generation_tokens_total') > 50);
  assert.ok(value('llama3zh_prompt_tokens_cached_total') > 0);
  assert.equal(value('llama3zh_requests_running'), 0);
  assert.equal(value('llama3zh_requests_waiting'), 0);
  assert.match(text, /^llama3zh_time_to_first_token_seconds_count [1-9]\d*$/m);
  assert.match(text, /^llama3zh_requests_total\{route="\/v1\/chat\/completions",status="200"\} [1-9]\d*$/m);
});
