import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningServer } from '../../src/server/start.js';
import { postJson, streamLines, testServer } from '../helpers/server.js';
import { CALL, CALL_ARGS, FINAL, openaiTools, PREAMBLE, PREAMBLE_WORD, RESULT, TIME, WEATHER, weatherModel } from '../helpers/toolModels.js';

/** Function calling on ollama's /api/chat, in the shapes ollama's server (0.12.10 and later) answers with. */

let srv: RunningServer;

before(async () => {
  srv = await testServer({ model: await weatherModel(), parallel: 2 });
});
after(() => srv.close());

const user = (content: string) => [{ role: 'user', content }];
const chat = (body: Record<string, unknown>) => postJson(`${srv.url}/api/chat`, { model: 'scripted', messages: user('北京天气怎么样？'), tools: openaiTools(WEATHER), stream: false, ...body });

function assertCalls(message: any) {
  assert.equal(message.role, 'assistant');
  assert.equal(message.tool_calls.length, 1);
  const [call] = message.tool_calls;
  assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
  assert.deepEqual(call.function, { index: 0, name: 'get_weather', arguments: CALL_ARGS });
}

test('/api/chat: the call as message.tool_calls with the arguments as an object, content "", done_reason "stop"', async () => {
  const r = await chat({});
  assert.equal(r.status, 200, r.text);
  assertCalls(r.json.message);
  assert.equal(r.json.message.content, '');
  assert.equal(r.json.done, true);
  assert.equal(r.json.done_reason, 'stop');
  const preamble = await chat({ messages: user(PREAMBLE_WORD) });
  assertCalls(preamble.json.message);
  assert.equal(preamble.json.message.content, PREAMBLE);
});

test('/api/chat: no tools, or none of the called function, and the call is text', async () => {
  for (const tools of [undefined, [], openaiTools(TIME)]) {
    const r = await chat({ tools });
    assert.deepEqual(r.json.message, { role: 'assistant', content: CALL });
  }
});

test('/api/chat streamed: the call in a piece of its own (content ""), then the done piece', async () => {
  const res = await fetch(`${srv.url}/api/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'scripted', messages: user(PREAMBLE_WORD), tools: openaiTools(WEATHER) }),
  });
  const pieces: any[] = [];
  for await (const l of streamLines(res)) pieces.push(JSON.parse(l));
  const last = pieces.at(-1);
  assert.equal(last.done, true);
  assert.equal(last.done_reason, 'stop');
  assert.deepEqual(last.message, { role: 'assistant', content: '' });
  const withCalls = pieces.filter((p) => p.message.tool_calls);
  assert.equal(withCalls.length, 1);
  assert.equal(withCalls[0].done, false);
  assert.equal(withCalls[0].message.content, '');
  assertCalls(withCalls[0].message);
  assert.equal(pieces.map((p) => p.message.content).join(''), PREAMBLE);
});

test('/api/chat second turn: the result as ollama\'s clients send it (tool_name, no id), and the final answer', async () => {
  const first = await chat({});
  const r = await chat({ messages: [...user('北京天气怎么样？'), first.json.message, { role: 'tool', content: RESULT, tool_name: 'get_weather' }] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.message, { role: 'assistant', content: FINAL });
  // ollama's older calls had no id; the call's id is optional here, and its arguments an object or a JSON string.
  const old = await chat({ messages: [...user('北京天气怎么样？'), { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: CALL_ARGS } }] }, { role: 'tool', content: RESULT }] });
  assert.deepEqual(old.json.message, { role: 'assistant', content: FINAL });
});

test('/api/chat bad tools and tool messages: 400 with ollama\'s error body; the server keeps serving', async () => {
  // ollama's error body is {"error": message}: the message names the field.
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ tools: [{ type: 'function', function: { description: 'no name' } }] }, 'tools[0].function.name'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: 'object' } }] }, 'tools[0].function.parameters'],
    [{ messages: [...user('x'), { role: 'tool', content: RESULT }] }, 'messages[1]'],
    [{ messages: [...user('x'), { role: 'tool', content: RESULT, tool_call_id: 'call_x' }] }, 'messages[1] is a tool result for the call "call_x"'],
    [{ messages: [...user('x'), { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: 'city=Beijing' } }] }] }, 'messages[1].tool_calls[0].function.arguments'],
  ];
  for (const [body, field] of cases) {
    const r = await chat(body);
    assert.equal(r.status, 400, r.text);
    assert.equal(typeof r.json.error, 'string');
    assert.ok(r.json.error.includes(field), r.text);
  }
  assertCalls((await chat({})).json.message);
});

test('/api/show says the model can call tools', async () => {
  const r = await postJson(`${srv.url}/api/show`, { model: 'scripted' });
  assert.deepEqual(r.json.capabilities, ['completion', 'tools']);
});
