/**
 * Embeddings for retrieval: OpenAI's /v1/embeddings (what the openai SDK, LangChain's and LlamaIndex's OpenAI
 * embeddings send) and ollama's /api/embed and older /api/embeddings. All three are one embedding job
 * (../embedding.ts); they differ in their fields, their errors and their normalisation: OpenAI's and /api/embed's
 * vectors are unit vectors, /api/embeddings' are the model's own, as ollama gives them.
 */
import type { EmbeddingInfo } from '../../engine/types.js';
import { base64Floats, embed, normalize } from '../embedding.js';
import { badRequest, disconnectSignal, sendJson } from '../http.js';
import { optBool, optNumber, optObject, optString } from '../fields.js';
import { type FieldRule, refuseUnsupported } from '../fieldRules.js';
import type { Ctx, Route } from '../context.js';
import { ollamaEmbedInputs } from '../ollamaFields.js';

type Body = Record<string, unknown>;

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
const ns = (ms: number) => Math.round(ms * 1e6);
const INPUT_HINT = 'a string, a list of strings, token ids, or a list of token-id lists';

/** Fields of llama-server's and vLLM's embeddings APIs this server does not implement (fieldRules.ts's rule). */
const EMBEDDING_RULES: FieldRule[] = [
  { field: 'embd_normalize', fine: (v) => v === 2, why: 'other than 2 is not supported: the vectors are unit vectors (Euclidean normalisation), as OpenAI\'s are' },
  { field: 'truncate_prompt_tokens', fine: () => false, why: 'is not supported: an input over the limit is refused, never cut; shorten it' },
];

/** Token ids of this model: a non-empty list of whole numbers below the vocabulary size. */
function tokenIds(v: unknown[], at: string, vocabSize: number): number[] {
  if (v.length === 0) throw badRequest(`"${at}" is an empty list of token ids; send at least one`, at);
  if (v.some((t) => !Number.isInteger(t) || (t as number) < 0 || (t as number) >= vocabSize)) {
    throw badRequest(`"${at}" must be token ids of this model: whole numbers from 0 to ${vocabSize - 1}`, at);
  }
  return v as number[];
}

/** OpenAI's `input`: a string, a list of strings, a list of token ids, or a list of those lists (llama-server takes them mixed). */
function openaiInputs(body: Body, vocabSize: number): Array<string | number[]> {
  const v = body.input;
  if (v === undefined || v === null) throw badRequest(`"input" is required: ${INPUT_HINT}`, 'input');
  if (typeof v === 'string') {
    if (!v) throw badRequest('"input" is an empty string; send the text to embed', 'input');
    return [v];
  }
  if (!Array.isArray(v)) throw badRequest(`"input" must be ${INPUT_HINT} (got ${typeOf(v)})`, 'input');
  if (v.length === 0) throw badRequest('"input" is an empty list; send at least one text', 'input');
  if (v.every((x) => typeof x === 'number')) return [tokenIds(v, 'input', vocabSize)];
  return v.map((x, i) => {
    const at = `input[${i}]`;
    if (typeof x === 'string') {
      if (!x) throw badRequest(`"${at}" is an empty string; every input needs text to embed`, at);
      return x;
    }
    if (Array.isArray(x)) return tokenIds(x, at, vocabSize);
    throw badRequest(`"${at}" must be a string or a list of token ids (got ${typeOf(x)}); "input" is ${INPUT_HINT}`, at);
  });
}

/** `dimensions` must be the model's own size: a decoder's vectors cannot be shortened (they are not Matryoshka-trained). */
function checkDimensions(body: Body, info: EmbeddingInfo) {
  const d = optNumber(body, 'dimensions', { min: 1, int: true });
  if (d !== undefined && d !== info.size) {
    throw badRequest(`"dimensions" is ${d}, but this model's embeddings have ${info.size} numbers, and they cannot be shortened; send ${info.size} or leave it out`, 'dimensions');
  }
}

async function openaiEmbeddings(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolveEmbedder(body.model);
  const info = model.engine.info;
  const inputs = openaiInputs(body, info.vocabSize);
  const format = optString(body, 'encoding_format') ?? 'float';
  if (format !== 'float' && format !== 'base64') throw badRequest(`"encoding_format" is ${JSON.stringify(format)}; use "float" or "base64"`, 'encoding_format');
  checkDimensions(body, info.embedding!);
  optString(body, 'user');
  refuseUnsupported(body, EMBEDDING_RULES);
  const signal = disconnectSignal(c.res);
  const one = typeof body.input === 'string' || (body.input as unknown[]).every((x) => typeof x === 'number');
  const out = await embed({ model, inputs, field: (i) => (one ? 'input' : `input[${i}]`), signal }, c.metrics);
  if (signal.aborted) return;
  const tokens = out.tokens.reduce((a, b) => a + b, 0);
  sendJson(c.res, 200, {
    object: 'list',
    data: out.vectors.map((v, index) => {
      const unit = normalize(v);
      return { object: 'embedding', index, embedding: format === 'base64' ? base64Floats(unit) : unit };
    }),
    model: model.id,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

/** ollama's options.num_ctx: fewer tokens per input than the server's limit; more is a 400 (the context is fixed at start). */
function numCtx(body: Body, info: EmbeddingInfo): number | undefined {
  const o = optObject(body, 'options') ?? {};
  const n = optNumber(o, 'num_ctx', { int: true, min: 1 }, 'options.num_ctx');
  if (n !== undefined && n > info.maxTokens) {
    throw badRequest(`"options.num_ctx" is ${n}, but this server embeds at most ${info.maxTokens} tokens per input; start it with --embedding-ctx-size ${n}, or ask for less`, 'options.num_ctx');
  }
  return n;
}

function requiredModel(body: Body): string {
  const v = optString(body, 'model');
  if (!v) throw badRequest('"model" is required', 'model');
  return v;
}

/** ollama's /api/embed: unit vectors, truncate (default true) cuts inputs to the context, dimensions shortens them. */
async function ollamaEmbed(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolveEmbedder(requiredModel(body));
  const info = model.engine.info.embedding!;
  const v = body.input;
  const truncate = optBool(body, 'truncate') ?? true;
  const dimensions = optNumber(body, 'dimensions', { min: 1, int: true });
  if (dimensions !== undefined && dimensions > info.size) throw badRequest(`"dimensions" is ${dimensions}, but this model's embeddings have ${info.size} numbers`, 'dimensions');
  const limit = numCtx(body, info);
  const inputs = ollamaEmbedInputs(v);
  // No input at all is ollama's way to load the model: an empty answer.
  if (!inputs) {
    sendJson(c.res, 200, { model: model.id, embeddings: [] });
    return;
  }
  const signal = disconnectSignal(c.res);
  const out = await embed({ model, inputs, field: (i) => (typeof v === 'string' ? 'input' : `input[${i}]`), limit, truncate, signal }, c.metrics);
  if (signal.aborted) return;
  sendJson(c.res, 200, {
    model: model.id,
    // ollama normalises, then cuts to `dimensions` and normalises again.
    embeddings: out.vectors.map((x) => (dimensions !== undefined && dimensions < x.length ? normalize(normalize(x).slice(0, dimensions)) : normalize(x))),
    total_duration: ns(out.totalMs),
    load_duration: ns(out.queuedMs),
    prompt_eval_count: out.tokens.reduce((a, b) => a + b, 0),
  });
}

/** ollama's older /api/embeddings: one prompt, the model's own vector (not normalised), no truncation. */
async function ollamaEmbeddings(c: Ctx) {
  const body = await c.body();
  const model = c.models.resolveEmbedder(requiredModel(body));
  const prompt = optString(body, 'prompt');
  const limit = numCtx(body, model.engine.info.embedding!);
  if (!prompt) {
    sendJson(c.res, 200, { embedding: [] });
    return;
  }
  const signal = disconnectSignal(c.res);
  const out = await embed({ model, inputs: [prompt], field: () => 'prompt', limit, signal }, c.metrics);
  if (signal.aborted) return;
  if (!out.vectors[0].every(Number.isFinite)) throw new Error('the model gave an embedding with NaN or infinite values');
  sendJson(c.res, 200, { embedding: out.vectors[0] });
}

export const embeddingRoutes: Route[] = [
  { method: 'POST', path: '/v1/embeddings', family: 'openai', handler: openaiEmbeddings },
  { method: 'POST', path: '/api/embed', family: 'ollama', handler: ollamaEmbed },
  { method: 'POST', path: '/api/embeddings', family: 'ollama', handler: ollamaEmbeddings },
];
