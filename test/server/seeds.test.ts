import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningServer } from '../../src/server/start.js';
import { testModel } from '../helpers/models.js';
import { postJson, testServer } from '../helpers/server.js';

/** n choices with one seed: each choice gets its own, whatever number the client sent. */

let srv: RunningServer;
before(async () => {
  // Random weights sample a different reply for each seed (the scripted model would say the same thing anyway).
  srv = await testServer({ model: await testModel({ seed: 3 }), parallel: 2, ctx: 256 });
});
after(() => srv.close());

const replies = async (seed: number) => {
  const r = await postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }], seed, n: 2, max_tokens: 6, temperature: 1 });
  assert.equal(r.status, 200, r.text);
  return r.json.choices.map((c: { message: { content: string } }) => c.message.content) as string[];
};

test('a seed of 2^53 or more still gives n different choices, the first as llama.cpp reads that seed', async () => {
  // llama.cpp takes the seed modulo 2^32; in JavaScript 2^53 + 1 is 2^53, so "seed + choice" once gave every choice one seed.
  const [a, b] = await replies(2 ** 53);
  assert.notEqual(a, b);
  const zero = await replies(0);
  assert.deepEqual([a, b], zero);
  // Seeds below 2^32 are as they were.
  assert.deepEqual(await replies(2 ** 32), zero);
});
