import assert from 'node:assert/strict';
import { test } from 'node:test';
// node-llama-cpp's own lock library (its dependency, the one copy in node_modules): the context lock it decodes under.
import { acquireLock } from 'lifecycle-utils';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { promptTokens } from '../../src/chat/conversation.js';
import { loadEngine } from '../../src/engine/load.js';
import { SequencePool } from '../../src/engine/llamacpp/sequencePool.js';
import { REPLY, testModel } from '../helpers/models.js';

test('stress: concurrent overlapping prompts give the tokens sequential runs give', async () => {
  const e = await loadEngine({ modelPath: await testModel({ seed: 11 }), threads: 1, contextSize: 512, parallel: 4 });
  try {
    const sys = ['系统提示甲。'.repeat(30), '系统提示乙，不同的。'.repeat(8), '短'];
    const qs = ['你好', '写一首诗', '讲个笑话吧', '很长的问题。'.repeat(25)];
    const prompts: number[][] = [];
    for (const s of sys) for (const q of qs) prompts.push(promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'system', content: s }, { role: 'user', content: q }])));
    const run = (p: number[]) => e.generate({ prompt: p, maxTokens: 12, ignoreEndOfGeneration: true });
    const alone: number[][] = [];
    for (const p of prompts) { await e.generate({ prompt: [1, 2, 3], maxTokens: 1 }); alone.push((await run(p)).tokens); }
    for (let round = 0; round < 4; round++) {
      const order = prompts.map((_, i) => (i * 5 + round * 7) % prompts.length);
      const rs = await Promise.all(order.map(async (i, k) => {
        await new Promise((r) => setTimeout(r, (k % 5) * 3));
        return { i, r: await run(prompts[i]) };
      }));
      for (const { i, r } of rs) assert.deepEqual(r.tokens, alone[i], `round ${round} prompt ${i} (${prompts[i].length} tokens, cached ${r.usage.cachedTokens})`);
    }
  } finally {
    await e.close();
  }
});

test('a short prompt that shares only a system prompt with a long one being evaluated does not wait for all of it', async () => {
  const e = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 2048, parallel: 2 });
  try {
    const sys = '你是一个乐于助人的助手。请用中文回答所有问题，回答要简洁、准确，并在需要时给出例子。';
    const ask = (q: string) => promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'system', content: sys }, { role: 'user', content: q }]));
    const long = ask('请总结下面的文字。'.repeat(200));
    assert.ok(long.length > 1200, String(long.length));
    const events: string[] = [];
    const a = e.generate({ prompt: long, maxTokens: 1, ignoreEndOfGeneration: true, onToken: () => events.push('long') });
    await new Promise((r) => setTimeout(r, 0));
    const b = await e.generate({ prompt: ask('短问题'), maxTokens: 1, ignoreEndOfGeneration: true, onToken: () => events.push('short') });
    await a;
    // The system prompt is in the long prompt's cache after its first chunk: the short one copies it then, or
    // evaluates beside the long one's chunks; it must not wait for the whole long prompt (head-of-line blocking).
    assert.deepEqual(events, ['short', 'long']);
    assert.ok(b.usage.cachedTokens > 20, String(b.usage.cachedTokens));
  } finally {
    await e.close();
  }
});

test('an aborted request that waits for another prompt being evaluated returns at once', async () => {
  const e = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 2048, parallel: 2 });
  try {
    const long = promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: '请总结下面的文字。'.repeat(200) }]));
    const events: string[] = [];
    const a = e.generate({ prompt: long, maxTokens: 1, ignoreEndOfGeneration: true, onToken: () => events.push('long') });
    await new Promise((r) => setTimeout(r, 0));
    const ac = new AbortController();
    // The same prompt (n choices of one request): it waits for the first one's evaluation; the client leaves.
    const b = e.generate({ prompt: long, maxTokens: 1, signal: ac.signal }).then((r) => { events.push('aborted'); return r; });
    await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    assert.equal((await b).finishReason, 'abort');
    await a;
    assert.deepEqual(events, ['aborted', 'long']);
  } finally {
    await e.close();
  }
});

// The context lock is held here the way a long decode batch holds it on a busy server: the requests below queue
// behind it in this order, and nextTokenLogprobs (outside the lockstep) decodes as soon as its erase is done.
test('race: the donor is erased and refilled by another request between choosing it and the copy', async () => {
  const e = await loadEngine({ modelPath: await testModel({ seed: 11 }), threads: 1, contextSize: 512, parallel: 4 });
  const pool = (e as any).pool;
  const ctx = (e as any).context;
  try {
    const S = Array.from({ length: 80 }, (_, i) => 1000 + ((i * 7) % 50));
    const X = [...S, 2001, 2002, 2003];
    const W = [...S, 3001, 3002, 3003];
    const Y = Array.from({ length: 120 }, (_, i) => 5000 + ((i * 3) % 40));
    const Z = Array.from({ length: 30 }, (_, i) => 7000 + i);
    const bw = (await e.generate({ prompt: W, maxTokens: 8, ignoreEndOfGeneration: true })).tokens;
    for (const s of pool.all) await SequencePool.clear(s);
    const s0 = await pool.acquire([]);
    await e.generate({ prompt: X, maxTokens: 1 }); // seq1 holds X
    const s2 = pool.all[2]; pool.free.splice(pool.free.indexOf(s2), 1);
    assert.equal(pool.id(s0), 0); assert.equal(pool.id(s2), 2);
    const lock = await acquireLock([ctx, 'context']);
    const y = e.nextTokenLogprobs(Y, [5]); // seq1: its erase waits for the lock
    await new Promise((r) => setTimeout(r, 10));
    const z = e.nextTokenLogprobs(Z, [5]); // seq3: a decode batch waits for the lock
    await new Promise((r) => setTimeout(r, 10));
    pool.release(s2);
    const w = e.generate({ prompt: W, maxTokens: 8, ignoreEndOfGeneration: true }); // seq2: picks seq1 (still X) as donor
    await new Promise((r) => setTimeout(r, 10));
    lock.dispose();
    await Promise.all([y, z]);
    const r = await w;
    pool.release(s0);
    // What the copy brought that is not W's prompt is dropped: only the part of Y that W's prompt starts with counts.
    assert.deepEqual(r.tokens, bw);
    assert.equal(r.usage.cachedTokens, 0);
  } finally {
    await e.close();
  }
});
