/** ollama's native API (/api/*), so the `ollama` npm client and tools made for ollama work unchanged. */
import { statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Message } from '../../chat/messages.js';
import type { ToolCall } from '../../chat/tools.js';
import { detectTemplateName } from '../../chat/templates.js';
import { readGguf } from '../../gguf/reader.js';
import { summarize } from '../../gguf/summary.js';
import { badRequest, disconnectSignal, EventStream, sendJson } from '../http.js';
import { messageList, optBool, optString } from '../fields.js';
import { MESSAGE_RULES, OLLAMA_RULES, refuseUnsupported } from '../fieldRules.js';
import { generate, type GenerationJob, type GenerationOutput } from '../generation.js';
import type { ServedModel } from '../models.js';
import type { Ctx, Route } from '../context.js';
import { ns, ollamaFormat, ollamaOptions, ollamaToolCalls, refuseSuffix, requiredString as required } from '../ollamaFields.js';
import { toolRequest } from '../toolFields.js';

type Body = Record<string, unknown>;

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
  const contextSize = model.engine.info.contextSize;
  // ollama loads the model again for another num_ctx; this server's context is fixed when it starts.
  const { sampling, maxTokens, stop } = ollamaOptions(body, (numCtx) => {
    if (numCtx > contextSize) {
      throw badRequest(`"options.num_ctx" is ${numCtx}, but this server's context holds ${contextSize} tokens; start it with --ctx-size ${numCtx}, or ask for less`, 'options.num_ctx');
    }
  });
  const job: GenerationJob = { model, input, sampling, maxTokens, stop, n: 1, format: ollamaFormat(body), signal: disconnectSignal(c.res) };
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
    (text, calls) => ({ message: { role: 'assistant', content: text, ...(calls?.length ? { tool_calls: ollamaToolCalls(calls) } : {}) } }),
    (out) => stats(out));
}

async function generateRoute(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolve(required(body, 'model'));
  const prompt = optString(body, 'prompt') ?? '';
  const system = optString(body, 'system');
  const raw = optBool(body, 'raw') ?? false;
  refuseSuffix(body);
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
