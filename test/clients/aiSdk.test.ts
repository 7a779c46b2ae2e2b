import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import type { RunningServer } from '../../src/server/start.js';
import { testServer } from '../helpers/server.js';
import { CALL_ARGS, FINAL, HAS_FALLBACK, RESULT, textModel, weatherModel } from '../helpers/toolModels.js';

/** The Vercel AI SDK, through its OpenAI-compatible provider, runs a tool loop against this server. */

let srv: RunningServer;

before(async () => {
  srv = await testServer({ model: await weatherModel(), parallel: 2 });
});
after(() => srv.close());

const model = (url: string) => createOpenAICompatible({ name: 'llama3-zh', baseURL: `${url}/v1`, apiKey: 'unused' }).chatModel('scripted');

/** get_weather as the AI SDK defines a tool: its arguments recorded, its result RESULT. */
function weather(seen: unknown[]) {
  return tool({
    description: 'The weather of a city now',
    inputSchema: z.object({ city: z.string().describe('The city') }),
    execute: async (input) => { seen.push(input); return RESULT; },
  });
}

test('AI SDK generateText: the exact call, the tool run, and the exact final answer', async () => {
  const seen: unknown[] = [];
  const r = await generateText({ model: model(srv.url), tools: { get_weather: weather(seen) }, stopWhen: stepCountIs(3), prompt: '北京天气怎么样？' });
  assert.equal(r.text, FINAL);
  assert.deepEqual(seen, [CALL_ARGS]);
  assert.equal(r.steps.length, 2);
  const [call] = r.steps[0].toolCalls;
  assert.equal(call.toolName, 'get_weather');
  assert.deepEqual(call.input, CALL_ARGS);
  assert.match(call.toolCallId, /^call_/);
  assert.equal(r.steps[0].finishReason, 'tool-calls');
  assert.deepEqual(r.steps[0].toolResults.map((t) => t.output), [RESULT]);
  assert.equal(r.finishReason, 'stop');
});

test('AI SDK streamText: the call streamed, the tool run, and the final answer streamed', async () => {
  const seen: unknown[] = [];
  const r = streamText({ model: model(srv.url), tools: { get_weather: weather(seen) }, stopWhen: stepCountIs(3), prompt: '北京天气怎么样？' });
  let text = '';
  const calls: unknown[] = [];
  for await (const part of r.fullStream) {
    if (part.type === 'text-delta') text += part.text;
    if (part.type === 'tool-call') calls.push([part.toolName, part.input]);
    if (part.type === 'error') throw part.error;
  }
  assert.equal(text, FINAL);
  assert.deepEqual(calls, [['get_weather', CALL_ARGS]]);
  assert.deepEqual(seen, [CALL_ARGS]);
});

test('AI SDK toolChoice "required" and a named tool: a call valid against the tool\'s schema', async () => {
  for (const toolChoice of ['required', { type: 'tool', toolName: 'get_weather' }] as const) {
    const r = await generateText({ model: model(srv.url), tools: { get_weather: tool({ inputSchema: z.object({ city: z.string() }) }) }, toolChoice, prompt: '北京天气怎么样？' });
    assert.equal(r.finishReason, 'tool-calls');
    assert.deepEqual(r.toolCalls.map((c) => [c.toolName, c.input]), [['get_weather', CALL_ARGS]]);
  }
});

test('AI SDK toolChoice "required" on a model that would answer in text', { skip: !HAS_FALLBACK && 'needs scripted models with a fallback reply (P1 of issue 16)' }, async () => {
  const text = await testServer({ model: await textModel(), parallel: 1 });
  try {
    const tools = { get_weather: tool({ inputSchema: z.object({ city: z.string() }) }) };
    const free = await generateText({ model: model(text.url), tools, prompt: '北京天气怎么样？' });
    assert.equal(free.text, FINAL);
    const r = await generateText({ model: model(text.url), tools, toolChoice: 'required', prompt: '北京天气怎么样？' });
    const input = z.object({ city: z.string() }).strict().parse(r.toolCalls[0].input);
    assert.deepEqual(input, CALL_ARGS);
  } finally {
    await text.close();
  }
});
