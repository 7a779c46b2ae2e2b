import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import type { RunningServer } from '../../src/server/start.js';
import { REPLY, testModel } from '../helpers/models.js';
import { postJson, routedModel, streamLines, testServer } from '../helpers/server.js';

/** One sequence, one queue place: what happens to a client that leaves, and to one too many. */

let srv: RunningServer;

before(async () => {
  // Random weights never say <|eot_id|> on purpose: a request runs until its max_tokens, long enough to interrupt.
  srv = await testServer({ model: await testModel({ seed: 3 }), parallel: 1, maxQueue: 1, ctx: 2048 });
});
after(() => srv.close());

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
}

/** Poll until the condition holds (the server reacts on its next decode step); fail after 10 s. */
async function until(what: string, cond: () => Promise<boolean>) {
  const end = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A long streaming request; resolves once its first content chunk has arrived. */
async function longStream(): Promise<{ abort: () => void; done: Promise<void> }> {
  const ac = new AbortController();
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST', signal: ac.signal,
    body: JSON.stringify({ messages: [{ role: 'user', content: 'go on' }], max_tokens: 1800, stream: true }),
  });
  assert.equal(res.status, 200);
  const lines = streamLines(res);
  await lines.next(); // the role chunk
  await lines.next(); // the first content
  const done = (async () => { try { for await (const _ of lines) { /* drain */ } } catch { /* aborted */ } })();
  return { abort: () => ac.abort(), done };
}

test('a client that disconnects mid-stream stops its generation and frees its sequence at once', async () => {
  const before = await metric('llama3zh_generation_tokens_total');
  const a = await longStream();
  assert.equal(await metric('llama3zh_requests_running'), 1);
  a.abort();
  await a.done;
  await until('the sequence is free', async () => (await metric('llama3zh_requests_running')) === 0);
  const generated = (await metric('llama3zh_generation_tokens_total')) - before;
  assert.ok(generated < 200, `generation went on after the disconnect: ${generated} tokens of 1800`);
  // The one sequence serves the next request straight away.
  const next = await postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'x' }], max_tokens: 4 });
  assert.equal(next.status, 200);
  assert.equal(next.json.usage.completion_tokens, 4);
});

test('beyond --parallel requests wait in the queue; beyond --max-queue they get 429 with Retry-After', async () => {
  const a = await longStream();
  // B waits for the one sequence.
  const bAbort = new AbortController();
  const b = fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST', signal: bAbort.signal, body: JSON.stringify({ messages: [{ role: 'user', content: 'b' }], max_tokens: 3 }),
  }).then((r) => r.json());
  await until('B is queued', async () => (await metric('llama3zh_requests_waiting')) === 1);
  // C finds the queue full.
  const c = await postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'c' }] });
  assert.equal(c.status, 429);
  assert.equal(c.headers.get('retry-after'), '1');
  assert.equal(c.json.error.code, 'queue_full');
  assert.match(c.json.error.message, /^the server is busy: 1 requests running and 1 waiting \(--max-queue 1\); retry shortly$/);
  // The openai client sees the 429 as a RateLimitError.
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'x', maxRetries: 0 });
  await assert.rejects(client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'c' }] }), (e: Error) => e.constructor.name === 'RateLimitError');
  // When A leaves, B runs.
  a.abort();
  const bReply = await b;
  assert.equal(bReply.usage.completion_tokens, 3);
  assert.equal(await metric('llama3zh_requests_waiting'), 0);
  void bAbort;
});

test('a queued client that leaves gives up its place in the queue', async () => {
  const a = await longStream();
  const bAbort = new AbortController();
  const b = fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST', signal: bAbort.signal, body: JSON.stringify({ messages: [{ role: 'user', content: 'b' }], max_tokens: 3 }),
  }).catch(() => 'aborted');
  await until('B is queued', async () => (await metric('llama3zh_requests_waiting')) === 1);
  bAbort.abort();
  assert.equal(await b, 'aborted');
  await until('the queue is empty', async () => (await metric('llama3zh_requests_waiting')) === 0);
  a.abort();
  await until('the sequence is free', async () => (await metric('llama3zh_requests_running')) === 0);
});

test('a model that leaks past <|eot_id|> into a new assistant turn still stops, on every API', async () => {
  const leaky = await testServer({ model: await routedModel({ leak: true }), parallel: 2 });
  try {
    const chat = await postJson(`${leaky.url}/v1/chat/completions`, { messages: [{ role: 'user', content: '你好' }] });
    assert.equal(chat.json.choices[0].message.content, REPLY);
    assert.equal(chat.json.choices[0].finish_reason, 'stop');
    const ollama = await postJson(`${leaky.url}/api/chat`, { model: 'scripted', messages: [{ role: 'user', content: '你好' }], stream: false });
    assert.equal(ollama.json.message.content, REPLY);
    const simple = await postJson(`${leaky.url}/`, { prompt: '你好', system: '你是助手' });
    assert.equal(simple.json.response, REPLY);
  } finally {
    await leaky.close();
  }
});
