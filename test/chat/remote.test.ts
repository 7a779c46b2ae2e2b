import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiBase, saysContextOverflow } from '../../src/chat/openaiHttp.js';
import { remoteReplier, samplingFields } from '../../src/chat/remote.js';
import { ChatSession } from '../../src/chat/session.js';
import { DEMO_DEFAULTS } from '../../src/chat/settings.js';
import { readTools } from '../../src/chat/tools.js';
import { delta, fakeOpenai, type FakeServer } from '../helpers/fakeOpenai.js';
import { TIME, WEATHER } from '../helpers/toolModels.js';

/**
 * The remote replier under ChatSession: the same turn rules as a local model (pendingCalls, answerCalls,
 * cancelCalls), with the calls read from the server's streamed deltas, vLLM-style: each call's id and name first,
 * its arguments in pieces, two calls interleaved by index.
 */

let fake: FakeServer;
const tools = readTools([WEATHER, TIME]);

before(async () => {
  fake = await fakeOpenai(['fake'], (body) => {
    const last = body.messages.at(-1);
    if (last.role === 'tool') return { chunks: [delta({ content: `results: ${body.messages.filter((m: { role: string }) => m.role === 'tool').map((m: { content: string }) => m.content).join(', ')}` }), delta({}, 'stop')] };
    if (last.content === 'cut') {
      return { chunks: [delta({ tool_calls: [{ index: 0, id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: '{"ci' } }] }), delta({}, 'length')] };
    }
    if (last.content === 'plain') return { chunks: [delta({ role: 'assistant', content: null }), delta({ content: '好' }), delta({}, 'stop')] };
    return {
      chunks: [
        delta({ role: 'assistant', content: null }),
        delta({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
        delta({ tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] }),
        delta({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }),
        delta({ tool_calls: [{ index: 0, function: { arguments: '"北京"}' } }] }),
        delta({}, 'tool_calls'),
      ],
      usage: { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52, prompt_tokens_details: { cached_tokens: 30 } },
    };
  });
});
after(() => fake.close());

const session = () => new ChatSession(remoteReplier({ base: apiBase(fake.url) }, { id: 'fake' }), { ...DEMO_DEFAULTS, temperature: 0 }, undefined, [], tools);

test('calls accumulated by index, kept with the assistant turn; their results go back as "tool" messages with tool_call_id', async () => {
  const s = session();
  let shown = '';
  const a = await s.ask('天气和时间？', { onText: (d) => (shown += d) });
  assert.deepEqual(a.toolCalls, [
    { id: 'call_a', name: 'get_weather', arguments: { city: '北京' } },
    { id: 'call_b', name: 'get_time', arguments: {} },
  ]);
  assert.deepEqual([a.content, shown, a.finishReason], ['', '', 'stop']);
  assert.deepEqual(a.usage, { promptTokens: 40, completionTokens: 12, cachedTokens: 30 });
  assert.deepEqual(s.pendingCalls(), a.toolCalls);
  // The tools go in OpenAI's shape.
  assert.deepEqual(fake.requests.at(-1)!.tools, [{ type: 'function', function: WEATHER }, { type: 'function', function: TIME }]);

  await assert.rejects(s.answerCalls(['晴']), /2 tool calls are waiting for a result, not 1/);
  const b = await s.answerCalls(['晴', '十点']);
  assert.equal(b.content, 'results: 晴, 十点');
  assert.deepEqual(s.pendingCalls(), []);
  assert.deepEqual(fake.requests.at(-1)!.messages, [
    { role: 'user', content: '天气和时间？' },
    { role: 'assistant', content: null, tool_calls: [
      { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"北京"}' } },
      { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ] },
    { role: 'tool', tool_call_id: 'call_a', name: 'get_weather', content: '晴' },
    { role: 'tool', tool_call_id: 'call_b', name: 'get_time', content: '十点' },
  ]);
});

test('a new question cancels the waiting calls: the server is never sent a call without its result', async () => {
  const s = session();
  await s.ask('天气和时间？');
  await s.ask('plain');
  assert.deepEqual(fake.requests.at(-1)!.messages, [{ role: 'user', content: 'plain' }]);
  assert.deepEqual(s.turns, [{ role: 'user', content: 'plain' }, { role: 'assistant', content: '好' }]);
});

test('a reply cut short in the middle of a call has no calls', async () => {
  const s = session();
  const a = await s.ask('cut');
  assert.deepEqual([a.finishReason, a.toolCalls, a.content], ['length', [], '']);
  assert.deepEqual(s.pendingCalls(), []);
});

test('--base-url: the API root with or without /v1; what is no http(s) URL is a usage error', () => {
  for (const [given, root] of [
    ['http://127.0.0.1:8000', 'http://127.0.0.1:8000/v1/'],
    ['http://127.0.0.1:8000/', 'http://127.0.0.1:8000/v1/'],
    ['http://127.0.0.1:8000/v1', 'http://127.0.0.1:8000/v1/'],
    ['https://gpu.example.com/llm/v1/', 'https://gpu.example.com/llm/v1/'],
    ['http://h:8080/proxy', 'http://h:8080/proxy/v1/'],
  ]) assert.equal(apiBase(given).href, root, given);
  for (const bad of ['localhost:8000', '127.0.0.1:8000', 'ftp://h/', '']) {
    assert.throws(() => apiBase(bad), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /is not an http\(s\) URL/.test(e.message), bad);
  }
});

test('a prompt over the context, as llama3-zh, vLLM and llama-server say it; other 400s are not', () => {
  assert.ok(saysContextOverflow(400, 'the prompt is 300 tokens but the context holds 256', 'invalid_request_error', 'context_length_exceeded'));
  assert.ok(saysContextOverflow(400, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens"));
  assert.ok(saysContextOverflow(400, 'the request exceeds the available context size, try increasing it', 'exceed_context_size_error'));
  assert.ok(!saysContextOverflow(400, '"top_p" must be at most 1 (got 2)', 'invalid_request_error'));
  assert.ok(!saysContextOverflow(500, 'maximum context length'));
});

test('the settings as request fields: what is off is left out', () => {
  assert.deepEqual(samplingFields({ ...DEMO_DEFAULTS, repeatPenalty: 1, topK: 0 }), { max_tokens: 500, temperature: 0.6, top_p: 0.9 });
});
