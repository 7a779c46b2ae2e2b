import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AIMessageChunk, type BaseMessage, HumanMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';
import type { RunningServer } from '../../src/server/start.js';
import { testServer } from '../helpers/server.js';
import { CALL_ARGS, FINAL, HAS_FALLBACK, RESULT, textModel, weatherModel } from '../helpers/toolModels.js';

/** LangChain JS's ChatOpenAI with tools bound, the way its agents drive a chat model, against this server. */

let srv: RunningServer;

before(async () => {
  srv = await testServer({ model: await weatherModel(), parallel: 2 });
});
after(() => srv.close());

const chat = (url: string) => new ChatOpenAI({ model: 'scripted', apiKey: 'unused', maxRetries: 0, configuration: { baseURL: `${url}/v1` } });

function weather(seen: unknown[]) {
  return tool(async (input: { city: string }) => { seen.push(input); return RESULT; }, {
    name: 'get_weather',
    description: 'The weather of a city now',
    schema: z.object({ city: z.string().describe('The city') }),
  });
}

test('LangChain ChatOpenAI.bindTools: the exact call, the ToolMessage of the tool run, and the exact final answer', async () => {
  const seen: unknown[] = [];
  const get = weather(seen);
  const llm = chat(srv.url).bindTools([get]);
  const messages: BaseMessage[] = [new HumanMessage('北京天气怎么样？')];
  const ai = await llm.invoke(messages);
  assert.equal(ai.tool_calls?.length, 1);
  const call = ai.tool_calls![0];
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(call.args, CALL_ARGS);
  assert.match(call.id!, /^call_/);
  assert.equal(ai.response_metadata.finish_reason, 'tool_calls');
  const result = await get.invoke(call);
  messages.push(ai, result);
  assert.deepEqual(seen, [CALL_ARGS]);
  const final = await llm.invoke(messages);
  assert.equal(final.content, FINAL);
  assert.deepEqual(final.tool_calls, []);
});

test('LangChain streamed: the chunks add up to the call, then to the final answer', async () => {
  const seen: unknown[] = [];
  const get = weather(seen);
  const llm = chat(srv.url).bindTools([get]);
  const messages: BaseMessage[] = [new HumanMessage('北京天气怎么样？')];
  const gather = async () => {
    let all: AIMessageChunk | undefined;
    for await (const chunk of await llm.stream(messages)) all = all ? all.concat(chunk) : chunk;
    return all!;
  };
  const ai = await gather();
  assert.deepEqual(ai.tool_calls?.map((c) => [c.name, c.args]), [['get_weather', CALL_ARGS]]);
  messages.push(ai, await get.invoke(ai.tool_calls![0]));
  const final = await gather();
  assert.equal(final.content, FINAL);
  assert.deepEqual(seen, [CALL_ARGS]);
});

test('LangChain tool_choice "any" (required) and a named tool: a call valid against the tool\'s schema', async () => {
  const schema = z.object({ city: z.string() }).strict();
  for (const tool_choice of ['any', 'get_weather']) {
    const ai = await chat(srv.url).bindTools([weather([])], { tool_choice }).invoke([new HumanMessage('北京天气怎么样？')]);
    assert.equal(ai.tool_calls?.[0].name, 'get_weather');
    assert.deepEqual(schema.parse(ai.tool_calls?.[0].args), CALL_ARGS);
  }
});

test('LangChain tool_choice "any" on a model that would answer in text', { skip: !HAS_FALLBACK && 'needs scripted models with a fallback reply (P1 of issue 16)' }, async () => {
  const text = await testServer({ model: await textModel(), parallel: 1 });
  try {
    const free = await chat(text.url).bindTools([weather([])]).invoke([new HumanMessage('北京天气怎么样？')]);
    assert.equal(free.content, FINAL);
    const ai = await chat(text.url).bindTools([weather([])], { tool_choice: 'any' }).invoke([new HumanMessage('北京天气怎么样？')]);
    assert.deepEqual(z.object({ city: z.string() }).strict().parse(ai.tool_calls?.[0].args), CALL_ARGS);
  } finally {
    await text.close();
  }
});
