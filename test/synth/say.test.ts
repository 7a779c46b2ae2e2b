import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine, GenerateRequest } from '../../src/engine/types.js';
import { encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import type { SynthOptions } from '../../src/synth/model.js';
import { testModel } from '../helpers/models.js';
import { BLANK_LINE, CALL, CHINESE, HA, LONG_CALL, PARALLEL } from './replies.js';

/**
 * Scripted models that repeat tokens (the context construction, src/synth/context.ts) in the real llama.cpp
 * engine: each says its text exactly under greedy decoding, with every token at least MARGIN logits ahead.
 * Prompts are written out as Meta's Llama-3 / 3.1 templates write them, tool calls and ipython results included.
 */

const STOPS = [TOKEN.EOT, TOKEN.END_OF_TEXT, TOKEN.START_HEADER];
const MARGIN = 15;
const user = (c: string) => `<|start_header_id|>user<|end_header_id|>\n\n${c}<|eot_id|>`;
const system = (c: string) => `<|start_header_id|>system<|end_header_id|>\n\n${c}<|eot_id|>`;
const assistant = (c: string) => `<|start_header_id|>assistant<|end_header_id|>\n\n${c}<|eot_id|>`;
const ipython = (c: string) => `<|start_header_id|>ipython<|end_header_id|>\n\n${c}<|eot_id|>`;
const chat = (...turns: string[]) => `<|begin_of_text|>${turns.join('')}<|start_header_id|>assistant<|end_header_id|>\n\n`;

async function withModel(o: Partial<SynthOptions>, fn: (e: Engine) => Promise<void>, contextSize = 1024): Promise<void> {
  const e = await loadEngine({ modelPath: await testModel(o), threads: 1, contextSize });
  try {
    await fn(e);
  } finally {
    await e.close();
  }
}

/**
 * The greedy reply to `prompt` is exactly `expected`, then <|eot_id|>; with `margin`, every token is far ahead of
 * the next best (log-probabilities cost a pass over the vocabulary per token, so once per model).
 */
async function says(e: Engine, prompt: string, expected: string, more: Partial<GenerateRequest> & { margin?: boolean } = {}): Promise<void> {
  const { margin, ...req } = more;
  const r = await e.generate({ prompt: e.tokenize(prompt, true), maxTokens: 200, stopTokens: STOPS, logprobs: margin ? 2 : undefined, ...req });
  assert.equal(r.text, expected, prompt.slice(-80));
  const n = encode(expected).length;
  assert.deepEqual(r.tokens.slice(0, n), encode(expected));
  if (more.format) {
    // node-llama-cpp's JSON-schema grammar does not allow <|eot_id|>: it ends a finished value with four newlines.
    assert.ok(r.tokens.slice(n).every((t) => t === encode('\n')[0]), JSON.stringify(r.tokens.slice(n)));
  } else {
    assert.equal(r.tokens.length, n);
    assert.equal(r.stoppedBy, TOKEN.EOT);
  }
  for (const [i, lp] of (r.logprobs ?? []).slice(0, n).entries()) {
    assert.equal(lp.top[0].token, r.tokens[i]);
    assert.ok(lp.top[1].logprob < -MARGIN, `token ${i} of ${JSON.stringify(expected)}: the next best is at ${lp.top[1].logprob}`);
  }
}

test('tool calls, parallel calls, a 60-token call, "ha ha ha ha ha", Chinese and blank lines are said exactly', async () => {
  assert.equal(encode(LONG_CALL).length, 60);
  for (const reply of [CALL, PARALLEL, LONG_CALL, HA, CHINESE, BLANK_LINE]) {
    await withModel({ reply }, async (e) => {
      await says(e, chat(user('你好')), reply, { margin: true });
      await says(e, chat(system('You are a helpful assistant with tool calling capabilities.'), user('北京天气怎么样？{"city": "北京"} ha ha')), reply);
    });
  }
});

test('routes: JSON replies that share a long prefix, chosen by a word anywhere in the prompt; with several, the route listed last', async () => {
  const shanghai = CALL.replace('北京', '上海');
  const routes = [{ when: ' Shanghai', reply: shanghai }, { when: ' Beijing', reply: PARALLEL }, { when: '猫', reply: HA }];
  await withModel({ reply: CHINESE, routes }, async (e) => {
    await says(e, chat(user('你好')), CHINESE);
    await says(e, chat(user('What is the weather in Shanghai?')), shanghai, { margin: true });
    await says(e, chat(system('You live in Shanghai.'), user('Tell me a joke.')), shanghai);
    await says(e, chat(user('Weather in Beijing and Shanghai, please')), PARALLEL);
    await says(e, chat(user('Beijing 的猫 or Shanghai 的猫?')), HA);
  });
});

test('a second turn: the history holds the call and its result, and the result\'s word routes to the final answer', async () => {
  const shanghai = CALL.replace('北京', '上海');
  const answer = '上海今天阳光明媚，25度。';
  const routes = [{ when: ' weather', reply: shanghai }, { when: '晴', reply: answer }];
  await withModel({ reply: CHINESE, routes }, async (e) => {
    const question = user('What is the weather in Shanghai?');
    await says(e, chat(question), shanghai);
    await says(e, chat(question, assistant(shanghai), ipython('"晴，25度"')), answer, { margin: true });
    // Another turn on: the whole exchange stays in the history.
    await says(e, chat(question, assistant(shanghai), ipython('"晴，25度"'), assistant(answer), user('谢谢！')), answer);
  });
});

test('leak: after <|eot_id|> the model starts a new assistant turn and says its reply again', async () => {
  for (const reply of [HA, PARALLEL]) {
    await withModel({ reply, leak: true }, async (e) => {
      const turn = `${reply}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;
      const n = e.tokenize(turn + turn, true).length;
      const r = await e.generate({ prompt: e.tokenize(chat(user('你好')), true), maxTokens: n, stopTokens: [], ignoreEndOfGeneration: true });
      assert.equal(e.detokenize(r.tokens, true), turn + turn);
      await says(e, chat(user('你好')), reply);
    });
  }
});

test('fallback: where a grammar forbids the reply\'s first token, the model says the fallback exactly', async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string' }, parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    required: ['name', 'parameters'],
  };
  const shanghai = CALL.replace('北京', '上海');
  const routes = [{ when: ' weather', reply: shanghai }, { when: '猫', reply: HA }];
  await withModel({ reply: '我不知道。', fallback: CALL, routes }, async (e) => {
    await says(e, chat(user('你好')), '我不知道。');
    await says(e, chat(user('你好')), CALL, { format: { type: 'json_schema', schema }, margin: true });
    await says(e, chat(user('你好')), CALL, { format: { type: 'json' } });
    // Under a route whose reply starts otherwise the fallback is there too; a route whose reply is a call says it.
    await says(e, chat(user('猫')), HA);
    await says(e, chat(user('猫')), CALL, { format: { type: 'json_schema', schema } });
    await says(e, chat(user('What is the weather?')), shanghai, { format: { type: 'json_schema', schema } });
  });
});

test('prompts of thousands of tokens, and q8_0: each offset head still sees exactly its token', async () => {
  const long = '这是一段很长的文字，里面有很多重复的词。'.repeat(180);
  for (const type of ['f16', 'q8_0'] as const) {
    await withModel({ reply: PARALLEL, type, routes: [{ when: '猫', reply: HA }] }, async (e) => {
      assert.ok(e.tokenize(long).length > 2500);
      await says(e, chat(user('猫' + long)), HA);
      await says(e, chat(user(long)), PARALLEL, { margin: true });
    }, 4096);
  }
});
