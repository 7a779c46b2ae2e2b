import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { promptTokens } from '../../src/chat/conversation.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import { planScript } from '../../src/synth/model.js';
import { REPLY, redirectLora, testModel } from '../helpers/models.js';

const llama3 = NATIVE_TEMPLATES.llama3;
const STOPS = [TOKEN.EOT, TOKEN.END_OF_TEXT, TOKEN.START_HEADER];
let engine: Engine;

const ask = (e: Engine, q: string, system?: string) =>
  promptTokens(e, llama3.render([...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: q }]));

before(async () => {
  engine = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 512, parallel: 2 });
});
after(() => engine.close());

test('a scripted model answers exactly its reply and stops at <|eot_id|>', async () => {
  const r = await engine.generate({ prompt: ask(engine, '你是谁'), maxTokens: 100, stopTokens: STOPS });
  assert.equal(r.text, REPLY);
  assert.deepEqual(r.tokens, encode(REPLY));
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.stoppedBy, TOKEN.EOT);
  assert.equal(r.usage.completionTokens, encode(REPLY).length);
  assert.ok(r.timings.generationTokensPerSecond > 0);
});

test('one BOS: the template writes it and tokenizing does not add another', () => {
  const p = ask(engine, '你好');
  assert.equal(p.filter((t) => t === TOKEN.BOS).length, 1);
  assert.equal(p[0], TOKEN.BOS);
  // A template without BOS (chatml) gets exactly one from the tokenizer's add_bos.
  const c = promptTokens(engine, NATIVE_TEMPLATES.chatml.render([{ role: 'user', content: 'x' }]));
  assert.equal(c.filter((t) => t === TOKEN.BOS).length, 1);
});

test('the tokenizer of a synthesized model is the real Llama-3 one', () => {
  for (const s of ['你好，世界！今天天气怎么样？', 'Hello world, the quick brown fox.', '🦙🚀 emoji 😀', 'def f(x):\n    return x ** 2  # 平方', '  spaces\t\ttabs\n\nnewlines']) {
    assert.deepEqual(engine.tokenize(s), encode(s), s);
    assert.equal(engine.detokenize(encode(s)), s);
  }
  assert.deepEqual(engine.tokenize('<|start_header_id|>user<|end_header_id|>\n\n', true), [TOKEN.START_HEADER, 882, TOKEN.END_HEADER, TOKEN.BLANK_LINE]);
});

test('streamed deltas join to the reply and never hold half a character', async () => {
  const reply = '好的🦙！中文和emoji都行😀';
  const e = await loadEngine({ modelPath: await testModel({ reply }), threads: 1, contextSize: 256 });
  try {
    const deltas: string[] = [];
    const r = await e.generate({ prompt: ask(e, '试试'), maxTokens: 50, stopTokens: STOPS, onText: (d) => deltas.push(d) });
    assert.equal(r.text, reply);
    assert.equal(deltas.join(''), reply);
    assert.ok(r.tokens.length > deltas.length, 'some characters span several tokens');
    for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `broken character in ${JSON.stringify(deltas)}`);
  } finally {
    await e.close();
  }
});

test('max tokens, stop strings and abort end a reply with the right reason', async () => {
  const p = ask(engine, '你是谁');
  const short = await engine.generate({ prompt: p, maxTokens: 3, stopTokens: STOPS });
  assert.deepEqual(short.tokens, encode(REPLY).slice(0, 3));
  assert.equal(short.finishReason, 'length');

  const streamed: string[] = [];
  const cut = await engine.generate({ prompt: p, maxTokens: 100, stopTokens: STOPS, stopStrings: ['训练'], onText: (d) => streamed.push(d) });
  assert.equal(cut.text, '我是由ShareAI');
  assert.equal(streamed.join(''), '我是由ShareAI');
  assert.equal(cut.stoppedBy, '训练');

  const ac = new AbortController();
  let n = 0;
  const aborted = await engine.generate({ prompt: p, maxTokens: 100, stopTokens: STOPS, signal: ac.signal, onText: () => { if (++n === 2) ac.abort(); } });
  assert.equal(aborted.finishReason, 'abort');
  assert.ok(aborted.tokens.length >= 2 && aborted.tokens.length < encode(REPLY).length);
});

test('settings at their edges: repeat_last_n 0 turns penalties off, max tokens must be at least 1', async () => {
  const e = await loadEngine({ modelPath: await testModel({ seed: 7 }), threads: 1, contextSize: 256 });
  try {
    const q = ask(e, '重复一下：你好你好你好你好');
    // A negative presence penalty favours tokens seen before, which changes a random model's greedy output.
    const run = (repeatLastN: number) => e.generate({ prompt: q, maxTokens: 32, sampling: { presencePenalty: -2, repeatLastN } }).then((r) => r.tokens);
    const plain = (await e.generate({ prompt: q, maxTokens: 32 })).tokens;
    assert.deepEqual(await run(0), plain);
    assert.notDeepEqual(await run(64), plain, 'the penalty changes this output when it is on');
  } finally {
    await e.close();
  }
  const p = ask(engine, '你是谁');
  await assert.rejects(engine.generate({ prompt: p, maxTokens: 0 }), /max tokens must be at least 1 \(got 0\)/);
});

test('the next turn reuses the cached prefix', async () => {
  const p1 = ask(engine, '第一个问题', 'S');
  await engine.generate({ prompt: p1, maxTokens: 100, stopTokens: STOPS });
  const p2 = ask(engine, '第一个问题。再问一个', 'S');
  const r = await engine.generate({ prompt: p2, maxTokens: 100, stopTokens: STOPS });
  assert.equal(r.text, REPLY);
  const common = p1.findIndex((t, i) => p2[i] !== t);
  assert.equal(r.usage.cachedTokens, common);
});

test('a prompt longer than the context says how long and what the limit is', async () => {
  const long = promptTokens(engine, llama3.render([{ role: 'user', content: '很长的问题'.repeat(200) }]));
  await assert.rejects(engine.generate({ prompt: long, maxTokens: 10 }), new RegExp(`the prompt is ${long.length} tokens but the context holds 512`));
});

test('log-probabilities of candidate tokens', async () => {
  const p = ask(engine, '你是谁');
  const first = encode(REPLY)[0];
  const [lpFirst, lpOther, lpEot] = await engine.nextTokenLogprobs(p, [first, encode('不')[0], TOKEN.EOT]);
  // The scripted logit is 40 against 0 for the other 128255 tokens: log p ≈ -128255·e^-40 ≈ 0.
  assert.ok(Math.abs(lpFirst) < 1e-6, String(lpFirst));
  assert.ok(Math.abs(lpOther - (-40 - Math.log1p(128255 * Math.exp(-40)))) < 0.05, String(lpOther));
  assert.ok(Math.abs(lpEot - lpOther) < 1e-3);
  // Without the top token among the candidates, the normaliser must still be the whole vocabulary's.
  const [a, b] = await engine.nextTokenLogprobs(p, [encode('不')[0], TOKEN.EOT]);
  assert.ok(Math.abs(a - lpOther) < 1e-3 && Math.abs(b - lpOther) < 1e-3, `${a} ${b}`);
  // Generation on the same sequence afterwards is unaffected.
  assert.equal((await engine.generate({ prompt: p, maxTokens: 100, stopTokens: STOPS })).text, REPLY);
});

test('concurrent greedy generations give exactly the tokens sequential ones give', async () => {
  const e = await loadEngine({ modelPath: await testModel({ seed: 7 }), threads: 1, contextSize: 256, parallel: 4 });
  try {
    const prompts = ['你好', '写一首诗', 'What is 2+2?', '讲个笑话吧'].map((q) => ask(e, q));
    const run = (p: number[]) => e.generate({ prompt: p, maxTokens: 24 }).then((r) => r.tokens);
    const sequential: number[][] = [];
    for (const p of prompts) sequential.push(await run(p));
    const concurrent = await Promise.all(prompts.map(run));
    assert.deepEqual(concurrent, sequential);
    assert.equal(new Set(sequential.map((t) => t.join())).size, 4, 'distinct prompts give distinct outputs');
    assert.ok(sequential.every((t) => t.length === 24));
  } finally {
    await e.close();
  }
});

test('LoRA adapters load with a scale', async () => {
  const script = planScript(REPLY, 'eot');
  const second = encode(REPLY)[1];
  // Redirect the token after "\n\n" (axis 0) to the reply's second token: the answer loses its first token.
  const lora = await redirectLora(64, 0, second, 80);
  assert.equal(script.chain[0], TOKEN.BLANK_LINE);
  for (const [scale, expected] of [[1, REPLY.slice(1)], [0, REPLY]] as const) {
    const e = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 256, lora: [{ path: lora, scale }] });
    try {
      assert.equal((await e.generate({ prompt: ask(e, '你是谁'), maxTokens: 50, stopTokens: STOPS })).text, expected, `scale ${scale}`);
    } finally {
      await e.close();
    }
  }
});

test('a RoPE frequency base override takes effect exactly', async () => {
  const q = '请用一句话解释一下什么是旋转位置编码';
  const lp = async (path: string, ropeFreqBase?: number) => {
    const e = await loadEngine({ modelPath: path, threads: 1, contextSize: 256, ropeFreqBase });
    try { return await e.nextTokenLogprobs(ask(e, q), [0, 100, 1000, 30000]); } finally { await e.close(); }
  };
  const base = await lp(await testModel({ seed: 3 }));
  const overridden = await lp(await testModel({ seed: 3 }), 1000000);
  const native = await lp(await testModel({ seed: 3, ropeFreqBase: 1000000 }));
  assert.notDeepEqual(overridden, base);
  overridden.forEach((v, i) => assert.ok(Math.abs(v - native[i]) < 1e-4, `${v} vs ${native[i]}`));
});
