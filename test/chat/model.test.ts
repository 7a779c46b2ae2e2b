import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chatModel, promptOf } from '../../src/chat/model.js';
import { chatTokens, promptTokens, textTokens } from '../../src/chat/tokens.js';
import { loadEngine } from '../../src/engine/load.js';
import { checkFits, ContextOverflowError, contextOverflow } from '../../src/engine/errors.js';
import type { Engine } from '../../src/engine/types.js';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import { REPLY, testModel } from '../helpers/models.js';

let engine: Engine;
before(async () => {
  engine = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 64 });
});
after(() => engine.close());

test('chatModel: the template from the GGUF, a name or a file; its stops split into token ids and texts', () => {
  const detected = chatModel(engine);
  assert.equal(detected.template.name, 'llama3');
  assert.deepEqual(detected.stopTokens, [TOKEN.EOT, TOKEN.END_OF_TEXT, TOKEN.START_HEADER]);
  assert.deepEqual(detected.stopStrings, []);
  // ChatML's <|im_end|> is no token of the Llama-3 vocabulary: it can only be matched as text.
  const chatml = chatModel(engine, { templateName: 'chatml', demoNotice: 'demo' });
  assert.deepEqual([chatml.template.name, chatml.stopTokens, chatml.stopStrings, chatml.demoNotice],
    ['chatml', [TOKEN.EOT, TOKEN.END_OF_TEXT], ['<|im_end|>'], 'demo']);
  assert.equal(chatModel(engine, { templateName: 'chatml', templateSource: '{{ "F" }}' }).template.name, 'jinja (file)');
  assert.throws(() => chatModel(engine, { templateName: 'llama2' }), /unknown template "llama2"/);
});

test('promptOf: conversations, raw prompts and plain text, each as tokens.ts reads it', () => {
  const m = chatModel(engine);
  const messages = [{ role: 'user' as const, content: 'hi <|eot_id|>' }];
  assert.deepEqual(promptOf(m, { messages }), chatTokens(engine, m.template, messages));
  assert.deepEqual(promptOf(m, { prompt: 'a<|eot_id|>' }), promptTokens(engine, 'a<|eot_id|>'));
  assert.deepEqual(promptOf(m, { text: 'a<|eot_id|>' }), textTokens(engine, 'a<|eot_id|>'));
  assert.deepEqual(promptOf(m, { prompt: 'a<|eot_id|>' }), [TOKEN.BOS, ...engine.tokenize('a', false), TOKEN.EOT]);
});

test('one context-fit rule: a prompt must leave a place for the reply', () => {
  assert.equal(contextOverflow({ contextSize: 64, trainContextSize: 64 }, 63), undefined);
  const e = contextOverflow({ contextSize: 64, trainContextSize: 8192 }, 64)!;
  assert.ok(e instanceof ContextOverflowError);
  assert.equal(e.message, 'the prompt is 64 tokens but the context holds 64; shorten the prompt or raise --ctx-size (the model was trained for 8192)');
  assert.deepEqual([e.promptTokens, e.contextSize], [64, 64]);
  const ctx = engine.info.contextSize;
  assert.throws(() => checkFits(engine.info, ctx), new RegExp(`the prompt is ${ctx} tokens but the context holds ${ctx}; shorten the prompt or raise --ctx-size`));
  assert.doesNotThrow(() => checkFits(engine.info, ctx - 1));
});
