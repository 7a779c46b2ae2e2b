/**
 * ollama's native API (/api/*) in front of the backends (`serve --backend`): each request is read as the local
 * routes read it (../ollamaFields.ts, the same refusals in the same words) and sent on as an OpenAI request; the
 * reply comes back in ollama's shape, streamed as NDJSON or whole. What cannot be known remotely is said below
 * where it is left out: `context` (no token ids), a model's file details, and the engine's own timings.
 */
import { createHash } from 'node:crypto';
import type { Message } from '../../chat/messages.js';
import type { ToolCall } from '../../chat/tools.js';
import { ApiError, badRequest, disconnectSignal, drained, EventStream, sendJson } from '../http.js';
import { messageList, optBool, optString } from '../fields.js';
import { MESSAGE_RULES, OLLAMA_RULES, refuseUnsupported } from '../fieldRules.js';
import type { Ctx, Route } from '../context.js';
import { ns, ollamaFormat, ollamaOptions, ollamaToolCalls, refuseSuffix, requiredString } from '../ollamaFields.js';
import { toolRequest } from '../toolFields.js';
import { complete, type Completion } from './completion.js';
import { listedModel, modelName } from './models.js';
import { gatewayEmbeddingRoutes } from './ollamaEmbed.js';
import { openaiMessages, openaiTools, responseFormat, samplingFields, streamFields } from './openaiRequest.js';
import type { Upstream, UpstreamModel } from './types.js';

type Body = Record<string, unknown>;

/** ollama's last fields; the durations are the gateway's (the OpenAI API reports none), and no model is loaded here. */
function stats(out: Completion) {
  return {
    done_reason: out.finishReason,
    total_duration: ns(out.totalMs),
    load_duration: 0,
    prompt_eval_count: out.promptTokens,
    prompt_eval_duration: ns(out.promptMs),
    eval_count: out.completionTokens,
    eval_duration: ns(out.generationMs),
  };
}

/**
 * Shared by /api/chat and /api/generate, as routes/ollama.ts's `run`: stream NDJSON or answer once, the tool calls
 * streamed in a piece of their own after the text and before the last piece, as ollama's server sends them.
 * `request` is the OpenAI request without its sampling and stream fields.
 */
async function run(c: Ctx, up: Upstream, body: Body, model: string, path: string, request: Body,
  piece: (text: string, calls?: ToolCall[]) => Body) {
  const stream = optBool(body, 'stream') ?? true;
  refuseUnsupported(body, OLLAMA_RULES);
  const limit = listedModel(up, model)?.maxModelLen;
  const options = ollamaOptions(body, (numCtx) => {
    if (limit !== undefined && numCtx > limit) {
      throw badRequest(`"options.num_ctx" is ${numCtx}, but the backends serve "${model}" with a context of ${limit} tokens; start them with a larger one, or ask for less`, 'options.num_ctx');
    }
  });
  // A raw prompt is a text completion, whose max_tokens is 16 unless given; null is vLLM's and llama-server's "no limit".
  const noLimit = path === '/v1/completions' ? { max_tokens: null } : {};
  const full = { model, ...request, ...samplingFields(options, noLimit), ...responseFormat(ollamaFormat(body)), ...streamFields(stream) };
  const head = () => ({ model, created_at: new Date().toISOString() });
  if (!stream) {
    const out = await complete(up, path, full, disconnectSignal(c.res));
    if (!out) return;
    sendJson(c.res, 200, { ...head(), ...piece(out.text, out.calls), done: true, ...stats(out) });
    return;
  }
  const es = new EventStream(c.res, 'ndjson');
  // A backend's error before the first piece is still an HTTP status; after it, app.ts ends the stream with an error line.
  const out = await complete(up, path, full, es.signal, (text) => {
    es.send({ ...head(), ...piece(text), done: false });
    return drained(c.res, up.clientTimeoutMs);
  });
  if (!out) return;
  if (out.calls.length) es.send({ ...head(), ...piece('', out.calls), done: false });
  es.send({ ...head(), ...piece(''), done: true, ...stats(out) });
  es.end();
}

function chat(up: Upstream) {
  return async (c: Ctx) => {
    const body = await c.body();
    const model = modelName(up, requiredString(body, 'model'));
    const messages: Message[] = messageList(body, 'messages', MESSAGE_RULES, false);
    const tools = toolRequest(body, false);
    await run(c, up, body, model, '/v1/chat/completions', { messages: openaiMessages(messages), ...openaiTools(tools) },
      (text, calls) => ({ message: { role: 'assistant', content: text, ...(calls?.length ? { tool_calls: ollamaToolCalls(calls) } : {}) } }));
  };
}

function generate(up: Upstream) {
  return async (c: Ctx) => {
    const body = await c.body();
    const name = requiredString(body, 'model');
    const prompt = optString(body, 'prompt') ?? '';
    const system = optString(body, 'system');
    const raw = optBool(body, 'raw') ?? false;
    refuseSuffix(body);
    if (!prompt) {
      // ollama's way to load a model without generating: here, that some backend serves it.
      const model = listed(up, name).id;
      sendJson(c.res, 200, { model, created_at: new Date().toISOString(), response: '', done: true, done_reason: 'load' });
      return;
    }
    const model = modelName(up, name);
    // No `context` in the last piece: it is the prompt's and the reply's token ids, which an OpenAI API does not
    // give (a backend tokenizes on its own), and ollama has deprecated it; /api/chat's messages carry a conversation.
    const request: Body = raw
      ? { prompt }
      : { messages: openaiMessages([...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: prompt }]) };
    await run(c, up, body, model, raw ? '/v1/completions' : '/v1/chat/completions', request, (text) => ({ response: text }));
  };
}

/** The model a request names, as a live backend lists it; a 404 naming those there are. */
function listed(up: Upstream, name: string): UpstreamModel {
  const m = listedModel(up, name);
  if (m) return m;
  const all = up.models().map((x) => x.id);
  throw new ApiError(404, all.length
    ? `the model "${name}" does not exist; the backends have: ${all.join(', ')}`
    : `the model "${name}" is not served: no backend is up`, 'invalid_request_error', 'model', 'model_not_found');
}

/**
 * ollama's "details". A backend says nothing of its model's file (format, architecture, size, quantization): those
 * are left empty, as ollama leaves what it does not know, rather than guessed.
 */
const details = () => ({ parent_model: '', format: '', family: '', families: [] as string[], parameter_size: '', quantization_level: '' });

const modifiedAt = (m: UpstreamModel) => new Date((m.created ?? 0) * 1000 || Date.now()).toISOString();

function tags(up: Upstream) {
  return async (c: Ctx) => {
    sendJson(c.res, 200, {
      models: up.models().map((m) => ({
        name: m.id,
        model: m.id,
        modified_at: modifiedAt(m),
        // Not known: the weights are on the backends' disks.
        size: 0,
        digest: createHash('sha256').update(m.id).digest('hex'),
        details: details(),
      })),
    });
  };
}

function show(up: Upstream) {
  return async (c: Ctx) => {
    const body = await c.body();
    const m = listed(up, optString(body, 'model') ?? optString(body, 'name') ?? requiredString(body, 'model'));
    sendJson(c.res, 200, {
      license: '',
      modelfile: `FROM ${m.id}`,
      parameters: m.maxModelLen !== undefined ? `num_ctx ${m.maxModelLen}` : '',
      // The backend applies its own chat template, which the OpenAI API does not show.
      template: '',
      details: details(),
      model_info: {
        'general.architecture': 'llama',
        'general.name': m.id,
        // The context the backends serve it with (their max_model_len), the most a request can use.
        ...(m.maxModelLen !== undefined ? { 'llama.context_length': m.maxModelLen } : {}),
      },
      capabilities: ['completion', 'tools'],
      modified_at: modifiedAt(m),
    });
  };
}

function running(up: Upstream) {
  return async (c: Ctx) => {
    sendJson(c.res, 200, {
      models: up.models().map((m) => ({ name: m.id, model: m.id, size: 0, details: details(), ...(m.maxModelLen !== undefined ? { context_length: m.maxModelLen } : {}) })),
    });
  };
}

async function version(c: Ctx) {
  sendJson(c.res, 200, { version: c.version });
}

/** ollama's API over the backends; every route is served without a local model (whileLoading). */
export function gatewayOllamaRoutes(up: Upstream): Route[] {
  const routes: Array<Omit<Route, 'family' | 'whileLoading'>> = [
    { method: 'POST', path: '/api/chat', handler: chat(up) },
    { method: 'POST', path: '/api/generate', handler: generate(up) },
    { method: 'GET', path: '/api/tags', handler: tags(up) },
    { method: 'POST', path: '/api/show', handler: show(up) },
    { method: 'GET', path: '/api/ps', handler: running(up) },
    { method: 'GET', path: '/api/version', public: true, handler: version },
    ...gatewayEmbeddingRoutes(up),
  ];
  return routes.map((r) => ({ ...r, family: 'ollama', whileLoading: true }));
}
