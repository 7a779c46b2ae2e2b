import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMessages } from '../../src/chat/messages.js';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { HERMES, LF_DEFAULT, LLAMA3_JSON, readTools, ToolError, type ToolFunction } from '../../src/chat/tools.js';
import { UserError } from '../../src/errors.js';

/** A hostile review: JSON nested past any stack, from a client (tools, history) or from a model (its calls). */
const WEATHER: ToolFunction = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const TOOLS = [WEATHER];
const text = (t: string) => ({ content: t, calls: [] });

/** JSON nested `depth` levels deep: {"x": {"x": … 1 …}}. */
const nested = (depth: number) => JSON.parse(`${'{"x": '.repeat(depth)}1${'}'.repeat(depth)}`) as Record<string, unknown>;

test('JSON nested past any sense is a clear error naming the field, never a stack overflow', () => {
  const deep = { type: 'object', properties: { a: nested(5000) } };
  assert.throws(() => readTools([{ type: 'function', function: { name: 'f', parameters: deep } }]), (e: unknown) => {
    assert.ok(e instanceof ToolError, String(e));
    assert.equal(e.field, 'tools[0].function.parameters');
    assert.match(e.message, /^tools\[0\]\.function\.parameters nests deeper than 64 levels; a tool's JSON Schema cannot be that deep$/);
    return true;
  });
  // 64 levels are fine: every template writes them.
  const ok = readTools([{ name: 'f', parameters: { type: 'object', properties: { a: nested(61) } } }]);
  for (const t of Object.values(NATIVE_TEMPLATES)) assert.ok(t.render([{ role: 'user', content: 'q' }], true, ok).length > 0);
  const call = (args: unknown) => [{ role: 'user', content: 'q' }, { role: 'assistant', content: null, tool_calls: [{ function: { name: 'f', arguments: args } }] }];
  for (const args of [nested(5000), `${'{"x": '.repeat(5000)}1${'}'.repeat(5000)}`]) {
    assert.throws(() => parseMessages(call(args), 'm.json'), (e: unknown) => e instanceof UserError &&
      e.message === 'm.json: message 2: tool_calls[0].function.arguments nests deeper than 64 levels; a call\'s arguments cannot be that deep');
  }
  // A model that writes such a call has written text.
  const reply = `{"name": "get_weather", "parameters": {"city": ${'['.repeat(5000)}${']'.repeat(5000)}}}`;
  assert.deepEqual(LLAMA3_JSON.parse(reply, TOOLS), text(reply));
  assert.deepEqual(HERMES.parse(`<tool_call>${reply.replace('parameters', 'arguments')}</tool_call>`, TOOLS).calls, []);
  assert.deepEqual(LF_DEFAULT.parse(`Action: get_weather\nAction Input: {"city": ${'['.repeat(5000)}${']'.repeat(5000)}}`, TOOLS).calls, []);
});

