/** ollama's native API (/api/*), so the `ollama` npm client and tools made for ollama work unchanged. */
import { statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Message } from '../../chat/messages.js';
import type { ToolCall } from '../../chat/tools.js';
import { detectTemplateName } from '../../chat/templates.js';
import type { OutputFormat, Sampling } from '../../engine/types.js';
import { readGguf } from '../../gguf/reader.js';
import { summarize } from '../../gguf/summary.js';
import { badRequest, disconnectSignal, EventStream, sendJson } from '../http.js';
import { messageList, optBool, optNumber, optObject, optString, stopList } from '../fields.js';
import { MESSAGE_RULES, OLLAMA_OPTION_RULES, OLLAMA_RULES, refuseUnsupported } from '../fieldRules.js';
import { generate, type GenerationJob, type GenerationOutput } from '../generation.js';
import type { ServedModel } from '../models.js';
import type { Ctx, Route } from '../context.js';
import { toolRequest } from '../toolFields.js';

type Body = Record<string, unknown>;

/**
 * `options`: ollama's sampling names, with ollama's defaults. Its runner settings (num_gpu, num_thread, num_batch,
 * use_mmap…) and options ollama itself now ignores (tfs_z, penalize_newline) leave the reply as it is: accepted.
 */
function options(body: Body, contextSize: number): { sampling: Partial<Sampling>; maxTokens?: number; stop: string[] } {
  const o = optObject(body, 'options') ?? {};
  const at = (k: string) => `options.${k}`;
  refuseUnsupported(o, OLLAMA_OPTION_RULES, 'options.');
  // ollama loads the model again for another num_ctx; this server's context is fixed when it starts.
  const numCtx = optNumber(o, 'num_ctx', { int: true, min: 1 }, at('num_ctx'));
  if (numCtx !== undefined && numCtx > contextSize) {
    throw badRequest(`"options.num_ctx" is ${numCtx}, but this server's context holds ${contextSize} tokens; start it with --ctx-size ${numCtx}, or ask for less`, at('num_ctx'));
  }
  const predict = optNumber(o, 'num_predict', { int: true, min: -2 }, at('num_predict'));
  return {
    sampling: {
      temperature: optNumber(o, 'temperature', { min: 0, max: 2 }, at('temperature')) ?? 0.8,
      topP: optNumber(o, 'top_p', { min: 0, max: 1 }, at('top_p')) ?? 0.9,
      topK: optNumber(o, 'top_k', { min: 0, int: true }, at('top_k')) ?? 40,
      minP: optNumber(o, 'min_p', { min: 0, max: 1 }, at('min_p')) ?? 0,
      repeatPenalty: optNumber(o, 'repeat_penalty', { min: 0.01, max: 10 }, at('repeat_penalty')) ?? 1.1,
      repeatLastN: optNumber(o, 'repeat_last_n', { min: 0, int: true }, at('repeat_last_n')) ?? 64,
      presencePenalty: optNumber(o, 'presence_penalty', { min: -2, max: 2 }, at('presence_penalty')) ?? 0,
      frequencyPenalty: optNumber(o, 'frequency_penalty', { min: -2, max: 2 }, at('frequency_penalty')) ?? 0,
      seed: optNumber(o, 'seed', { int: true }, at('seed')),
    },
    // -1 (and ollama's -2, "fill the context") mean no limit.
    maxTokens: predict !== undefined && predict > 0 ? predict : undefined,
    stop: stopList(o, 'stop', at('stop')),
  };
}

/** `format`: "json" or a JSON schema object. */
function format(body: Body): OutputFormat | undefined {
  const f = body.format;
  if (f === undefined || f === null || f === '') return undefined;
  if (f === 'json') return { type: 'json' };
  if (typeof f === 'object' && !Array.isArray(f)) return { type: 'json_schema', schema: f };
  throw badRequest('"format" must be "json" or a JSON schema object', 'format');
}

/** ollama's tool_calls (0.12.10 and later): an id, and the function with its place in the reply and the arguments as an object. */
const toolCalls = (calls: ToolCall[]) => calls.map((c, index) => ({ id: c.id, function: { index, name: c.name, arguments: c.arguments } }));

const ns = (ms: number) => Math.round(ms * 1e6);

/** The timing and count fields ollama ends every reply with (durations in nanoseconds). */
function stats(out: GenerationOutput) {
  const r = out.choices[0];
  return {
    done_reason: r.finishReason === 'length' ? 'length' : 'stop',
    total_duration: ns(out.totalMs),
    load_duration: ns(out.queuedMs),
    prompt_eval_count: r.usage.promptTokens,
    prompt_eval_duration: ns(r.timings.promptMs),
    eval_count: r.usage.completionTokens,
    eval_duration: ns(r.timings.generationMs),
  };
}

/**
 * Shared by /api/chat and /api/generate: stream NDJSON or answer once. A reply's tool calls come as ollama's
 * server sends them: in the message with the rest of the reply, or, streamed, in a piece of their own once the
 * reply has ended (content "", done false), before the last piece (done_reason "stop", as ollama's native API says).
 */
async function run(c: Ctx, body: Body, model: ServedModel, input: GenerationJob['input'],
  piece: (text: string, calls?: ToolCall[]) => Body, last: (out: GenerationOutput) => Body) {
  const stream = optBool(body, 'stream') ?? true;
  refuseUnsupported(body, OLLAMA_RULES);
  const { sampling, maxTokens, stop } = options(body, model.engine.info.contextSize);
  const job: GenerationJob = { model, input, sampling, maxTokens, stop, n: 1, format: format(body), signal: disconnectSignal(c.res) };
  const head = () => ({ model: model.id, created_at: new Date().toISOString() });
  if (!stream) {
    const out = await generate(job, c.metrics);
    if (job.signal.aborted) return;
    sendJson(c.res, 200, { ...head(), ...piece(out.replies[0].content, out.replies[0].calls), done: true, ...last(out) });
    return;
  }
  const es = new EventStream(c.res, 'ndjson');
  job.signal = es.signal;
  job.onDelta = (_i, text) => es.send({ ...head(), ...piece(text), done: false });
  const out = await generate(job, c.metrics);
  if (out.replies[0].calls.length) es.send({ ...head(), ...piece('', out.replies[0].calls), done: false });
  es.send({ ...head(), ...piece(''), done: true, ...last(out) });
  es.end();
}

async function chat(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(required(body, 'model'));
  const messages: Message[] = messageList(body, 'messages', MESSAGE_RULES, false);
  const tools = toolRequest(body, false);
  await run(c, body, model, { messages, ...(tools ? { tools } : {}) },
    (text, calls) => ({ message: { role: 'assistant', content: text, ...(calls?.length ? { tool_calls: toolCalls(calls) } : {}) } }),
    (out) => stats(out));
}

async function generateRoute(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(required(body, 'model'));
  const prompt = optString(body, 'prompt') ?? '';
  const system = optString(body, 'system');
  const raw = optBool(body, 'raw') ?? false;
  if (body.suffix) throw badRequest('"suffix" (fill-in-the-middle) is not supported by Llama-3 models');
  if (!prompt) {
    // ollama's way to load a model without generating.
    sendJson(c.res, 200, { model: model.id, created_at: new Date().toISOString(), response: '', done: true, done_reason: 'load' });
    return;
  }
  const input: GenerationJob['input'] = raw
    ? { prompt }
    : { messages: [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: prompt }] };
  await run(c, body, model, input,
    (text) => ({ response: text }),
    (out) => ({ ...stats(out), context: [...out.prompt, ...out.choices[0].tokens] }));
}

function required(body: Body, key: string): string {
  const v = optString(body, key);
  if (!v) throw badRequest(`"${key}" is required`, key);
  return v;
}

const summaries = new Map<string, ReturnType<typeof summarize>>();

/** ollama's "details" of a model, from its GGUF header (read once). */
function details(m: Pick<ServedModel, 'engine' | 'parent'>) {
  const path = m.engine.info.path;
  if (!summaries.has(path)) summaries.set(path, summarize(readGguf(path, { skipArrays: true }), detectTemplateName));
  const s = summaries.get(path)!;
  // The quantization is the type most weight tensors have (norms stay F32 in every file).
  const quant = Object.entries(s.tensorTypes).filter(([t]) => t !== 'F32').sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  const params = s.parameters >= 1e9 ? `${(s.parameters / 1e9).toFixed(1)}B` : `${Math.round(s.parameters / 1e6)}M`;
  return {
    parent_model: m.parent ?? '',
    format: 'gguf',
    family: s.architecture,
    families: [s.architecture],
    parameter_size: params,
    quantization_level: quant,
  };
}

async function tags(c: Ctx) {
  // A model loaded for embeddings only (serve --embedding-model) is listed too: ollama clients pick embedding models here.
  const embedder = c.models.embedder?.separate ? [{ ...c.models.embedder, parent: undefined, adapterPath: undefined }] : [];
  sendJson(c.res, 200, {
    models: [...c.models.all, ...embedder].map((m) => {
      const st = statSync(m.engine.info.path);
      return {
        name: m.id,
        model: m.id,
        modified_at: st.mtime.toISOString(),
        size: st.size,
        digest: createHash('sha256').update(`${m.engine.info.path}:${st.size}:${st.mtimeMs}:${m.adapterPath ?? ''}`).digest('hex'),
        details: details(m),
      };
    }),
  });
}

async function show(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(optString(body, 'model') ?? optString(body, 'name') ?? required(body, 'model'));
  const info = model.engine.info;
  sendJson(c.res, 200, {
    license: '',
    // A created model's system prompt, as ollama shows a Modelfile's SYSTEM (clients such as Open WebUI display it).
    modelfile: `FROM ${info.path}${model.adapterPath ? `\nADAPTER ${model.adapterPath}` : ''}${model.system !== undefined ? `\nSYSTEM """${model.system}"""` : ''}`,
    parameters: `num_ctx ${info.contextSize}`,
    template: info.chatTemplate ?? model.template.name,
    ...(model.system !== undefined ? { system: model.system } : {}),
    details: details(model),
    model_info: {
      'general.architecture': 'llama',
      'general.name': info.name,
      'llama.context_length': info.trainContextSize,
    },
    // Every template here has a way to call tools (its own, or the Llama-3 JSON calls: chat/tools.ts); ollama's
    // clients look for "tools" before they send any.
    capabilities: ['completion', 'tools'],
    modified_at: statSync(info.path).mtime.toISOString(),
  });
}

async function version(c: Ctx) {
  sendJson(c.res, 200, { version: c.version });
}

async function running(c: Ctx) {
  sendJson(c.res, 200, {
    models: c.models.all.map((m) => ({ name: m.id, model: m.id, size: statSync(m.engine.info.path).size, details: details(m), context_length: m.engine.info.contextSize })),
  });
}

export const ollamaRoutes: Route[] = [
  { method: 'POST', path: '/api/chat', family: 'ollama', handler: chat },
  { method: 'POST', path: '/api/generate', family: 'ollama', handler: generateRoute },
  { method: 'GET', path: '/api/tags', family: 'ollama', handler: tags },
  { method: 'POST', path: '/api/show', family: 'ollama', handler: show },
  { method: 'GET', path: '/api/ps', family: 'ollama', handler: running },
  { method: 'GET', path: '/api/version', family: 'ollama', public: true, whileLoading: true, handler: version },
];
