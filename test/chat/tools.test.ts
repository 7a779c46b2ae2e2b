import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NATIVE_TEMPLATES, resolveTemplate } from '../../src/chat/templates.js';
import { defaultCalls, hermesCall, llama3Calls } from '../../src/chat/toolCalls/toolPrompts.js';
import { HERMES, LF_DEFAULT, LLAMA3_JSON, newCallId, readTools, ToolError, type ToolFunction, toolSyntaxFor } from '../../src/chat/tools.js';
import { UserError } from '../../src/errors.js';

const WEATHER: ToolFunction = { name: 'get_weather', description: '查询天气', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const TIME: ToolFunction = { name: 'get_time', parameters: { type: 'object', properties: {} } };
const BRAVE: ToolFunction = { name: 'brave_search', parameters: { type: 'object', properties: { query: { type: 'string' } } } };
const CODE: ToolFunction = { name: 'code_interpreter', parameters: { type: 'object', properties: { code: { type: 'string' } } } };
const TOOLS = [WEATHER, TIME];
const text = (t: string) => ({ content: t, calls: [] });
const weather = (city: string) => ({ name: 'get_weather', arguments: { city } });

test('readTools takes OpenAI\'s, ollama\'s and bare functions; no parameters means none', () => {
  const params = { type: 'object', properties: { city: { type: 'string', description: '城市' } }, required: ['city'] };
  assert.deepEqual(readTools([{ type: 'function', function: { name: 'get_weather', description: '查询天气', parameters: params, strict: true } }]),
    [{ name: 'get_weather', description: '查询天气', parameters: params }]);
  assert.deepEqual(readTools([{ function: { name: 'a' } }, { name: 'b', description: 'B', parameters: { properties: {} } }]), [
    { name: 'a', parameters: { type: 'object', properties: {} } },
    { name: 'b', description: 'B', parameters: { properties: {} } },
  ]);
  assert.deepEqual(readTools([]), []);
});

test('readTools names every bad tool definition by its field', () => {
  const bad: Array<[unknown, string, RegExp]> = [
    [{ type: 'function' }, 'tools', /^tools must be a JSON array of tools like \[/],
    [[1], 'tools[0]', /^tools\[0\] must be an object like \{"type":"function"/],
    [[{ type: 'web_search' }], 'tools[0].type', /^tools\[0\]\.type is "web_search"; only "function" tools are supported$/],
    [[{ type: 'function' }], 'tools[0].function', /^tools\[0\]\.function must be an object with a "name"/],
    [[{ type: 'function', function: 'f' }], 'tools[0].function', /must be an object with a "name"/],
    [[{ type: 'function', function: { description: 'x' } }], 'tools[0].function.name', /^tools\[0\]\.function\.name is missing: every tool needs a name$/],
    [[{ name: '' }], 'tools[0].name', /is missing: every tool needs a name/],
    [[{ name: 7 }], 'tools[0].name', /^tools\[0\]\.name must be a string, not 7$/],
    [[{ name: 'get weather' }], 'tools[0].name', /^tools\[0\]\.name "get weather" is not a valid function name: use 1 to 64 letters, digits, underscores or dashes$/],
    [[{ name: 'x'.repeat(65) }], 'tools[0].name', /is not a valid function name/],
    [[{ name: '天气' }], 'tools[0].name', /"天气" is not a valid function name/],
    [[{ name: 'a' }, { type: 'function', function: { name: 'a' } }], 'tools[1].function.name', /^tools\[1\]\.function\.name "a" is used twice \(tools\[0\] has it too\); each tool needs its own name$/],
    [[{ name: 'a', description: 5 }], 'tools[0].description', /^tools\[0\]\.description must be a string$/],
    [[{ name: 'a', parameters: 'city' }], 'tools[0].parameters', /^tools\[0\]\.parameters must be a JSON Schema object like \{"type":"object","properties":/],
    [[{ name: 'a', parameters: [] }], 'tools[0].parameters', /must be a JSON Schema object/],
    [[{ name: 'a', parameters: { type: 'string' } }], 'tools[0].parameters.type', /^tools\[0\]\.parameters\.type is "string"; the parameters of a function are an object: a JSON Schema object like/],
    [[{ name: 'a', parameters: { type: 'object', properties: [] } }], 'tools[0].parameters.properties', /must be an object mapping each argument to its JSON Schema/],
    [[{ name: 'a', parameters: { properties: { city: 'string' } } }], 'tools[0].parameters.properties.city', /^tools\[0\]\.parameters\.properties\.city must be a JSON Schema \(an object\)$/],
    [[{ name: 'a', parameters: { properties: {}, required: 'city' } }], 'tools[0].parameters.required', /must be a list of argument names/],
    [[{ name: 'a', parameters: { properties: {}, required: [1] } }], 'tools[0].parameters.required', /must be a list of argument names/],
  ];
  for (const [value, field, message] of bad) {
    assert.throws(() => readTools(value), (e: unknown) => {
      assert.ok(e instanceof ToolError && e instanceof UserError, String(e));
      assert.equal(e.field, field, JSON.stringify(value));
      assert.match(e.message, message);
      return true;
    });
  }
  // The field's base name is the caller's (a server reading a request's "tools" passes it, P3 maps it to `param`).
  assert.throws(() => readTools([{ name: '' }], 'body.tools'), { field: 'body.tools[0].name' });
});

test('newCallId: "call_" and 24 letters and digits, different each time', () => {
  const ids = new Set(Array.from({ length: 50 }, newCallId));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.match(id, /^call_[A-Za-z0-9]{24}$/);
});

test('toolSyntaxFor: each template\'s syntax, Meta\'s JSON by default', () => {
  assert.equal(toolSyntaxFor(NATIVE_TEMPLATES.llama3), LLAMA3_JSON);
  assert.equal(toolSyntaxFor(NATIVE_TEMPLATES['llama3.1']), LLAMA3_JSON);
  assert.equal(toolSyntaxFor(NATIVE_TEMPLATES['llama3-v1']), LLAMA3_JSON);
  assert.equal(toolSyntaxFor(NATIVE_TEMPLATES.chatml), HERMES);
  assert.equal(toolSyntaxFor(NATIVE_TEMPLATES['lf-default']), LF_DEFAULT);
  assert.equal(toolSyntaxFor({}), LLAMA3_JSON);
  assert.equal(toolSyntaxFor(resolveTemplate({ fileSource: '{% for m in messages %}{{ m.content }}{% endfor %}{% if tools %}<tool_call>{% endif %}' })), HERMES);
  assert.equal([LLAMA3_JSON.name, HERMES.name, LF_DEFAULT.name].join(), 'llama3-json,hermes,lf-default');
});

test('LLAMA3_JSON reads Meta\'s and LLaMA-Factory\'s calls as real outputs write them', () => {
  const p = (t: string, tools = TOOLS) => LLAMA3_JSON.parse(t, tools);
  assert.deepEqual(p('{"name": "get_weather", "parameters": {"city": "北京"}}'), { content: '', calls: [weather('北京')] });
  // Leading whitespace, "type": "function", "arguments" in place of "parameters", arguments as a JSON string.
  assert.deepEqual(p('\n\n  {"type": "function", "name": "get_weather", "parameters": {"city": "上海"}}\n'), { content: '', calls: [weather('上海')] });
  assert.deepEqual(p('{"name":"get_weather","arguments":{"city":"广州"}}'), { content: '', calls: [weather('广州')] });
  assert.deepEqual(p('{"name": "get_weather", "parameters": "{\\"city\\": \\"深圳\\"}"}'), { content: '', calls: [weather('深圳')] });
  // LLaMA-Factory's parallel calls (a list), and Llama 3.1's (separated by ";").
  assert.deepEqual(p('[{"name": "get_weather", "parameters": {"city": "北京"}}, {"name": "get_time", "parameters": {}}]'),
    { content: '', calls: [weather('北京'), { name: 'get_time', arguments: {} }] });
  assert.deepEqual(p('{"name": "get_weather", "parameters": {"city": "a"}}; {"name": "get_weather", "parameters": {"city": "b"}}'),
    { content: '', calls: [weather('a'), weather('b')] });
  // Text before a call is content; <|python_tag|> before the JSON.
  assert.deepEqual(p('我来查一下。\n{"name": "get_weather", "parameters": {"city": "北京"}}'), { content: '我来查一下。', calls: [weather('北京')] });
  assert.deepEqual(p('<|python_tag|>{"name": "get_time", "parameters": {}}'), { content: '', calls: [{ name: 'get_time', arguments: {} }] });
  // A brace inside a string does not end the call.
  assert.deepEqual(p('{"name": "get_weather", "parameters": {"city": "}{\\"x"}}'), { content: '', calls: [weather('}{"x')] });
});

test('LLAMA3_JSON: Meta\'s built-in tools after <|python_tag|>, or bare when the tag was a control token left out', () => {
  const tools = [WEATHER, BRAVE, CODE];
  const brave = { name: 'brave_search', arguments: { query: 'weather in Paris' } };
  assert.deepEqual(LLAMA3_JSON.parse('<|python_tag|>brave_search.call(query="weather in Paris")', tools), { content: '', calls: [brave] });
  assert.deepEqual(LLAMA3_JSON.parse('brave_search.call(query="weather in Paris")', tools), { content: '', calls: [brave] });
  assert.deepEqual(LLAMA3_JSON.parse('<|python_tag|>brave_search.call(query="a", count=3, safe=true)', tools),
    { content: '', calls: [{ name: 'brave_search', arguments: { query: 'a', count: 3, safe: true } }] });
  // code_interpreter: the code itself after the tag (Meta's prompt format).
  assert.deepEqual(LLAMA3_JSON.parse('<|python_tag|>import math\nprint(math.pi)\n', tools),
    { content: '', calls: [{ name: 'code_interpreter', arguments: { code: 'import math\nprint(math.pi)' } }] });
  // A call of another kind to a tool not offered is no code.
  for (const t of ['<|python_tag|>{"name": "get_stock", "parameters": {}}', '<|python_tag|>wolfram_alpha.call(query="x")']) assert.deepEqual(LLAMA3_JSON.parse(t, tools), text(t));
  // Not offered, or not exactly a call: text.
  for (const t of ['brave_search.call(query="x")', '<|python_tag|>print(1)']) assert.deepEqual(LLAMA3_JSON.parse(t, [WEATHER]), text(t));
  for (const t of ['Use brave_search.call(query="x")', 'brave_search.call(query="x") then more', 'brave_search.call(query=x)', 'get_weather.call(city="北京")']) {
    assert.deepEqual(LLAMA3_JSON.parse(t, tools), text(t));
  }
});

test('LLAMA3_JSON keeps as text whatever is not exactly a call to an offered tool', () => {
  const cases = [
    '北京今天晴。',
    '{"name": "get_stock", "parameters": {"code": "600519"}}', // not offered
    '[{"name": "get_weather", "parameters": {"city": "北京"}}, {"name": "get_stock", "parameters": {}}]', // one of them not offered
    '{"name": "get_weather", "parameters": {"city": "北京"}', // unfinished
    '{"name": "get_weather", "parameters": {"city": 北京}}', // not JSON
    '{"name": "get_weather", "parameters": ["北京"]}', // arguments not an object
    '{"name": "get_weather"}', // no arguments
    '{"name": "get_weather", "parameters": {}, "arguments": {}}', // both
    '{"name": "get_weather", "parameters": {}, "extra": 1}', // a key a call has not
    '{"type": "object", "name": "get_weather", "parameters": {}}',
    '{"name": "get_weather", "parameters": {"city": "北京"}} 你看，这就是调用的格式。', // text after the call
    '[]',
    '',
  ];
  for (const t of cases) assert.deepEqual(LLAMA3_JSON.parse(t, TOOLS), text(t), t);
  // Without tools nothing is a call.
  assert.deepEqual(LLAMA3_JSON.parse('{"name": "get_weather", "parameters": {"city": "北京"}}', []), text('{"name": "get_weather", "parameters": {"city": "北京"}}'));
});

test('HERMES reads <tool_call> blocks; text before them is content', () => {
  const p = (t: string) => HERMES.parse(t, TOOLS);
  assert.deepEqual(p('<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>'), { content: '', calls: [weather('北京')] });
  assert.deepEqual(p('我来查一下。\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>\n<tool_call>\n{"arguments": {}, "name": "get_time"}\n</tool_call>\n'),
    { content: '我来查一下。', calls: [weather('北京'), { name: 'get_time', arguments: {} }] });
  // The last block may be unclosed (a required call's grammar ends with its JSON).
  assert.deepEqual(p('<tool_call>\n{"name": "get_time", "arguments": {}}'), { content: '', calls: [{ name: 'get_time', arguments: {} }] });
  // Text after a closed block is content too (llama.cpp's and vLLM's Hermes parsers keep such calls).
  assert.deepEqual(p('<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call> and then some text'), { content: 'and then some text', calls: [{ name: 'get_time', arguments: {} }] });
  for (const t of [
    '<tool_call>\n{"name": "get_stock", "arguments": {}}\n</tool_call>',
    '<tool_call>\n{"name": "get_time", "arguments": {}\n</tool_call>',
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\n<tool_call>\nnot json\n</tool_call>',
    'The format is <tool_call>…</tool_call>.',
    '{"name": "get_time", "arguments": {}}',
  ]) assert.deepEqual(p(t), text(t), t);
});

test('LF_DEFAULT reads "Action: … Action Input: …" as LLaMA-Factory\'s tool_extractor does', () => {
  const p = (t: string) => LF_DEFAULT.parse(t, TOOLS);
  assert.deepEqual(p('Action: get_weather\nAction Input: {"city": "北京"}'), { content: '', calls: [weather('北京')] });
  // Parallel calls; quotes and backticks around the input are stripped (.strip('"').strip("```")).
  assert.deepEqual(p('Action: get_weather\nAction Input: {"city": "北京"}\nAction: get_time\nAction Input: ```{}```\n'),
    { content: '', calls: [weather('北京'), { name: 'get_time', arguments: {} }] });
  assert.deepEqual(p('我需要查天气。\nAction:get_weather Action Input:"{"city": "上海"}"'), { content: '我需要查天气。', calls: [weather('上海')] });
  for (const t of [
    'Action: get_stock\nAction Input: {}',
    'Action: get_weather\nAction Input: {city: 北京}',
    'Action: get_weather\nAction Input: ["北京"]',
    'Action: get_weather\nAction Input: ',
    'Action: get_weather\nAction Input: {"city": "北京"}\nAction: get_stock\nAction Input: {}',
    'Action: 查一下',
  ]) assert.deepEqual(p(t), text(t), t);
});

test('parsing never throws on model output, and a reply with no call comes back unchanged', () => {
  const piece = fc.oneof(fc.string(), fc.constantFrom('{', '}', '[', ']', '"', '\\', '<tool_call>', '</tool_call>', '<|python_tag|>', 'Action: get_time', 'Action Input:', '{"name": "get_time", "parameters": ', '.call(', 'brave_search', '=', ',', ')', '\n'));
  fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
    const t = parts.join('');
    for (const syntax of [LLAMA3_JSON, HERMES, LF_DEFAULT]) {
      const r = syntax.parse(t, [...TOOLS, BRAVE, CODE]);
      if (!r.calls.length) assert.equal(r.content, t);
      // Hermes' content may also hold the text after its blocks, on a line of its own.
      else assert.ok(syntax === HERMES ? r.content.split('\n').every((l) => t.includes(l)) : t.startsWith(r.content));
    }
  }), { seed: 16, numRuns: 2000 });
});

test('each syntax reads back exactly the calls its template writes', () => {
  const args = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
  const call = fc.record({ name: fc.constantFrom('get_weather', 'get_time'), arguments: args });
  fc.assert(fc.property(fc.array(call, { minLength: 1, maxLength: 3 }), fc.constantFrom('', '好的，我查一下。'), (calls, before) => {
    // JSON.parse(JSON.stringify(x)) is what a model's text can carry (-0 is written 0).
    const want = JSON.parse(JSON.stringify(calls));
    const lead = before ? `${before}\n` : '';
    assert.deepEqual(LLAMA3_JSON.parse(lead + llama3Calls(calls), TOOLS), { content: before, calls: want });
    assert.deepEqual(HERMES.parse(before + calls.map(hermesCall).join(''), TOOLS), { content: before, calls: want });
    assert.deepEqual(LF_DEFAULT.parse(lead + defaultCalls(calls), TOOLS), { content: before, calls: want });
  }), { seed: 16, numRuns: 300 });
});

test('required(): the prefix the prompt is continued with and the JSON Schema of the call', () => {
  const call = (t: ToolFunction, key: string) => ({ type: 'object', properties: { name: { const: t.name }, [key]: t.parameters } });
  assert.deepEqual(LLAMA3_JSON.required([WEATHER], false), { prefix: '', schema: call(WEATHER, 'parameters') });
  assert.deepEqual(LLAMA3_JSON.required(TOOLS, false), { prefix: '', schema: { oneOf: [call(WEATHER, 'parameters'), call(TIME, 'parameters')] } });
  // Parallel: one call as an object, several as a list (LLaMA-Factory's function_formatter).
  const one = { oneOf: [call(WEATHER, 'parameters'), call(TIME, 'parameters')] };
  assert.deepEqual(LLAMA3_JSON.required(TOOLS, true), { prefix: '', schema: { oneOf: [one, { type: 'array', items: one, minItems: 2 }] } });
  assert.deepEqual(HERMES.required([WEATHER], true), { prefix: '<tool_call>\n', schema: call(WEATHER, 'arguments') });
  assert.deepEqual(LF_DEFAULT.required([WEATHER], false), { prefix: 'Action: get_weather\nAction Input: ', schema: WEATHER.parameters });
  assert.throws(() => LF_DEFAULT.required(TOOLS, false), (e: unknown) => e instanceof ToolError && e.field === 'tool_choice' && /name the function/.test(e.message));
  for (const s of [LLAMA3_JSON, HERMES, LF_DEFAULT]) assert.throws(() => s.required([], false), ToolError);
  // What the grammar then writes, after the prefix, parses as the call.
  assert.deepEqual(HERMES.parse('<tool_call>\n{ "name": "get_weather", "arguments": { "city": "北京" } }', TOOLS).calls, [weather('北京')]);
  assert.deepEqual(LF_DEFAULT.parse('Action: get_weather\nAction Input: {"city": "北京"}', [WEATHER]).calls, [weather('北京')]);
});

test('mayBeCall: held back while the reply may still become a call, released when it cannot', () => {
  const says = (syntax: typeof LLAMA3_JSON, texts: string[]) => texts.map((t) => syntax.mayBeCall(t));
  assert.deepEqual(says(LLAMA3_JSON, ['北京', '{', '{"', '{"na', '{"name": "get', ' [ {"type": "function"', '{"a', '好的 {"name"', 'x <|pyth', '<|python_tag|>', 'a [b]', 'b', 'brave_search.ca', 'bra x']),
    [false, true, true, true, true, true, false, true, true, true, false, true, true, false]);
  assert.deepEqual(says(HERMES, ['我', '<', '<tool', '<tool_call>', '<b', 'a <tool_call>{"name"']), [false, true, true, true, false, true]);
  assert.deepEqual(says(LF_DEFAULT, ['好', 'Act', 'Action:', 'Acts', 'Thought\nAction: get_time']), [false, true, true, false, true]);
});
