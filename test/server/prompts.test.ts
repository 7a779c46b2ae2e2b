import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { allOrNothing } from '../../src/server/generation.js';
import type { RunningServer } from '../../src/server/start.js';
import { postJson, ROUTES, streamLines, testServer } from '../helpers/server.js';

/** A completions call with many prompts (issue 12, defect 2): always an answer, in waves, within one queue place. */

let srv: RunningServer;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);

before(async () => {
  // The default server's 4 slots, and a queue of 1: a many-prompt request must not fill it by itself.
  srv = await testServer({ parallel: 4, maxQueue: 1 });
  process.on('warning', onWarning);
});
after(async () => {
  process.off('warning', onWarning);
  await srv.close();
});

const completions = (body: unknown) => postJson(`${srv.url}/v1/completions`, body);

test('more prompts than slots run in waves: every prompt answered, in order, no 429, no listener warning', { timeout: 30_000 }, async () => {
  const words = Object.keys(ROUTES);
  const prompts = Array.from({ length: 40 }, (_, i) => `${words[i % words.length]}`);
  const r = await completions({ prompt: prompts, max_tokens: 40, temperature: 0 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.choices.map((c: { index: number; text: string }) => [c.index, c.text]), prompts.map((w, i) => [i, ROUTES[w]]));
  assert.deepEqual(warnings, []);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /^llama3zh_requests_running 0$/m);
});

test('prompts × n beyond the limit are a 400 that names it', async () => {
  const r = await completions({ prompt: Array.from({ length: 69 }, () => 'hi'), max_tokens: 2 });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.message, `this request asks for 69 prompts × 1 choices; at most 64 in one request: split it`);
  const n = await completions({ prompt: Array.from({ length: 20 }, () => 'hi'), max_tokens: 2, n: 4 });
  assert.equal(n.status, 400);
  assert.match(n.json.error.message, /^this request asks for 20 prompts × 4 choices; at most 64/);
});

test('a prompt too long for the context among short ones is a 400 at once (it was silence until the client gave up)', { timeout: 30_000 }, async () => {
  const short = [128000, 9906, 1917];
  const long = Array.from({ length: 9000 }, () => 9906);
  const r = await completions({ prompt: [short, short, short, short, short, long], max_tokens: 2 });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /^the prompt is 9000 tokens but the context holds 512/);
  assert.equal(r.json.error.code, 'context_length_exceeded');
  const stream = await completions({ prompt: ['a', 'b', 'c', 'd', 'e', '你好'.repeat(600)], max_tokens: 2, stream: true });
  assert.equal(stream.status, 400);
});

test('a streamed many-prompt request numbers every choice and echoes each prompt when its wave starts', { timeout: 30_000 }, async () => {
  const prompts = ['red', 'blue', 'green', '猫', '狗', '鱼'];
  const res = await fetch(`${srv.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: prompts, max_tokens: 40, stream: true, echo: true }) });
  assert.equal(res.status, 200);
  const texts = new Array<string>(prompts.length).fill('');
  for await (const line of streamLines(res)) {
    if (line === 'data: [DONE]') break;
    const c = JSON.parse(line.slice(6)).choices[0];
    texts[c.index] += c.text;
  }
  assert.deepEqual(texts, prompts.map((p) => p + ROUTES[p]));
});

test('allOrNothing reports the error that made it abort, not a sibling AbortError that comes first by position', async () => {
  const cause = new Error('prompt 6 is too long');
  const waiting = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
  await assert.rejects(allOrNothing(new AbortController().signal, [waiting, waiting, async () => { throw cause; }]), (e) => e === cause);
  assert.deepEqual(await allOrNothing(new AbortController().signal, [async () => 1, async () => 2]), [1, 2]);
});
