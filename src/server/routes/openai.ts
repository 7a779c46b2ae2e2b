/** OpenAI's chat and text completions and model list, as vLLM serves them. */
import { randomUUID } from 'node:crypto';
import type { ToolCall } from '../../chat/tools.js';
import type { GenerateResult, OutputFormat, Sampling, TokenLogprob } from '../../engine/types.js';
import type { Engine } from '../../engine/types.js';
import { badRequest, disconnectSignal, EventStream, sendJson } from '../http.js';
import { logitBias, messageList, optBool, optNumber, optObject, optString, stopList, tokenIdList } from '../fields.js';
import { MESSAGE_RULES, OPENAI_CHAT_RULES, OPENAI_COMPLETION_RULES, refuseUnsupported } from '../fieldRules.js';
import { generate, generateEach, type GenerationJob } from '../generation.js';
import type { Ctx, Route } from '../context.js';
import { toolRequest } from '../toolFields.js';
import type { Reply } from '../tools.js';

type Body = Record<string, unknown>;

const now = () => Math.floor(Date.now() / 1000);

/** Sampling fields shared by both endpoints, with OpenAI's defaults (and vLLM's extras top_k, min_p, repetition_penalty). */
function sampling(body: Body, vocabSize: number): Partial<Sampling> {
  return {
    temperature: optNumber(body, 'temperature', { min: 0, max: 2 }) ?? 1,
    topP: optNumber(body, 'top_p', { min: 0, max: 1 }) ?? 1,
    topK: Math.max(0, optNumber(body, 'top_k', { min: -1, int: true }) ?? 0),
    minP: optNumber(body, 'min_p', { min: 0, max: 1 }) ?? 0,
    repeatPenalty: optNumber(body, 'repetition_penalty', { min: 0.01, max: 10 }) ?? 1,
    presencePenalty: optNumber(body, 'presence_penalty', { min: -2, max: 2 }) ?? 0,
    frequencyPenalty: optNumber(body, 'frequency_penalty', { min: -2, max: 2 }) ?? 0,
    seed: optNumber(body, 'seed', { int: true }),
    logitBias: logitBias(body, vocabSize),
  };
}

function maxTokens(body: Body): number | undefined {
  return optNumber(body, 'max_completion_tokens', { min: 1, int: true }) ?? optNumber(body, 'max_tokens', { min: 1, int: true });
}

function responseFormat(body: Body): OutputFormat | undefined {
  const rf = optObject(body, 'response_format');
  if (!rf) return undefined;
  switch (rf.type) {
    case 'text': return undefined;
    case 'json_object': return { type: 'json' };
    case 'json_schema': {
      const js = rf.json_schema as Body | undefined;
      const schema = js?.schema;
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw badRequest('response_format json_schema needs "json_schema": {"name": …, "schema": {…}}', 'response_format.json_schema.schema');
      }
      return { type: 'json_schema', schema };
    }
    default:
      throw badRequest(`response_format.type ${JSON.stringify(rf.type)} is not one of "text", "json_object", "json_schema"`, 'response_format.type');
  }
}

/** `stream` and `stream_options.include_usage`. */
function streaming(body: Body): { stream: boolean; includeUsage: boolean } {
  const stream = optBool(body, 'stream') ?? false;
  const so = optObject(body, 'stream_options');
  const includeUsage = so ? optBool(so, 'include_usage', 'stream_options.include_usage') ?? false : false;
  return { stream, includeUsage };
}

function usage(prompt: number[], choices: GenerateResult[]) {
  const completion = choices.reduce((s, c) => s + c.usage.completionTokens, 0);
  return {
    prompt_tokens: prompt.length,
    completion_tokens: completion,
    total_tokens: prompt.length + completion,
    prompt_tokens_details: { cached_tokens: choices[0]?.usage.cachedTokens ?? 0 },
  };
}

const finish = (r: GenerateResult, reply?: Reply) => (r.finishReason === 'length' ? 'length' : reply?.calls.length ? 'tool_calls' : 'stop');

/** OpenAI's tool_calls: the arguments as a JSON string. */
const toolCalls = (calls: ToolCall[]) => calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));

/** The reply's message; one that is only calls has content null, as OpenAI's has. */
function message(reply: Reply) {
  if (!reply.calls.length) return { role: 'assistant', content: reply.content };
  return { role: 'assistant', content: reply.content || null, tool_calls: toolCalls(reply.calls) };
}

function tokenEntry(engine: Engine, token: number, logprob: number) {
  const text = engine.detokenize([token], true);
  return { token: text, logprob, bytes: [...Buffer.from(text, 'utf8')] };
}

function chatLogprobs(engine: Engine, lps: TokenLogprob[]) {
  return { content: lps.map((l) => ({ ...tokenEntry(engine, l.token, l.logprob), top_logprobs: l.top.map((t) => tokenEntry(engine, t.token, t.logprob)) })) };
}

/** The legacy completions format: parallel lists, and top tokens as {text: logprob}. */
function completionLogprobs(engine: Engine, lps: TokenLogprob[], offset0: number) {
  const tokens = lps.map((l) => engine.detokenize([l.token], true));
  let offset = offset0;
  return {
    tokens,
    token_logprobs: lps.map((l) => l.logprob),
    top_logprobs: lps.map((l) => Object.fromEntries(l.top.map((t) => [engine.detokenize([t.token], true), t.logprob]))),
    text_offset: tokens.map((t) => { const o = offset; offset += t.length; return o; }),
  };
}

async function chatCompletions(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(body.model);
  const messages = messageList(body, 'messages', MESSAGE_RULES);
  refuseUnsupported(body, OPENAI_CHAT_RULES);
  const vocab = model.engine.info.vocabSize;
  const wantLogprobs = optBool(body, 'logprobs') ?? false;
  const top = optNumber(body, 'top_logprobs', { min: 0, max: 20, int: true });
  if (top !== undefined && !wantLogprobs) throw badRequest('"top_logprobs" needs "logprobs": true', 'top_logprobs');
  optString(body, 'user');
  const { stream, includeUsage } = streaming(body);
  const tools = toolRequest(body, true, model);
  const format = responseFormat(body);
  if (format && tools && tools.choice !== 'auto') {
    throw badRequest('"response_format" cannot be used with tool_choice "required" or a named function: the reply is then a tool call, written under its own schema', 'response_format');
  }
  const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  const created = now();
  const job: GenerationJob = {
    model,
    input: { messages, ...(tools ? { tools } : {}) },
    maxTokens: maxTokens(body),
    sampling: sampling(body, vocab),
    stop: stopList(body),
    stopTokens: tokenIdList(body, 'stop_token_ids', vocab),
    n: optNumber(body, 'n', { min: 1, max: 16, int: true }) ?? 1,
    logprobs: wantLogprobs ? top ?? 0 : undefined,
    format,
    ignoreEos: optBool(body, 'ignore_eos'),
    signal: disconnectSignal(c.res),
  };
  const engine = model.engine;
  if (!stream) {
    const out = await generate(job, c.metrics);
    if (job.signal.aborted) return;
    sendJson(c.res, 200, {
      id, object: 'chat.completion', created, model: model.id, system_fingerprint: null,
      choices: out.choices.map((r, index) => ({
        index,
        message: message(out.replies[index]),
        logprobs: r.logprobs ? chatLogprobs(engine, r.logprobs) : null,
        finish_reason: finish(r, out.replies[index]),
      })),
      usage: usage(out.prompt, out.choices),
    });
    return;
  }
  const es = new EventStream(c.res, 'sse');
  job.signal = es.signal;
  const chunk = (choices: unknown[], extra: Body = {}) =>
    es.send({ id, object: 'chat.completion.chunk', created, model: model.id, system_fingerprint: null, choices, ...(includeUsage ? { usage: null } : {}), ...extra });
  let started = false;
  // The role chunk waits for the first token, so an error before it (a prompt too long, a bad schema) is still an HTTP status.
  const start = () => {
    if (started) return;
    started = true;
    for (let index = 0; index < job.n; index++) chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
  };
  job.onDelta = (index, text, lps) => {
    start();
    chunk([{ index, delta: { content: text }, logprobs: job.logprobs !== undefined ? chatLogprobs(engine, lps) : null, finish_reason: null }]);
  };
  const out = await generate(job, c.metrics);
  start();
  // Each call as the openai SDK's stream helpers put it together: its id, type and name first, then its arguments.
  out.replies.forEach((reply, index) => reply.calls.forEach((call, i) => {
    const [head] = toolCalls([call]);
    chunk([{ index, delta: { tool_calls: [{ index: i, ...head, function: { name: call.name, arguments: '' } }] }, logprobs: null, finish_reason: null }]);
    chunk([{ index, delta: { tool_calls: [{ index: i, function: { arguments: head.function.arguments } }] }, logprobs: null, finish_reason: null }]);
  }));
  out.choices.forEach((r, index) => chunk([{ index, delta: {}, logprobs: null, finish_reason: finish(r, out.replies[index]) }]));
  if (includeUsage) es.send({ id, object: 'chat.completion.chunk', created, model: model.id, system_fingerprint: null, choices: [], usage: usage(out.prompt, out.choices) });
  es.end();
}

/** `prompt`: a string, a list of strings, a list of token ids, or a list of those lists. */
function prompts(body: Body): GenerationJob['input'][] {
  const p = body.prompt;
  const isTokens = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
  if (typeof p === 'string') return [{ prompt: p }];
  if (isTokens(p)) return [{ tokens: p as number[] }];
  if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' || isTokens(x))) {
    return p.map((x) => (typeof x === 'string' ? { prompt: x } : { tokens: x as number[] }));
  }
  throw badRequest('"prompt" must be a string, a list of strings, or token ids', 'prompt');
}

async function completions(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(body.model);
  const inputs = prompts(body);
  const vocab = model.engine.info.vocabSize;
  if (inputs.some((i) => 'tokens' in i && i.tokens.some((t) => t >= vocab))) throw badRequest(`token ids in "prompt" must be below the vocabulary size ${vocab}`, 'prompt');
  if (inputs.some((i) => 'prompt' in i && i.prompt === '')) throw badRequest('"prompt" is empty', 'prompt');
  const lp = optNumber(body, 'logprobs', { min: 0, max: 20, int: true });
  const echo = optBool(body, 'echo') ?? false;
  if (body.suffix !== undefined && body.suffix !== null) throw badRequest('"suffix" (fill-in-the-middle) is not supported by Llama-3 models', 'suffix');
  refuseUnsupported(body, OPENAI_COMPLETION_RULES);
  const { stream, includeUsage } = streaming(body);
  const n = optNumber(body, 'n', { min: 1, max: 16, int: true }) ?? 1;
  // OpenAI's best_of samples that many and answers the n most likely; best_of = n is plain sampling.
  const bestOf = optNumber(body, 'best_of', { min: 1, int: true });
  if (bestOf !== undefined && bestOf < n) throw badRequest(`"best_of" (${bestOf}) must be at least "n" (${n})`, 'best_of');
  if (bestOf !== undefined && bestOf > n) throw badRequest('"best_of" above "n" is not supported: ask for "n" choices with "logprobs" and pick the best yourself', 'best_of');
  const id = `cmpl-${randomUUID().replaceAll('-', '')}`;
  const created = now();
  const engine = model.engine;
  const base = {
    // OpenAI's and vLLM's default is 16 tokens; an explicit null (vLLM's None) means until the context is full.
    model, maxTokens: body.max_tokens === null && body.max_completion_tokens === undefined ? undefined : maxTokens(body) ?? 16, sampling: sampling(body, vocab), stop: stopList(body), stopTokens: tokenIdList(body, 'stop_token_ids', vocab),
    n, logprobs: lp, ignoreEos: optBool(body, 'ignore_eos'),
    // vLLM takes response_format here too; read it, or a schema would be dropped and the reply unconstrained.
    format: responseFormat(body),
  };
  const es = stream ? new EventStream(c.res, 'sse') : undefined;
  const signal = es?.signal ?? disconnectSignal(c.res);
  const chunk = (choices: unknown[], extra: Body = {}) =>
    es!.send({ id, object: 'text_completion', created, model: model.id, system_fingerprint: null, choices, ...(includeUsage ? { usage: null } : {}), ...extra });
  const echoText = (input: GenerationJob['input']) => ('prompt' in input ? input.prompt : 'tokens' in input ? engine.detokenize(input.tokens) : '');
  // Each prompt's n choices are numbered prompt × n + choice, as OpenAI does.
  const outs = await generateEach(inputs.map((input, p) => {
    const offsets = new Array<number>(n).fill(0);
    return {
      ...base, input, signal,
      onStart: es && echo ? () => { for (let i = 0; i < n; i++) chunk([{ index: p * n + i, text: echoText(input), logprobs: null, finish_reason: null }]); } : undefined,
      onDelta: es ? (i: number, text: string, lps: TokenLogprob[]) => {
        const logprobs = lp !== undefined ? completionLogprobs(engine, lps, offsets[i]) : null;
        offsets[i] += text.length;
        chunk([{ index: p * n + i, text, logprobs, finish_reason: null }]);
      } : undefined,
    };
  }), c.metrics);
  if (signal.aborted) return;
  const all = outs.flatMap((o) => o.choices);
  const total = outs.reduce((u, o) => {
    const x = usage(o.prompt, o.choices);
    return { prompt_tokens: u.prompt_tokens + x.prompt_tokens, completion_tokens: u.completion_tokens + x.completion_tokens, total_tokens: u.total_tokens + x.total_tokens };
  }, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  if (es) {
    all.forEach((r, index) => chunk([{ index, text: '', logprobs: null, finish_reason: finish(r) }]));
    if (includeUsage) es.send({ id, object: 'text_completion', created, model: model.id, choices: [], usage: total });
    es.end();
    return;
  }
  sendJson(c.res, 200, {
    id, object: 'text_completion', created, model: model.id, system_fingerprint: null,
    choices: all.map((r, index) => {
      const prefix = echo ? echoText(inputs[Math.floor(index / n)]) : '';
      return { index, text: prefix + r.text, logprobs: r.logprobs ? completionLogprobs(engine, r.logprobs, prefix.length) : null, finish_reason: finish(r) };
    }),
    usage: total,
  });
}

/** The model loaded for embeddings only (serve --embedding-model), which clients pick from this list too. */
function embeddingOnly(c: Ctx) {
  const e = c.models.embedder;
  if (!e?.separate) return [];
  return [{ id: e.id, object: 'model', created: e.created, owned_by: 'llama3-zh', root: e.engine.info.path, parent: null, max_model_len: e.engine.info.embedding?.maxTokens }];
}

async function listModels(c: Ctx) {
  sendJson(c.res, 200, {
    object: 'list',
    data: [...c.models.all.map((m) => ({
      id: m.id,
      object: 'model',
      created: m.created,
      owned_by: 'llama3-zh',
      root: m.adapterPath ?? m.engine.info.path,
      parent: m.parent ?? null,
      max_model_len: m.engine.info.contextSize,
      ...(m.demoNotice ? { demo: true, description: m.demoNotice } : {}),
    })), ...embeddingOnly(c)],
  });
}

export const openaiRoutes: Route[] = [
  { method: 'POST', path: '/v1/chat/completions', family: 'openai', handler: chatCompletions },
  { method: 'POST', path: '/v1/completions', family: 'openai', handler: completions },
  { method: 'GET', path: '/v1/models', family: 'openai', handler: listModels },
];
