import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import type { RunningServer } from '../../src/server/start.js';
import { assertClose, cosine, reference, type Reference, SENTENCES, unit } from '../helpers/embeddings.js';
import { redirectLora, REPLY, testModel } from '../helpers/models.js';
import { postJson, routedModel, testServer } from '../helpers/server.js';

/**
 * The embedding APIs on a random-weight model (its vectors are not alike, as a scripted model's are), compared with
 * node-llama-cpp's own getEmbeddingFor of the same GGUF loaded here on its own, after the same normalisation.
 */
const LIMIT = 48;
let path: string;
let srv: RunningServer;
let ref: Reference;
let openai: OpenAI;
let ollama: Ollama;

before(async () => {
  path = await testModel();
  srv = await testServer({ model: path, name: 'random', parallel: 2, ctx: 256, embeddingCtx: LIMIT });
  ref = await reference(path, 'mean');
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  ollama = new Ollama({ host: srv.url });
});
after(async () => {
  await srv.close();
  await ref.close();
});

const tokensOf = (texts: string[]) => texts.reduce((n, s) => n + ref.tokens(s).length, 0);
/** More tokens than LIMIT. */
const LONG = '我们继续讨论这个问题，请详细说明每一个步骤。'.repeat(6);

test('/v1/embeddings with the openai client, floats: unit vectors equal to node-llama-cpp\'s, in order, and usage', async () => {
  const r = await openai.embeddings.create({ model: 'random', input: SENTENCES, encoding_format: 'float' });
  assert.equal(r.object, 'list');
  assert.equal(r.model, 'random');
  assert.equal(r.data.length, SENTENCES.length);
  for (const [i, s] of SENTENCES.entries()) {
    assert.equal(r.data[i].object, 'embedding');
    assert.equal(r.data[i].index, i);
    assertClose(r.data[i].embedding, unit(await ref.embed(s)), `input ${i}`);
    assert.ok(Math.abs(Math.hypot(...r.data[i].embedding) - 1) < 1e-9);
  }
  assert.deepEqual(r.usage, { prompt_tokens: tokensOf(SENTENCES), total_tokens: tokensOf(SENTENCES) });
  assert.ok(cosine(r.data[0].embedding, r.data[1].embedding) < 0.99);
});

test('base64: the openai client asks for it by default and decodes it to the same vectors', async () => {
  const r = await openai.embeddings.create({ model: 'random', input: SENTENCES[0] });
  assert.equal(r.data.length, 1);
  assertClose(r.data[0].embedding, unit(await ref.embed(SENTENCES[0])), 'decoded');
  const raw = await postJson(`${srv.url}/v1/embeddings`, { model: 'random', input: SENTENCES[0], encoding_format: 'base64' });
  const bytes = Buffer.from(raw.json.data[0].embedding, 'base64');
  assert.equal(bytes.length, 64 * 4);
  const floats = Array.from({ length: 64 }, (_, i) => bytes.readFloatLE(i * 4));
  assertClose(floats, unit(await ref.embed(SENTENCES[0])), 'float32 little-endian');
});

test('token ids, one list or many, embed as their text does (BOS added once); usage counts them', async () => {
  const ids = ref.model.tokenize(SENTENCES[1]) as number[];
  const want = unit(await ref.embed(SENTENCES[1]));
  const one = await openai.embeddings.create({ model: 'random', input: ids, encoding_format: 'float' });
  assertClose(one.data[0].embedding, want, 'ids');
  assert.equal(one.usage.prompt_tokens, ids.length + 1);
  const many = await openai.embeddings.create({ model: 'random', input: [ids, [TOKEN.BOS, ...ids]], encoding_format: 'float' });
  for (const d of many.data) assertClose(d.embedding, want, `ids ${d.index}`);
  assert.equal(many.usage.prompt_tokens, 2 * (ids.length + 1));
  // Texts and ids in one list, as llama-server takes them.
  const mixed = await postJson(`${srv.url}/v1/embeddings`, { input: [SENTENCES[2], ids] });
  assert.equal(mixed.status, 200, mixed.text);
  assertClose(mixed.json.data[0].embedding, unit(await ref.embed(SENTENCES[2])), 'mixed text');
  assertClose(mixed.json.data[1].embedding, want, 'mixed ids');
  // dimensions equal to the model's is fine.
  assert.equal((await openai.embeddings.create({ model: 'random', input: 'x', dimensions: 64 })).data[0].embedding.length, 64);
});

test('/api/embed with the ollama client: unit vectors, counts, timings; truncate, num_ctx and dimensions', async () => {
  const r = await ollama.embed({ model: 'random', input: SENTENCES });
  assert.equal(r.model, 'random');
  assert.equal(r.embeddings.length, SENTENCES.length);
  for (const [i, s] of SENTENCES.entries()) assertClose(r.embeddings[i], unit(await ref.embed(s)), `input ${i}`);
  assert.equal(r.prompt_eval_count, tokensOf(SENTENCES));
  assert.ok(r.total_duration > 0 && r.total_duration >= r.load_duration);
  const one = await ollama.embed({ model: 'random:latest', input: SENTENCES[4] });
  assertClose(one.embeddings[0], unit(await ref.embed(SENTENCES[4])), 'one string');
  // Too long: cut to the first LIMIT tokens by default (ollama's truncate), or to options.num_ctx.
  const long = ref.tokens(LONG);
  assert.ok(long.length > LIMIT);
  const cut = await ollama.embed({ model: 'random', input: LONG });
  assertClose(cut.embeddings[0], unit(await ref.embed(long.slice(0, LIMIT))), 'truncated');
  assert.equal(cut.prompt_eval_count, LIMIT);
  const ctx = await ollama.embed({ model: 'random', input: LONG, options: { num_ctx: 10 } });
  assertClose(ctx.embeddings[0], unit(await ref.embed(long.slice(0, 10))), 'num_ctx');
  // dimensions: ollama's cut of the unit vector, normalised again.
  const d = await ollama.embed({ model: 'random', input: SENTENCES[0], dimensions: 16 });
  assertClose(d.embeddings[0], unit(unit(await ref.embed(SENTENCES[0])).slice(0, 16)), 'dimensions');
});

test('/api/embeddings (the older API) with the ollama client: the model\'s own vector, not normalised', async () => {
  const r = await ollama.embeddings({ model: 'random', prompt: SENTENCES[3] });
  assertClose(r.embedding, await ref.embed(SENTENCES[3]), 'raw');
  assert.ok(Math.abs(Math.hypot(...r.embedding) - 1) > 0.01, 'raw vectors are not unit vectors');
});

test('ollama\'s way to load a model: no input gives no embeddings', async () => {
  for (const input of [undefined, '', []]) {
    const r = await postJson(`${srv.url}/api/embed`, { model: 'random', input });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { model: 'random', embeddings: [] });
  }
  assert.deepEqual((await postJson(`${srv.url}/api/embeddings`, { model: 'random' })).json, { embedding: [] });
});

test('every bad input is a 400 (404 for the model) naming the field; the server keeps serving', async () => {
  const long = ref.tokens(LONG).length;
  const cases: Array<[string, Record<string, unknown>, number, string | null, RegExp]> = [
    ['/v1/embeddings', { model: 'random' }, 400, 'input', /"input" is required/],
    ['/v1/embeddings', { input: '' }, 400, 'input', /"input" is an empty string/],
    ['/v1/embeddings', { input: [] }, 400, 'input', /"input" is an empty list/],
    ['/v1/embeddings', { input: ['a', ''] }, 400, 'input[1]', /"input\[1\]" is an empty string/],
    ['/v1/embeddings', { input: 5 }, 400, 'input', /"input" must be a string, a list of strings, token ids, or a list of token-id lists \(got number\)/],
    ['/v1/embeddings', { input: { text: 'a' } }, 400, 'input', /got object/],
    ['/v1/embeddings', { input: ['a', 5, 'b'] }, 400, 'input[1]', /"input\[1\]" must be a string or a list of token ids \(got number\)/],
    ['/v1/embeddings', { input: [1.5, 2] }, 400, 'input', /token ids of this model: whole numbers from 0 to 128255/],
    ['/v1/embeddings', { input: [[1], [128256]] }, 400, 'input[1]', /"input\[1\]" must be token ids/],
    ['/v1/embeddings', { input: [[1], []] }, 400, 'input[1]', /"input\[1\]" is an empty list of token ids/],
    ['/v1/embeddings', { input: ['ok', LONG] }, 400, 'input[1]', new RegExp(`"?input\\[1\\]"? is ${long} tokens, but at most ${LIMIT} are embedded at once; .*--embedding-ctx-size`)],
    ['/v1/embeddings', { input: LONG }, 400, 'input', /^input is \d+ tokens/],
    ['/v1/embeddings', { input: Array.from({ length: 2049 }, () => 'a') }, 400, 'input', /2049 inputs; at most 2048 in one request/],
    ['/v1/embeddings', { input: 'a', encoding_format: 'hex' }, 400, 'encoding_format', /"encoding_format" is "hex"; use "float" or "base64"/],
    ['/v1/embeddings', { input: 'a', dimensions: 32 }, 400, 'dimensions', /"dimensions" is 32, but this model's embeddings have 64 numbers/],
    ['/v1/embeddings', { input: 'a', dimensions: 0 }, 400, 'dimensions', /at least 1/],
    ['/v1/embeddings', { input: 'a', model: 'text-embedding-3-small' }, 404, 'model', /the model "text-embedding-3-small" does not exist; this server embeds with "random"/],
    ['/v1/embeddings', { input: 'a', model: 7 }, 400, 'model', /"model" must be a string/],
    ['/v1/embeddings', { input: 'a', user: 1 }, 400, 'user', /"user" must be a string/],
    ['/v1/embeddings', { input: 'a', truncate_prompt_tokens: 10 }, 400, 'truncate_prompt_tokens', /never cut/],
    ['/api/embed', { input: 'a' }, 400, null, /"model" is required/],
    ['/api/embed', { model: 'nope', input: 'a' }, 404, null, /the model "nope" does not exist/],
    ['/api/embed', { model: 'random', input: 5 }, 400, null, /"input" must be a string or a list of strings \(got number\)/],
    ['/api/embed', { model: 'random', input: ['a', [1]] }, 400, null, /"input\[1\]" must be a string \(got an array\)/],
    ['/api/embed', { model: 'random', input: LONG, truncate: false }, 400, null, new RegExp(`input is ${long} tokens, but at most ${LIMIT}`)],
    ['/api/embed', { model: 'random', input: 'a', truncate: 'no' }, 400, null, /"truncate" must be true or false/],
    ['/api/embed', { model: 'random', input: 'a', dimensions: 65 }, 400, null, /"dimensions" is 65, but this model's embeddings have 64 numbers/],
    ['/api/embed', { model: 'random', input: 'a', options: { num_ctx: 4096 } }, 400, null, /"options.num_ctx" is 4096, but this server embeds at most 48 tokens per input; start it with --embedding-ctx-size 4096/],
    ['/api/embeddings', { prompt: 'a' }, 400, null, /"model" is required/],
    ['/api/embeddings', { model: 'random', prompt: ['a'] }, 400, null, /"prompt" must be a string \(got an array\)/],
    ['/api/embeddings', { model: 'random', prompt: LONG }, 400, null, new RegExp(`prompt is ${long} tokens, but at most ${LIMIT}`)],
  ];
  for (const [route, body, status, param, message] of cases) {
    const r = await postJson(`${srv.url}${route}`, body);
    const what = `${route} ${JSON.stringify(body).slice(0, 80)}`;
    assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`);
    if (route.startsWith('/v1/')) {
      assert.match(r.json.error.message, message, what);
      assert.equal(r.json.error.param, param, what);
    } else {
      assert.match(r.json.error, message, what);
    }
  }
  assert.equal((await postJson(`${srv.url}/v1/embeddings`, 'not json')).status, 400);
  // Still serving: embeddings and chat.
  const ok = await openai.embeddings.create({ model: 'random', input: SENTENCES[0], encoding_format: 'float' });
  assertClose(ok.data[0].embedding, unit(await ref.embed(SENTENCES[0])), 'after the bad inputs');
  const chat = await postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: '你好' }], max_tokens: 3 });
  assert.equal(chat.status, 200, chat.text);
});

test('embedding requests beside chat requests: each gives what it gives alone', async () => {
  const chat = () => postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: '你好' }], max_tokens: 16, temperature: 0, ignore_eos: true });
  const alone = (await chat()).json.choices[0].message.content;
  const results = await Promise.all([chat(), openai.embeddings.create({ model: 'random', input: SENTENCES, encoding_format: 'float' }), chat(),
    ollama.embed({ model: 'random', input: SENTENCES.slice().reverse() })]);
  assert.equal(results[0].json.choices[0].message.content, alone);
  assert.equal(results[2].json.choices[0].message.content, alone);
  for (const [i, s] of SENTENCES.entries()) {
    const want = unit(await ref.embed(s));
    assertClose(results[1].data[i].embedding, want, `openai ${i}`);
    assertClose(results[3].embeddings[SENTENCES.length - 1 - i], want, `ollama ${i}`);
  }
});

test('--embedding-model: a second model embeds, is listed, never chats; the served model\'s name does not embed', async () => {
  const two = await testServer({ model: await routedModel(), name: 'scripted', parallel: 2, embeddingModel: { name: 'embedder', path } });
  try {
    const client = new OpenAI({ baseURL: `${two.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.embeddings.create({ model: 'embedder', input: SENTENCES.slice(0, 2) });
    for (const [i, s] of SENTENCES.slice(0, 2).entries()) assertClose(r.data[i].embedding, unit(await ref.embed(s)), `input ${i}`);
    assert.equal(r.model, 'embedder');
    const o = await new Ollama({ host: two.url }).embed({ model: 'embedder', input: SENTENCES[2] });
    assertClose(o.embeddings[0], unit(await ref.embed(SENTENCES[2])), 'ollama');
    const refused = await postJson(`${two.url}/v1/embeddings`, { model: 'scripted', input: 'a' });
    assert.equal(refused.status, 404);
    assert.match(refused.json.error.message, /the model "scripted" does not embed on this server; embeddings come from "embedder"/);
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['scripted', 'embedder']);
    assert.deepEqual((await new Ollama({ host: two.url }).list()).models.map((m) => m.name), ['scripted', 'embedder']);
    const chat = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: '你是谁？' }] });
    assert.equal(chat.choices[0].message.content, REPLY);
    const notChat = await postJson(`${two.url}/v1/chat/completions`, { model: 'embedder', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(notChat.status, 404);
  } finally {
    await two.close();
  }
});

test('a served model with LoRA adapters does not embed: a 400 that says to give --embedding-model', async () => {
  const lora = await testServer({ model: path, name: 'random', parallel: 1, lora: [await redirectLora(64, 0, 1000, 1)] });
  try {
    const r = await postJson(`${lora.url}/v1/embeddings`, { input: 'a' });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /the model "random" does not embed here: start the server with --embedding-model FILE/);
  } finally {
    await lora.close();
  }
});
