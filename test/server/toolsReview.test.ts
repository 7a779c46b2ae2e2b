import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ChatModel } from '../../src/chat/model.js';
import { LLAMA3_JSON, type ToolCallSyntax, type ToolRequest } from '../../src/chat/tools.js';
import type { RunningServer } from '../../src/server/start.js';
import { ReplyTools } from '../../src/server/tools.js';
import { testModel } from '../helpers/models.js';
import { postJson, streamLines, testServer } from '../helpers/server.js';
import { CALL, openaiTools, WEATHER, weatherModel } from '../helpers/toolModels.js';

/**
 * A hostile review of tool calling in serve (issue 16, part 3): each test here failed before its fix. Replies that
 * make the hold-back slow, Llama 3.1's <|python_tag|> calls, replies cut by max_tokens, forced calls whose grammar
 * is too big together, and error messages that echoed whatever the client sent.
 */

let srv: RunningServer;

before(async () => {
  srv = await testServer({ model: await weatherModel(), parallel: 2 });
});
after(() => srv.close());

const user = (content: string) => [{ role: 'user', content }];
const chatAt = (s: RunningServer, body: Record<string, unknown>) => postJson(`${s.url}/v1/chat/completions`, { messages: user('北京天气怎么样？'), tools: openaiTools(WEATHER), ...body });
const chat = (body: Record<string, unknown>) => chatAt(srv, body);

/** A streamed chat reply's chunks (without [DONE]). */
async function chunks(s: RunningServer, body: Record<string, unknown>): Promise<any[]> {
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: user('北京天气怎么样？'), tools: openaiTools(WEATHER), stream: true, ...body }),
  });
  assert.equal(res.status, 200);
  const out: any[] = [];
  for await (const l of streamLines(res)) if (l !== 'data: [DONE]') out.push(JSON.parse(l.slice('data: '.length)));
  return out;
}
const content = (cs: any[]) => cs.map((c) => c.choices[0]?.delta.content ?? '').join('');
const streamedCalls = (cs: any[]) => cs.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);

test('a long held-back reply asks the syntax about its text a bounded number of times, not once a token', () => {
  // A reply that shows the call format early (`{"name": …}`) and then goes on in prose stays held to the end; asking
  // the syntax about all of it at each token took 10.8 s of blocked event loop for 8,000 tokens (LLAMA3_JSON).
  let asked = 0;
  const counting: ToolCallSyntax = { ...LLAMA3_JSON, mayBeCall: (t) => { asked += t.length; return LLAMA3_JSON.mayBeCall(t); } };
  const model = { template: { toolSyntax: counting } } as unknown as ChatModel;
  const req: ToolRequest = { tools: [WEATHER], choice: 'auto', parallel: true };
  const r = new ReplyTools(model, req);
  const deltas = ['The format is ', '{"name": "x"}', ...Array.from({ length: 4000 }, () => ' word')];
  const out = deltas.map((d) => r.push(d, [])?.text ?? '').join('');
  const text = deltas.join('');
  const end = r.end(text);
  // Sent exactly once, in order.
  assert.equal(out + (end.rest?.text ?? ''), text);
  assert.deepEqual(end.reply, { content: text, calls: [] });
  assert.ok(asked < 20 * text.length, `asked about ${asked} characters for a reply of ${text.length}`);
});

/** A scripted Llama 3.1 model that calls Meta's built-in tools after <|python_tag|> (a control token: never in the text). */
const TAGGED = {
  code: '<|python_tag|>print(1 + 1)',
  search: 'Let me search.<|python_tag|>brave_search.call(query="Beijing weather")',
};
const fn = (name: string, properties: Record<string, unknown>) => ({ type: 'function', function: { name, parameters: { type: 'object', properties } } });
const BUILTIN = [fn('brave_search', { query: { type: 'string' } }), fn('code_interpreter', { code: { type: 'string' } })];

test('Llama 3.1: a call after <|python_tag|> is read though the tag is a control token (code_interpreter, text before the tag)', async () => {
  const model = await testModel({ reply: TAGGED.code, routes: [{ when: 'banana', reply: TAGGED.search }] });
  const s = await testServer({ model, parallel: 1, template: 'llama3.1' });
  try {
    const code = await chatAt(s, { messages: user('2+2?'), tools: BUILTIN });
    assert.equal(code.status, 200, code.text);
    const choice = code.json.choices[0];
    assert.deepEqual([choice.message.content, choice.finish_reason], [null, 'tool_calls']);
    assert.deepEqual(choice.message.tool_calls.map((c: any) => c.function), [{ name: 'code_interpreter', arguments: JSON.stringify({ code: 'print(1 + 1)' }) }]);
    const search = await chatAt(s, { messages: user('banana'), tools: BUILTIN });
    assert.equal(search.json.choices[0].message.content, 'Let me search.');
    assert.deepEqual(search.json.choices[0].message.tool_calls.map((c: any) => c.function), [{ name: 'brave_search', arguments: JSON.stringify({ query: 'Beijing weather' }) }]);
    // Streamed: not a character of the code goes out as content; the text before the tag does.
    const cs = await chunks(s, { messages: user('2+2?'), tools: BUILTIN });
    assert.equal(content(cs), '');
    assert.deepEqual(streamedCalls(cs).map((c) => c.function.name ?? c.function.arguments), ['code_interpreter', JSON.stringify({ code: 'print(1 + 1)' })]);
    const ss = await chunks(s, { messages: user('banana'), tools: BUILTIN });
    assert.equal(content(ss), 'Let me search.');
    assert.equal(ss.at(-1).choices[0].finish_reason, 'tool_calls');
    // Without code_interpreter among the tools, or without tools, the code is text, and the tag never shows.
    for (const tools of [[BUILTIN[0]], undefined]) {
      const text = await chatAt(s, { messages: user('2+2?'), tools });
      assert.deepEqual([text.json.choices[0].message, text.json.choices[0].finish_reason], [{ role: 'assistant', content: 'print(1 + 1)' }, 'stop']);
      assert.equal(content(await chunks(s, { messages: user('2+2?'), tools })), 'print(1 + 1)');
    }
  } finally {
    await s.close();
  }
});

test('a reply cut by max_tokens is never read as a call: the text, finish_reason "length" (OpenAI and ollama)', async () => {
  const whole = await chat({});
  const n = whole.json.usage.completion_tokens;
  assert.equal(whole.json.choices[0].finish_reason, 'tool_calls');
  // Cut at the call's last token, before the stop token: the model may not have been done (a second call could follow).
  for (const max_tokens of [n, n - 3]) {
    const cut = await chat({ max_tokens });
    const text = max_tokens === n ? CALL : cut.json.choices[0].message.content;
    assert.deepEqual([cut.json.choices[0].message, cut.json.choices[0].finish_reason], [{ role: 'assistant', content: text }, 'length']);
    const cs = await chunks(srv, { max_tokens });
    assert.equal(content(cs), text);
    assert.deepEqual(streamedCalls(cs), []);
    assert.equal(cs.at(-1).choices[0].finish_reason, 'length');
    const ollama = await postJson(`${srv.url}/api/chat`, { model: 'scripted', messages: user('北京天气怎么样？'), tools: openaiTools(WEATHER), stream: false, options: { num_predict: max_tokens } });
    assert.deepEqual([ollama.json.message, ollama.json.done_reason], [{ role: 'assistant', content: text }, 'length']);
  }
  // Llama 3.1's code_interpreter call is any text after the tag: cut short (the tag is the first of 3 tokens), it is half a program.
  const s = await testServer({ model: await testModel({ reply: TAGGED.code }), parallel: 1, template: 'llama3.1' });
  try {
    const cut = await chatAt(s, { messages: user('2+2?'), tools: BUILTIN, max_tokens: 3 });
    assert.deepEqual([cut.json.choices[0].message, cut.json.choices[0].finish_reason], [{ role: 'assistant', content: 'print(' }, 'length']);
  } finally {
    await s.close();
  }
});

test('a forced call whose tools together make too big a grammar is a 400 naming "tools", before any decoding', async () => {
  // 400 enum values are within the limit (500) for one schema; a forced parallel call has each tool's schema
  // twice (one call, or a list of them), which the grammar refused later with no field and a path of our own.
  const values = Array.from({ length: 400 }, (_, i) => `v${i}`);
  const tools = [fn('pick', { x: { type: 'string', enum: values } })];
  const big = await testServer({ model: await weatherModel(), parallel: 1, ctx: 4096 });
  try {
    const r = await chatAt(big, { tools, tool_choice: 'required' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'tools');
    assert.ok(!r.json.error.message.includes('#/oneOf'), r.text);
    assert.match(r.json.error.message, /parallel_tool_calls/);
    // One call at a time has each schema once: within the limit, so it is served.
    const one = await chatAt(big, { tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 12 });
    assert.equal(one.status, 200, one.text);
  } finally {
    await big.close();
  }
  // LLaMA-Factory's default format cannot choose among tools by grammar: the 400 names tool_choice.
  const lf = await testServer({ model: await weatherModel(), parallel: 1, template: 'lf-default' });
  try {
    const several = await chatAt(lf, { tools: [...openaiTools(WEATHER), fn('get_time', {})], tool_choice: 'required' });
    assert.equal(several.status, 400, several.text);
    assert.equal(several.json.error.param, 'tool_choice');
  } finally {
    await lf.close();
  }
});

test('errors about tool fields stay one short line, whatever size of value the client sent', async () => {
  const big = 'x'.repeat(1_000_000);
  const call = (c: Record<string, unknown>) => [...user('x'), { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'get_weather', arguments: '{}' }, ...c }] }];
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ tool_choice: { type: 'function', function: { name: big } } }, 'tool_choice.function.name'],
    [{ tool_choice: { type: big } }, 'tool_choice.type'],
    [{ tool_choice: [big] }, 'tool_choice'],
    [{ tools: Array.from({ length: 3000 }, (_, i) => fn(`tool_${'n'.repeat(50)}_${i}`, {})), tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
    [{ tools: [{ type: 'function', function: { name: big } }] }, 'tools[0].function.name'],
    [{ tools: [{ type: big }] }, 'tools[0].type'],
    [{ parallel_tool_calls: big }, 'parallel_tool_calls'],
    [{ messages: [...user('x'), { role: 'tool', tool_call_id: big, content: 'snow' }] }, 'messages[1].tool_call_id'],
    [{ messages: call({ type: big }) }, 'messages[1].tool_calls[0].type'],
    [{ messages: call({ function: { name: 'get_weather', arguments: JSON.stringify(big) } }) }, 'messages[1].tool_calls[0].function.arguments'],
    [{ messages: [{ role: big, content: 'x' }] }, 'messages[0].role'],
  ];
  for (const [body, param] of cases) {
    const r = await chat(body);
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.equal(r.json.error.param, param, r.text.slice(0, 300));
    assert.ok(r.json.error.message.length < 600, `${param}: a message of ${r.json.error.message.length} characters: ${r.json.error.message.slice(0, 200)}…`);
  }
});

test('reading a reply for Llama-3 JSON calls with many unfinished call starts reads each start once (work linear in the reply)', () => {
  // Each '{"name":' that never closes was read to the end of the reply, so N of them cost N × the reply's length:
  // 8,000 of them blocked the event loop 2.5 s at the end of one choice (16 choices: 40 s). Now each start is read
  // once: the call after them is found, and what comes before it is the content.
  const call = '{"name": "get_weather", "parameters": {"city": "Beijing"}}';
  const tools = [WEATHER];
  const unfinished = (n: number) => '{"name": '.repeat(n);
  assert.deepEqual(LLAMA3_JSON.parse(unfinished(8) + call, tools).calls.map((c) => c.name), ['get_weather']);
  const many = LLAMA3_JSON.parse(unfinished(8000) + call, tools);
  assert.deepEqual([many.content, many.calls.map((c) => c.name)], [unfinished(8000).trimEnd(), ['get_weather']]);
  // Values read whole that are no calls cost only their own length, and no call starts inside them: not counted.
  const people = `[${Array.from({ length: 50 }, (_, i) => `{"name": "A${i}"}`).join(', ')}]`;
  const apart = Array.from({ length: 50 }, (_, i) => `{"name": "A${i}", "age": ${i}}`).join(' ');
  // A call with text after it is no call either (calls end the reply), and is not counted.
  const chatty = Array.from({ length: 40 }, () => `${call} and`).join(' ');
  for (const before of [people, apart, chatty]) {
    const r = LLAMA3_JSON.parse(`${before} ${call}`, tools);
    assert.deepEqual([r.content, r.calls.map((c) => c.arguments)], [before, [{ city: 'Beijing' }]]);
  }
});
