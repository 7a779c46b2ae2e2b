import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Message, Ollama } from 'ollama';
import type { RunningServer } from '../../src/server/start.js';
import { testServer } from '../helpers/server.js';
import { CALL_ARGS, FINAL, openaiTools, PREAMBLE, PREAMBLE_WORD, RESULT, TIME, WEATHER, weatherModel } from '../helpers/toolModels.js';

/** The ollama client calls tools on this server, streamed and not, and sends the result back as ollama's docs show. */

let srv: RunningServer;
let ollama: Ollama;

before(async () => {
  srv = await testServer({ model: await weatherModel(), parallel: 2 });
  ollama = new Ollama({ host: srv.url });
});
after(() => srv.close());

const question: Message[] = [{ role: 'user', content: '北京天气怎么样？' }];
const tools = openaiTools(WEATHER, TIME);

test('ollama client: the call with its arguments as an object; the result as a tool message; the final answer', async () => {
  const r = await ollama.chat({ model: 'scripted', messages: question, tools, stream: false });
  assert.equal(r.done_reason, 'stop');
  assert.equal(r.message.content, '');
  assert.deepEqual(r.message.tool_calls?.map((c) => c.function), [{ index: 0, name: 'get_weather', arguments: CALL_ARGS }]);
  const second = await ollama.chat({
    model: 'scripted', tools, stream: false,
    messages: [...question, r.message, { role: 'tool', content: RESULT, tool_name: 'get_weather' }],
  });
  assert.equal(second.message.content, FINAL);
  assert.equal(second.message.tool_calls, undefined);
});

test('ollama client streamed: content before the call, the call in one piece, then done', async () => {
  const stream = await ollama.chat({ model: 'scripted', messages: [{ role: 'user', content: PREAMBLE_WORD }], tools, stream: true });
  let content = '';
  const calls: unknown[] = [];
  let done = 0;
  for await (const part of stream) {
    content += part.message.content;
    calls.push(...(part.message.tool_calls ?? []).map((c) => c.function));
    if (part.done) done++;
  }
  assert.equal(content, PREAMBLE);
  assert.deepEqual(calls, [{ index: 0, name: 'get_weather', arguments: CALL_ARGS }]);
  assert.equal(done, 1);
});

test('ollama client: a whole tool loop, streamed, as an agent runs it', async () => {
  const messages: Message[] = [...question];
  const answers: string[] = [];
  for (let turn = 0; turn < 3; turn++) {
    let content = '';
    const calls: Message['tool_calls'] = [];
    for await (const part of await ollama.chat({ model: 'scripted', messages, tools, stream: true })) {
      content += part.message.content;
      calls.push(...(part.message.tool_calls ?? []));
    }
    messages.push({ role: 'assistant', content, tool_calls: calls });
    if (!calls.length) { answers.push(content); break; }
    for (const c of calls) messages.push({ role: 'tool', content: c.function.name === 'get_weather' ? RESULT : '?', tool_name: c.function.name });
  }
  assert.deepEqual(answers, [FINAL]);
  assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant']);
});
