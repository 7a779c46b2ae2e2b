import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import { MAX_BODY_DEPTH } from '../../src/server/http.js';
import type { RunningServer } from '../../src/server/start.js';
import { REPLY } from '../helpers/models.js';
import { postJson, ROUTES, testServer } from '../helpers/server.js';

/** Request fields: bodies nested too deeply, JSON schemas the grammar cannot enforce, logit_bias, and every field not implemented. */

let srv: RunningServer;

before(async () => {
  srv = await testServer({ parallel: 2, ctx: 256 });
});
after(() => srv.close());

const user = (content: string) => [{ role: 'user', content }];
const chat = (body: Record<string, unknown>) => postJson(`${srv.url}/v1/chat/completions`, { model: 'scripted', messages: user('你好'), ...body });
const complete = (body: Record<string, unknown>) => postJson(`${srv.url}/v1/completions`, { model: 'scripted', prompt: 'red\n\n', ...body });
const ollama = (path: string, body: Record<string, unknown>) => postJson(`${srv.url}${path}`, { model: 'scripted', stream: false, ...body });
const ochat = (body: Record<string, unknown>) => ollama('/api/chat', { messages: user('你好'), ...body });

function assertError(r: { status: number; json: any }, message: string, param?: string) {
  assert.equal(r.status, 400, JSON.stringify(r.json));
  assert.equal(r.json.error.message, message);
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

function assertOllamaError(r: { status: number; json: any }, message: string) {
  assert.equal(r.status, 400, JSON.stringify(r.json));
  assert.deepEqual(r.json, { error: message });
}

/** A JSON text nesting `depth` lists inside a field, sent as it is (JSON.stringify could not build a deep one). */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

test('a body nested deeper than the limit is a 400 that says how deep, for any field, and the limit itself is fine', async () => {
  const base = `"model": "scripted", "messages": [{"role": "user", "content": "你好"}]`;
  // The body's object is level 1, "metadata" level 2.
  const at = (depth: number) => `{${base}, "metadata": {"x": ${nested(depth - 2)}}}`;
  const ok = await postJson(`${srv.url}/v1/chat/completions`, at(MAX_BODY_DEPTH));
  assert.equal(ok.status, 200);
  assert.equal(ok.json.choices[0].message.content, REPLY);
  assertError(await postJson(`${srv.url}/v1/chat/completions`, at(MAX_BODY_DEPTH + 1)), 'the request body nests 129 levels deep; the limit is 128 (a JSON schema needs far fewer)');
  // Refused before it is parsed (V8 would spend seconds and hundreds of MB on it), so even a body that never closes says so.
  const unclosed = await postJson(`${srv.url}/v1/chat/completions`, `{"metadata": ${'['.repeat(1_000_000)}`);
  assertError(unclosed, 'the request body nests 1000001 levels deep; the limit is 128 (a JSON schema needs far fewer)');
  // The case: a schema 5,000 levels deep was a 500 "Maximum call stack size exceeded".
  let schema = '{"type": "string"}';
  for (let i = 0; i < 5000; i++) schema = `{"type": "array", "items": ${schema}}`;
  const deep = await postJson(`${srv.url}/v1/chat/completions`, `{${base}, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": ${schema}}}}`);
  assertError(deep, 'the request body nests 5004 levels deep; the limit is 128 (a JSON schema needs far fewer)');
  const ollamaDeep = await postJson(`${srv.url}/api/generate`, `{"model": "scripted", "prompt": "hi", "stream": false, "format": ${schema}}`);
  assertOllamaError(ollamaDeep, 'the request body nests 5002 levels deep; the limit is 128 (a JSON schema needs far fewer)');
});

test('a JSON schema the grammar cannot enforce is a 400 naming the keyword and its path, not a 200 with a wrong reply', async () => {
  const schema = (s: unknown) => ({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: s } } });
  assertError(await chat(schema({ type: 'foo' })), 'the JSON schema is not supported: #/type is "foo"; use "string", "number", "integer", "boolean", "null", "object" or "array"');
  assertError(await chat(schema({ enum: [] })), 'the JSON schema is not supported: #/enum must be a non-empty list (an empty enum matches nothing)');
  assertError(await chat(schema({ type: 'object', properties: { code: { type: 'string', pattern: '(' } }, required: ['code'] })),
    'the JSON schema is not supported: #/properties/code has "pattern", which regular expressions cannot be enforced by the grammar; describe the format in the prompt instead');
  // A stream that cannot start is still an HTTP error.
  const stream = await chat({ ...schema({ type: 'foo' }), stream: true });
  assert.equal(stream.status, 400);
  assertOllamaError(await ollama('/api/generate', { prompt: 'hi', format: { type: 'object', properties: { n: { type: 'integer', maximum: 5 } } } }),
    'the JSON schema is not supported: #/properties/n has "maximum", which number ranges cannot be enforced by the grammar');
  // What the grammar builds exactly still works: anyOf (rewritten to oneOf), a nullable object.
  const r = await chat({ ...schema({ type: 'object', properties: { a: { anyOf: [{ type: 'boolean' }, { type: 'null' }] } }, required: ['a'] }), temperature: 0, max_tokens: 40 });
  assert.equal(r.status, 200);
  const a = JSON.parse(r.json.choices[0].message.content).a;
  assert.ok(a === null || typeof a === 'boolean', JSON.stringify(a));
});

test('logit_bias: -100 bans the scripted reply\'s first token, +100 forces a token, -100 on <|eot_id|> runs to max_tokens', async () => {
  const plain = await chat({ messages: user('red'), temperature: 0 });
  assert.equal(plain.json.choices[0].message.content, ROUTES.red);
  const first = encode(ROUTES.red)[0];
  const banned = await chat({ messages: user('red'), temperature: 0, logprobs: true, logit_bias: { [first]: -100 } });
  assert.equal(banned.status, 200);
  assert.notEqual(banned.json.choices[0].logprobs.content[0].token, 'App');
  assert.ok(!banned.json.choices[0].message.content.startsWith('Apples'), banned.json.choices[0].message.content);
  // The script gives its next token a logit of 40; +100 outbids it at every step, <|eot_id|> included.
  const [ok] = encode('OK');
  const forced = await chat({ messages: user('red'), temperature: 0, max_tokens: 3, logit_bias: { [ok]: 100 } });
  assert.equal(forced.json.choices[0].message.content, 'OKOKOK');
  assert.equal(forced.json.choices[0].finish_reason, 'length');
  // "apple" answers "OK" and ends; with <|eot_id|> banned the reply goes on.
  const endless = await chat({ messages: user('apple'), temperature: 0, max_tokens: 6, logit_bias: { [TOKEN.EOT]: -100 } });
  assert.equal(endless.json.choices[0].finish_reason, 'length');
  assert.equal(endless.json.usage.completion_tokens, 6);
  assert.ok(endless.json.choices[0].message.content.startsWith('OK'));
  const text = await complete({ max_tokens: 2, temperature: 0, logit_bias: { [ok]: 100 } });
  assert.equal(text.json.choices[0].text, 'OKOK');
  assertError(await chat({ logit_bias: { 999999: 5 } }), '"logit_bias" has the key "999999", which is not a token id of this model (0 to 128255)', 'logit_bias');
  assertError(await chat({ logit_bias: { abc: 5 } }), '"logit_bias" has the key "abc", which is not a token id of this model (0 to 128255)');
  assertError(await chat({ logit_bias: { 5: 101 } }), '"logit_bias" for token 5 must be a number from -100 to 100 (got 101)');
  assertError(await chat({ logit_bias: [1] }), '"logit_bias" must be an object (got an array)');
});

test('vLLM\'s stop_token_ids end the reply at those tokens', async () => {
  const [are] = encode(' are');
  const r = await chat({ messages: user('red'), temperature: 0, stop_token_ids: [are] });
  assert.equal(r.json.choices[0].message.content, 'Apples');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  assertError(await chat({ stop_token_ids: [-1] }), '"stop_token_ids" must be a list of token ids, whole numbers from 0 to 128255');
});

test('OpenAI fields that would change the reply are a 400 naming the field; those that would not are accepted', async () => {
  // Tools are answered (tools.test.ts); OpenAI's deprecated functions API is not.
  assertError(await chat({ functions: [{ name: 'f', parameters: { type: 'object' } }] }),
    '"functions" is OpenAI\'s deprecated functions API, which this server does not answer; send the functions as "tools" ([{"type":"function","function":{…}}])', 'functions');
  assertError(await chat({ function_call: { name: 'f' } }), '"function_call" is OpenAI\'s deprecated functions API, which this server does not answer; use "tool_choice"', 'function_call');
  assertError(await chat({ tool_choice: 'required' }), '"tool_choice" is "required" but the request has no "tools"; send the tools the model must choose from', 'tool_choice');
  assertError(await chat({ modalities: ['text', 'audio'] }), '"modalities" may only be ["text"]: this model writes text only');
  assertError(await chat({ audio: { voice: 'alloy', format: 'mp3' } }), '"audio" is not supported: this model writes text only');
  assertError(await chat({ messages: [{ role: 'assistant', content: '', function_call: { name: 'f', arguments: '{}' } }, ...user('x')] }),
    '"messages[0].function_call" is OpenAI\'s deprecated functions API; send the calls as "tool_calls"', 'messages[0].function_call');
  assertError(await chat({ use_beam_search: true }), '"use_beam_search" is not supported: this server samples, it does not run beam search');
  assertError(await chat({ guided_regex: '[a-z]+' }), '"guided_regex" is not supported; use "response_format" with a JSON schema');
  assertError(await chat({ skip_special_tokens: false }), '"skip_special_tokens" false is not supported: special tokens are never written into replies');
  assertError(await chat({ echo: true }), '"echo" is not supported in chat completions; /v1/completions echoes the prompt');
  assertError(await complete({ best_of: 3 }), '"best_of" above "n" is not supported: ask for "n" choices with "logprobs" and pick the best yourself', 'best_of');
  assertError(await complete({ best_of: 1, n: 2 }), '"best_of" (1) must be at least "n" (2)');
  const accepted = await chat({
    tools: [], tool_choice: 'auto', parallel_tool_calls: false, modalities: ['text'], user: 'u', metadata: { k: 'v' }, store: true, service_tier: 'auto',
    prediction: { type: 'content', content: 'x' }, reasoning_effort: 'low', seed: 1, logit_bias: {}, skip_special_tokens: true, unknown_extra: { a: 1 },
    messages: [{ role: 'user', content: '你好', name: 'someone' }],
  });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.json));
  assert.equal(accepted.json.choices[0].message.content, REPLY);
  const text = await complete({ best_of: 1, echo: false, user: 'u', max_tokens: 10 });
  assert.equal(text.json.choices[0].text, ROUTES.red);
});

test('ollama fields that would change the reply are a 400, as ollama answers them; runner options are accepted', async () => {
  assertOllamaError(await ochat({ messages: [{ role: 'user', content: '这是什么？', images: ['iVBORw0KGgo='] }] }), '"messages[0].images" is not supported: this model reads text only');
  assertOllamaError(await ollama('/api/generate', { prompt: '这是什么？', images: ['iVBORw0KGgo='] }), '"images" is not supported: this model reads text only');
  assertOllamaError(await ochat({ think: true }), '"think" is not supported: this model does not think; send false or leave it out');
  assertOllamaError(await ollama('/api/generate', { prompt: 'hi', context: [1, 2, 3] }), '"context" is not supported (ollama has deprecated it); send the conversation to /api/chat as "messages"');
  assertOllamaError(await ollama('/api/generate', { prompt: 'hi', template: '{{ .Prompt }}' }), '"template" is not supported: each model\'s own chat template is used');
  assertOllamaError(await ochat({ logprobs: true }), '"logprobs" is not supported on the ollama API here; /v1/chat/completions gives "logprobs"');
  assertOllamaError(await ochat({ options: { num_ctx: 4096 } }), '"options.num_ctx" is 4096, but this server\'s context holds 256 tokens; start it with --ctx-size 4096, or ask for less');
  assertOllamaError(await ochat({ options: { mirostat: 2 } }), '"options.mirostat" is not supported (mirostat sampling); leave it at 0 and use temperature, top_k and top_p');
  assertOllamaError(await ochat({ options: { typical_p: 0.5 } }), '"options.typical_p" is not supported (typical sampling); leave it at 1');
  const ok = await ochat({
    think: false, tools: [], keep_alive: '5m',
    options: { num_ctx: 256, num_keep: 4, num_gpu: 0, num_thread: 2, num_batch: 64, use_mmap: true, typical_p: 1, mirostat: 0, tfs_z: 1, temperature: 0 },
  });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.message.content, REPLY);
});
