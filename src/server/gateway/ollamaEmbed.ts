/**
 * ollama's /api/embed and older /api/embeddings over the backends' /v1/embeddings. What differs from the local
 * routes (routes/embeddings.ts): an input longer than a backend embeds is its 400, not cut (the OpenAI API has no
 * truncation, and the gateway has no tokenizer), so options.num_ctx is refused; and /api/embeddings' vectors are
 * unit vectors, as the OpenAI API gives them, not the model's own.
 */
import { normalize } from '../embedding.js';
import { ApiError, badRequest, disconnectSignal, sendJson } from '../http.js';
import { optBool, optNumber, optObject, optString } from '../fields.js';
import type { Ctx, Route } from '../context.js';
import { ns, ollamaEmbedInputs, requiredString } from '../ollamaFields.js';
import { replyJson } from './backendReply.js';
import { listedModel, modelName } from './models.js';
import type { Upstream } from './types.js';

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

/** options.num_ctx asks for inputs to be cut (or refused) at fewer tokens than the model takes: not possible here. */
function refuseNumCtx(body: Body) {
  const o = optObject(body, 'options') ?? {};
  if (optNumber(o, 'num_ctx', { int: true, min: 1 }, 'options.num_ctx') === undefined) return;
  throw badRequest('"options.num_ctx" is not supported through the gateway: the backends embed each input whole, up to their own limit; leave it out', 'options.num_ctx');
}

/** The model is there (a request with nothing to embed only loads it: 200 if some backend serves it). */
function known(up: Upstream, name: string): string {
  const m = listedModel(up, name);
  if (!m) throw new ApiError(404, `the model "${name}" does not exist; the backends have: ${up.models().map((x) => x.id).join(', ') || 'none (no backend is up)'}`, 'invalid_request_error', 'model', 'model_not_found');
  return m.id;
}

/** The vectors of `inputs`, in order, and the tokens the backend counted. */
async function embedAll(up: Upstream, model: string, inputs: string[], signal: AbortSignal): Promise<{ vectors: number[][]; tokens: number } | undefined> {
  let data: Body;
  try {
    data = await replyJson(await up.post('/v1/embeddings', { model, input: inputs, encoding_format: 'float' }, signal));
  } catch (e) {
    if (signal.aborted) return undefined;
    throw e;
  }
  const items = Array.isArray(data.data) ? data.data.filter(isObject) : [];
  const vectors = items.sort((a, b) => Number(a.index) - Number(b.index)).map((d) => d.embedding);
  if (vectors.length !== inputs.length || !vectors.every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
    throw new ApiError(502, `a backend answered ${vectors.length} embeddings for ${inputs.length} inputs, or not as lists of numbers`, 'server_error');
  }
  const usage = isObject(data.usage) ? data.usage : {};
  return { vectors: vectors as number[][], tokens: typeof usage.prompt_tokens === 'number' ? usage.prompt_tokens : 0 };
}

function embed(up: Upstream) {
  return async (c: Ctx) => {
    const body = await c.body();
    const name = requiredString(body, 'model');
    optBool(body, 'truncate');
    const dimensions = optNumber(body, 'dimensions', { min: 1, int: true });
    refuseNumCtx(body);
    const inputs = ollamaEmbedInputs(body.input);
    if (!inputs) {
      sendJson(c.res, 200, { model: known(up, name), embeddings: [] });
      return;
    }
    const model = modelName(up, name);
    const t0 = performance.now();
    const out = await embedAll(up, model, inputs, disconnectSignal(c.res));
    if (!out) return;
    // Checked once the size is known: the backends' listings do not give it.
    const size = out.vectors[0]?.length ?? 0;
    if (dimensions !== undefined && dimensions > size) throw badRequest(`"dimensions" is ${dimensions}, but this model's embeddings have ${size} numbers`, 'dimensions');
    sendJson(c.res, 200, {
      model,
      // ollama normalises, then cuts to `dimensions` and normalises again.
      embeddings: out.vectors.map((x) => (dimensions !== undefined && dimensions < x.length ? normalize(normalize(x).slice(0, dimensions)) : normalize(x))),
      total_duration: ns(performance.now() - t0),
      load_duration: 0,
      prompt_eval_count: out.tokens,
    });
  };
}

function embeddings(up: Upstream) {
  return async (c: Ctx) => {
    const body = await c.body();
    const name = requiredString(body, 'model');
    const prompt = optString(body, 'prompt');
    refuseNumCtx(body);
    if (!prompt) {
      known(up, name);
      sendJson(c.res, 200, { embedding: [] });
      return;
    }
    const out = await embedAll(up, modelName(up, name), [prompt], disconnectSignal(c.res));
    if (!out) return;
    sendJson(c.res, 200, { embedding: out.vectors[0] });
  };
}

export const gatewayEmbeddingRoutes = (up: Upstream): Array<Omit<Route, 'family' | 'whileLoading'>> => [
  { method: 'POST', path: '/api/embed', handler: embed(up) },
  { method: 'POST', path: '/api/embeddings', handler: embeddings(up) },
];
