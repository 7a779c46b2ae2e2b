import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildPrompt } from '../../src/chat/conversation.js';
import { messagesJson } from '../../src/chat/messageJson.js';
import { parseMessages, type Message } from '../../src/chat/messages.js';
import { chatModel, type ChatModel } from '../../src/chat/model.js';
import { localReplier } from '../../src/chat/localReplier.js';
import { ChatSession } from '../../src/chat/session.js';
import { DEMO_DEFAULTS } from '../../src/chat/settings.js';
import { readTools } from '../../src/chat/tools.js';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { CALL, CALL_ARGS, FINAL, PREAMBLE, PREAMBLE_WORD, RESULT, weatherModel, WEATHER } from '../helpers/toolModels.js';

/**
 * The terminal chat's tool loop without a terminal: a scripted model whose reply is a Llama-3 JSON call of
 * get_weather (CALL), and, once the conversation holds the tool's result "snow", the final answer FINAL.
 */

let engine: Engine;
let model: ChatModel;
const tools = readTools([WEATHER]);
const greedy = { ...DEMO_DEFAULTS, temperature: 0 };
const CALL_ID = /^call_[A-Za-z0-9]{24}$/;

before(async () => {
  engine = await loadEngine({ modelPath: await weatherModel(), threads: 1, contextSize: 512 });
  model = chatModel(engine, { templateName: 'llama3' });
});
after(() => engine.close());

test('a reply that calls a tool is a call, shown as nothing of its raw JSON; the result brings the final answer', async () => {
  const s = new ChatSession(localReplier(model), greedy, undefined, [], tools);
  const shown: string[] = [];
  const a = await s.ask('北京今天天气怎么样？', { onText: (d) => shown.push(d) });
  assert.equal(a.text, CALL);
  assert.equal(a.content, '');
  assert.equal(a.toolCalls.length, 1);
  assert.match(a.toolCalls[0].id, CALL_ID);
  assert.deepEqual({ ...a.toolCalls[0], id: 'x' }, { id: 'x', name: 'get_weather', arguments: CALL_ARGS });
  assert.equal(shown.length, 0, 'text that may be a call is held back, and a call is never text');
  assert.deepEqual(s.pendingCalls(), a.toolCalls);
  assert.deepEqual(s.turns, [{ role: 'user', content: '北京今天天气怎么样？' }, { role: 'assistant', content: '', toolCalls: a.toolCalls }]);

  const b = await s.answerCalls([RESULT], { onText: (d) => shown.push(d) });
  assert.equal(b.text, FINAL);
  assert.equal(b.content, FINAL);
  assert.deepEqual(b.toolCalls, []);
  assert.equal(shown.join(''), FINAL);
  assert.deepEqual(s.pendingCalls(), []);
  assert.deepEqual(s.turns.slice(2), [
    { role: 'tool', content: RESULT, toolCallId: a.toolCalls[0].id, name: 'get_weather' },
    { role: 'assistant', content: FINAL },
  ]);
});

test('text before a call is the reply\'s content, streamed; the call is not', async () => {
  const s = new ChatSession(localReplier(model), greedy, undefined, [], tools);
  let shown = '';
  const a = await s.ask(`${PREAMBLE_WORD}?`, { onText: (d) => (shown += d) });
  assert.equal(a.text, PREAMBLE + CALL);
  assert.equal(a.content, PREAMBLE);
  assert.equal(shown, PREAMBLE);
  assert.deepEqual(a.toolCalls.map((c) => c.name), ['get_weather']);
});

test('a reply cut short by max_tokens is text, shown at its end: it may be half a call', async () => {
  const s = new ChatSession(localReplier(model), { ...greedy, maxTokens: 5 }, undefined, [], tools);
  let shown = '';
  const a = await s.ask('北京今天天气怎么样？', { onText: (d) => (shown += d) });
  assert.equal(a.finishReason, 'length');
  assert.ok(CALL.startsWith(a.text) && a.text.length < CALL.length, a.text);
  assert.deepEqual([a.content, shown, a.toolCalls], [a.text, a.text, []]);
  assert.deepEqual(s.pendingCalls(), []);
});

test('without tools nothing is parsed: the call is the reply\'s text', async () => {
  const s = new ChatSession(localReplier(model), greedy, undefined);
  let shown = '';
  const a = await s.ask('北京今天天气怎么样？', { onText: (d) => (shown += d) });
  assert.equal(a.content, CALL);
  assert.equal(shown, CALL);
  assert.deepEqual(a.toolCalls, []);
  assert.deepEqual(s.turns.at(-1), { role: 'assistant', content: CALL });
});

test('cancelling the calls takes them and their unanswered question out; a new question does the same', async () => {
  const s = new ChatSession(localReplier(model), greedy, undefined, [], tools);
  await s.ask('北京今天天气怎么样？');
  s.cancelCalls();
  assert.equal(s.turns.length, 0);
  await s.ask('北京今天天气怎么样？');
  await s.ask('上海呢？');
  assert.deepEqual(s.turns.map((m) => [m.role, m.content]), [['user', '上海呢？'], ['assistant', '']]);
  await assert.rejects(s.answerCalls(['a', 'b']), /1 tool call is waiting for a result, not 2/);
  s.cancelCalls();
  assert.deepEqual(s.turns, []);
  await assert.rejects(s.answerCalls([RESULT]), /no tool call is waiting for a result/);
  // What the reply said before its call stays, and so does its question.
  await s.ask(`${PREAMBLE_WORD}?`);
  s.cancelCalls();
  assert.deepEqual(s.turns, [{ role: 'user', content: `${PREAMBLE_WORD}?` }, { role: 'assistant', content: PREAMBLE }]);
});

test('a saved conversation with calls and results loads back exactly (OpenAI\'s shape, arguments a JSON string)', async () => {
  const s = new ChatSession(localReplier(model), greedy, undefined, [], tools);
  await s.ask(`${PREAMBLE_WORD}?`);
  await s.answerCalls([RESULT]);
  const json = messagesJson(s.turns);
  const id = s.turns[1].toolCalls![0].id;
  assert.deepEqual(json.slice(1, 3), [
    { role: 'assistant', content: PREAMBLE, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Beijing"}' } }] },
    { role: 'tool', tool_call_id: id, name: 'get_weather', content: RESULT },
  ]);
  assert.deepEqual(parseMessages(JSON.parse(JSON.stringify(json)), 'saved.json'), s.turns);
  const callOnly: Message[] = [{ role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: {} }] }];
  assert.equal(messagesJson(callOnly)[0].content, null);
  assert.deepEqual(parseMessages(messagesJson(callOnly), 'x'), callOnly);
});

test('trimming the history never splits a call from its result: whole rounds go, the tools count too', async () => {
  const turns: Message[] = [];
  for (let i = 0; i < 6; i++) {
    const id = `call_${i}`;
    turns.push(
      { role: 'user', content: `第${i}个城市的天气怎么样？`.repeat(3) },
      { role: 'assistant', content: '', toolCalls: [{ id, name: 'get_weather', arguments: { city: `城市${i}` } }] },
      { role: 'tool', content: '晴，二十五度，东南风三级。'.repeat(2), toolCallId: id, name: 'get_weather' },
      { role: 'assistant', content: `${i}` },
    );
  }
  turns.push({ role: 'user', content: '最后' });
  const o = { maxRounds: 100, reserve: 64 };
  const plain = buildPrompt(engine, model.template, 'S', turns, o);
  const withTools = buildPrompt(engine, model.template, 'S', turns, { ...o, tools });
  assert.ok(withTools.droppedToFit > plain.droppedToFit, `the tools take room: ${plain.droppedToFit} → ${withTools.droppedToFit}`);
  for (const b of [plain, withTools]) {
    assert.ok(b.droppedToFit > 0 && b.droppedToFit < 6, String(b.droppedToFit));
    // System, then whole rounds of four: a question, its call, the result, the answer.
    assert.equal((b.messages.length - 2) % 4, 0, b.messages.map((m) => m.role).join(' '));
    assert.deepEqual(b.messages.slice(1, 5).map((m) => m.role), ['user', 'assistant', 'tool', 'assistant']);
    assert.equal(b.messages[2].toolCalls![0].id, b.messages[3].toolCallId);
  }
});
