import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultCalls, hermesCall, llama3Calls } from '../../src/chat/toolCalls/toolPrompts.js';
import { HERMES, LF_DEFAULT, LLAMA3_JSON, type ToolCallSyntax, type ToolFunction } from '../../src/chat/tools.js';

/**
 * A hostile review of the tool core: what real Llama-3 / Hermes fine-tunes write that llama.cpp's and vLLM's parsers
 * read as calls, streaming (mayBeCall) against the final parse, and long adversarial replies.
 */
const WEATHER: ToolFunction = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const TIME: ToolFunction = { name: 'get_time', parameters: { type: 'object', properties: {} } };
const TOOLS = [WEATHER, TIME];
const weather = (city: string) => ({ name: 'get_weather', arguments: { city } });
const text = (t: string) => ({ content: t, calls: [] });

test('LLAMA3_JSON: a call in a ```json fence is a call (fine-tunes write one now and then; llama.cpp reads it)', () => {
  const call = '{"name": "get_weather", "parameters": {"city": "北京"}}';
  // A model stopped before the closing fence wrote the call all the same.
  for (const t of [`\`\`\`json\n${call}\n\`\`\``, `\`\`\`\n${call}\n\`\`\`\n`, ` \`\`\`json ${call}\`\`\``, `\`\`\`json\n${call}`]) {
    assert.deepEqual(LLAMA3_JSON.parse(t, TOOLS), { content: '', calls: [weather('北京')] }, t);
  }
  assert.deepEqual(LLAMA3_JSON.parse(`我来查一下。\n\`\`\`json\n${call}\n\`\`\``, TOOLS), { content: '我来查一下。', calls: [weather('北京')] });
  // A fence around what is not exactly a call, or with text after it, stays text.
  for (const t of [`\`\`\`json\n{"name": "Alice", "parameters": {}}\n\`\`\``, `\`\`\`json\n${call}\n\`\`\`\n这就是调用的格式。`, `\`\`\`json\n${call}\n\``]) {
    assert.deepEqual(LLAMA3_JSON.parse(t, TOOLS), text(t), t);
  }
});

test('HERMES: calls followed by text are calls, the text after them content (as llama.cpp\'s and vLLM\'s Hermes parsers read them)', () => {
  const block = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>';
  assert.deepEqual(HERMES.parse(`${block}\n我查到结果后告诉你。`, TOOLS), { content: '我查到结果后告诉你。', calls: [weather('北京')] });
  assert.deepEqual(HERMES.parse(`好的。\n${block}\n${block}\n稍等。\n`, TOOLS), { content: '好的。\n稍等。', calls: [weather('北京'), weather('北京')] });
  // A later block that is not a call, or unclosed blocks with text after them: all text, as before.
  for (const t of [`${block}\n然后 <tool_call>\nnot json\n</tool_call>`, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n更多文字']) {
    assert.deepEqual(HERMES.parse(t, TOOLS), text(t), t);
  }
});

/** Replies whose calls each syntax must find, with the text before and after them that real outputs carry. */
const writers: Array<[string, ToolCallSyntax, (calls: Array<{ name: string; arguments: Record<string, unknown> }>) => string]> = [
  ['llama3-json', LLAMA3_JSON, llama3Calls],
  ['llama3-json ;', LLAMA3_JSON, (calls) => calls.map((c) => llama3Calls([c])).join('; ')],
  ['llama3-json fenced', LLAMA3_JSON, (calls) => `\`\`\`json\n${llama3Calls(calls)}\n\`\`\``],
  ['llama3-json tag', LLAMA3_JSON, (calls) => `<|python_tag|>${llama3Calls(calls)}`],
  ['hermes', HERMES, (calls) => calls.map(hermesCall).join('')],
  ['lf-default', LF_DEFAULT, defaultCalls],
];

test('mayBeCall never lets out text that the finished reply reads as a call (every prefix, with and without the tools)', () => {
  const before = fc.constantFrom('', '好的，我查一下。\n', 'x {"a": 1} ', '[1, 2] ', 'Action: 说明\n', '{"name": "Alice", "age": 3}\n', 'brave ', '<tool_', 'b');
  const args = fc.dictionary(fc.constantFrom('city', 'q', '名'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 });
  const call = fc.record({ name: fc.constantFrom('get_weather', 'get_time'), arguments: args });
  fc.assert(fc.property(fc.constantFrom(...writers), before, fc.array(call, { minLength: 1, maxLength: 2 }), fc.constantFrom('', '\n', '\n稍等。'), ([, syntax, write], lead, calls, after) => {
    const reply = lead + write(JSON.parse(JSON.stringify(calls))) + after;
    const parsed = syntax.parse(reply, TOOLS);
    if (!parsed.calls.length) return;
    for (let n = 0; n <= reply.length; n++) {
      const sent = reply.slice(0, n);
      for (const tools of [undefined, TOOLS]) {
        if (!syntax.mayBeCall(sent, tools)) assert.ok(parsed.content.startsWith(sent.trimEnd()), `${syntax.name} let out ${JSON.stringify(sent)} of ${JSON.stringify(reply)}`);
      }
    }
  }), { seed: 7, numRuns: 200 });
});

test('mayBeCall lets out text that plainly is no call: JSON a user asked for, a finished call with text after it, a tag in prose', () => {
  const says = (s: ToolCallSyntax, texts: string[], tools?: ToolFunction[]) => texts.map((t) => s.mayBeCall(t, tools));
  assert.deepEqual(says(LLAMA3_JSON, [
    '{"name": "Alice", "age": 30} 就是你要的 JSON。',
    '[{"name": "Alice", "age": 30}, {"name": "Bob", "age": 25}]',
    '{"name": "get_weather", "parameters": {"city": "北京"}} 你看，这就是调用的格式。',
    '{"name": "get_weather", "parameters": ["北京"]}',
    'brave_search 是一个搜索引擎',
    'code is here',
  ]), [false, false, false, false, false, false]);
  // Still held while it may become one.
  assert.deepEqual(says(LLAMA3_JSON, ['{"name": "Alice"', '{"name": "get_weather", "parameters": {"city": "北京"}}', '{"name": "get_weather", "parameters": {"city": "北京"}}\n`', 'brave_search.call(query="x', 'brave_search .']),
    [true, true, true, true, true]);
  // Knowing the tools, a name that is none of theirs is no call.
  assert.deepEqual(says(LLAMA3_JSON, ['{"name": "Alice"', '{"name": "Alice", "parameters": {"city": "北京"}}', '{"name": "get_w', '[{"name": "Bob"', 'brave_search.call(', '{"name": "get_weather"'], TOOLS),
    [false, false, true, false, false, true]);
  assert.deepEqual(says(HERMES, ['The tag <tool_call> marks a call.', '<tool_call> is how', '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call> 好', '<tool_call>\n{"na', '<tool_call>\n']),
    [false, false, true, true, true]);
  assert.deepEqual(says(HERMES, ['<tool_call>\n{"name": "Alice"', '<tool_call>\n{"name": "get_'], TOOLS), [false, true]);
  assert.deepEqual(says(LF_DEFAULT, ['Action: we need to act now', 'Action: get_weather\nAction Input: {"city": "北京"} I think so', 'Action: get_weather\nAction Input: 北京', 'Action: get_weather\nAction In', 'Action: get_weather\nAction Input: {"ci']),
    [false, false, false, true, true]);
  assert.deepEqual(says(LF_DEFAULT, ['Action: Alice\nAction Input: {}', 'Action: get_', 'Action: get_weather\nAction Input: {"city": "北京"}\nAction: Bob'], TOOLS), [false, true, false]);
});

test('parsing a long adversarial reply stays linear: nested call starts, unclosed strings', () => {
  // (Those that end in a call's start may still become one: the last start would be the call.)
  const cases: Array<[string, boolean]> = [['{"name": '.repeat(8000), true], ['{"name": "'.repeat(8000), true], [`${'{"name": '.repeat(8000)}}`, false],
    [`${'[{"name": "get_time", "parameters": {}}'.repeat(4000)} x`, true], [`${'{"name": "get_time", "parameters": {}} x '.repeat(8000)}`, false]];
  for (const [t, may] of cases) {
    // (Compared by hand: a failing deepEqual would print all of it.)
    assert.ok(LLAMA3_JSON.parse(t, TOOLS).calls.length === 0 && LLAMA3_JSON.parse(t, TOOLS).content === t, t.slice(0, 40));
    assert.equal(LLAMA3_JSON.mayBeCall(t, TOOLS), may, t.slice(0, 40));
    assert.equal(LLAMA3_JSON.mayBeCall(t), may, t.slice(0, 40));
  }
});


test('mayBeCall never throws either: whatever goes wrong, the text is held and the finished reply\'s parse decides', () => {
  const broken = new Proxy([], { get() { throw new Error('broken tools'); } }) as unknown as ToolFunction[];
  for (const [s, t] of [[LLAMA3_JSON, '{"name": "get_time"'], [HERMES, '<tool_call>\n{"name": "get_time"'], [LF_DEFAULT, 'Action: get_time']] as const) {
    assert.equal(s.mayBeCall(t, broken), true, `${s.name}: ${t}`);
    assert.deepEqual(s.parse(t, broken), text(t));
  }
});
