import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatModel } from '../../src/chat/model.js';
import { HERMES, LLAMA3_JSON, type ToolCallSyntax, type ToolRequest } from '../../src/chat/tools.js';
import { type Piece, ReplyTools } from '../../src/server/tools.js';

/** The streamed hold-back (server/tools.ts ReplyTools) on its own: what goes out as content, and when. */

const WEATHER = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
const auto: ToolRequest = { tools: [WEATHER], choice: 'auto', parallel: true };
const modelWith = (toolSyntax: ToolCallSyntax) => ({ template: { toolSyntax } }) as unknown as ChatModel;

/** Deltas in; the content that went out after each, and the end. */
function run(syntax: ToolCallSyntax, deltas: string[]) {
  const r = new ReplyTools(modelWith(syntax), auto);
  const out = deltas.map((d) => r.push(d, [])?.text ?? null);
  const end = r.end(deltas.join(''));
  return { out, rest: end.rest?.text ?? null, reply: end.reply };
}

test('text goes out until a call may start; the call is held and parsed; nothing of it is content', () => {
  const { out, rest, reply } = run(LLAMA3_JSON, ['Let', ' me', ' check.', '{"', 'name', '": "get_weather", "parameters": {"city": "北京"}}']);
  assert.deepEqual(out, ['Let', ' me', ' check.', null, null, null]);
  assert.equal(rest, null);
  assert.deepEqual(reply.calls.map((c) => [c.name, c.arguments]), [['get_weather', { city: '北京' }]]);
  assert.equal(reply.content, 'Let me check.');
});

test('held text that turns out to be no call goes out as soon as it is not one, or at the end', () => {
  const code = run(LLAMA3_JSON, ['x = ', '{', 'a: 1', '}', ' done']);
  assert.deepEqual(code.out, ['x = ', null, '{a: 1', '}', ' done']);
  assert.deepEqual(code.reply, { content: 'x = {a: 1} done', calls: [] });
  // A call of a function that was not offered is text: sent as soon as its name is none of the tools'.
  const other = run(LLAMA3_JSON, ['{"name": "launch", ', '"parameters": {}}']);
  assert.deepEqual(other.out, ['{"name": "launch", ', '"parameters": {}}']);
  assert.equal(other.rest, null);
  assert.deepEqual(other.reply.calls, []);
  // One whose name may still grow into a tool's is held until the reply says otherwise.
  const partial = run(LLAMA3_JSON, ['{"name": "get_', 'weather_now", ', '"parameters": {}}']);
  assert.deepEqual(partial.out, [null, '{"name": "get_weather_now", ', '"parameters": {}}']);
  const hermes = run(HERMES, ['好的', '<tool', '_call>', '\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>']);
  assert.deepEqual(hermes.out, ['好的', null, null, null]);
  assert.deepEqual(hermes.reply.calls.map((c) => c.name), ['get_weather']);
  // The syntax says whether the text may be a call, not where one would start: a delta is held whole.
  const notTag = run(HERMES, ['a <to', 'y> b']);
  assert.deepEqual(notTag.out, [null, 'a <toy> b']);
});

test('each token asks about the text not yet sent, not the whole reply again', () => {
  let asked = 0;
  const counting: ToolCallSyntax = { ...LLAMA3_JSON, mayBeCall: (t) => { asked += t.length; return LLAMA3_JSON.mayBeCall(t); } };
  const deltas = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? ' { if (x) ' : 'y(); } '));
  const { reply } = run(counting, deltas);
  const length = deltas.join('').length;
  assert.equal(reply.content, deltas.join(''));
  assert.ok(asked < 4 * length, `asked about ${asked} characters for a reply of ${length}`);
});

test('the rest of a held reply keeps its log-probabilities when no call took them', () => {
  const r = new ReplyTools(modelWith(LLAMA3_JSON), auto);
  const lp = (token: number) => ({ token, logprob: -0.5, top: [] });
  const pieces: Array<Piece | undefined> = [r.push('{"na', [lp(1)]), r.push('me": "get_w', [lp(2)])];
  assert.deepEqual(pieces, [undefined, undefined]);
  assert.deepEqual(r.end('{"name": "get_w').rest, { text: '{"name": "get_w', logprobs: [lp(1), lp(2)] });
});
