import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { promptTokens } from '../../src/chat/conversation.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import { REPLY, testModel } from '../helpers/models.js';

const llama3 = NATIVE_TEMPLATES.llama3;
const STOPS = [TOKEN.EOT, TOKEN.END_OF_TEXT, TOKEN.START_HEADER];
const SYSTEM = '你是一个乐于助人的助手。请用中文回答所有问题，回答要简洁、准确，并在需要时给出例子。';
let engine: Engine;

const ask = (e: Engine, q: string, system = SYSTEM) =>
  promptTokens(e, llama3.render([{ role: 'system', content: system }, { role: 'user', content: q }]));
const common = (a: number[], b: number[]) => { let i = 0; while (i < a.length && a[i] === b[i]) i++; return i; };

before(async () => {
  engine = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 512, parallel: 3 });
});
after(() => engine.close());

test('n requests for one prompt at once: one evaluates it, the others copy its cache and reply the same', async () => {
  const p = ask(engine, '同一个问题，问三次');
  const rs = await Promise.all([0, 1, 2].map(() => engine.generate({ prompt: p, maxTokens: 100, stopTokens: STOPS })));
  for (const r of rs) assert.equal(r.text, REPLY);
  // One of them had nothing cached; each of the other two got all of the prompt but the last token from it.
  assert.deepEqual(rs.map((r) => r.usage.cachedTokens).sort((a, b) => a - b), [0, p.length - 1, p.length - 1]);
});

test('a new conversation with the same system prompt copies it from the sequence that holds it, even a busy one', async () => {
  const first = ask(engine, '第一个对话');
  // The first conversation is still generating (a long reply: the end of generation is ignored) when the second starts.
  const busy = engine.generate({ prompt: first, maxTokens: 60, ignoreEndOfGeneration: true });
  await new Promise((r) => setTimeout(r, 50));
  const second = ask(engine, '另一个完全不同的对话');
  const r = await engine.generate({ prompt: second, maxTokens: 100, stopTokens: STOPS });
  assert.equal(r.text, REPLY);
  assert.equal(r.usage.cachedTokens, common(first, second));
  assert.ok(r.usage.cachedTokens > 20, `the system prompt is shared: ${r.usage.cachedTokens} tokens`);
  assert.equal((await busy).tokens.length, 60);
});

test('prompts that share only a few tokens are evaluated, not copied', async () => {
  const a = ask(engine, '短', '甲');
  const b = ask(engine, '短', '乙');
  assert.ok(common(a, b) < 16);
  const [ra, rb] = await Promise.all([a, b].map((p) => engine.generate({ prompt: p, maxTokens: 100, stopTokens: STOPS })));
  assert.equal(ra.text, REPLY);
  assert.equal(rb.text, REPLY);
  assert.ok(rb.usage.cachedTokens < 16 && ra.usage.cachedTokens < 16, `${ra.usage.cachedTokens} ${rb.usage.cachedTokens}`);
});

test('copied caches give exactly the tokens evaluated ones give (a random model, no margins to hide behind)', async () => {
  const e = await loadEngine({ modelPath: await testModel({ seed: 11 }), threads: 1, contextSize: 256, parallel: 3 });
  try {
    const prompts = ['你好', '写一首诗', '讲个笑话吧'].map((q) => ask(e, q));
    const run = (p: number[]) => e.generate({ prompt: p, maxTokens: 20 }).then((r) => ({ tokens: r.tokens, cached: r.usage.cachedTokens }));
    // Each alone on a fresh engine state: evaluated from its own cache only.
    const alone = [];
    for (const p of prompts) { await e.generate({ prompt: ask(e, '清空', '无关'), maxTokens: 1 }); alone.push((await run(p)).tokens); }
    const together = await Promise.all(prompts.map(run));
    assert.deepEqual(together.map((t) => t.tokens), alone);
    const again = await Promise.all(prompts.map(run));
    assert.deepEqual(again.map((t) => t.tokens), alone);
    assert.ok(again.every((t) => t.cached >= common(prompts[0], prompts[1])), JSON.stringify(again.map((t) => t.cached)));
  } finally {
    await e.close();
  }
});

test('log-probabilities from a copied cache equal those from an evaluated one', async () => {
  const p = ask(engine, '打分用的问题');
  const cand = [TOKEN.EOT, 1000, 2000];
  const fresh = await engine.nextTokenLogprobs(p, cand, { reuseCache: false });
  const [a, b] = await Promise.all([engine.nextTokenLogprobs(p, cand), engine.nextTokenLogprobs(p, cand)]);
  for (const x of [a, b]) x.forEach((v, i) => assert.ok(Math.abs(v - fresh[i]) < 1e-4, `${v} vs ${fresh[i]}`));
});
