/**
 * The one embedding request the OpenAI and ollama embedding APIs translate to (as generation.ts is for replies):
 * inputs tokenized and checked before admission, so one that cannot be embedded never waits in the queue; then the
 * request is admitted to the embedding model and its inputs are embedded in order, taking turns with the inputs of
 * the other admitted requests, so a short query is not held up behind a whole batch of documents.
 */
import { ApiError } from './http.js';
import type { Metrics } from './metrics.js';
import type { EmbeddingModel } from './models.js';

/** Inputs in one request: OpenAI's own limit (its API refuses more than 2048). More is a 400 that names the limit. */
export const MAX_EMBEDDING_INPUTS = 2048;

export interface EmbeddingJob {
  model: EmbeddingModel;
  inputs: Array<string | number[]>;
  /** The field each input came from, for errors ("input", "input[3]", "prompt"). */
  field: (index: number) => string;
  /** Tokens an input may have (default: the model's limit); ollama's options.num_ctx asks for fewer. */
  limit?: number;
  /** Cut longer inputs to the limit, keeping their beginning (ollama's truncate); else they are a 400. */
  truncate?: boolean;
  signal: AbortSignal;
}

export interface EmbeddingOutput {
  /** Not normalised: each API normalises as its own does. */
  vectors: number[][];
  /** Tokens of each input, BOS included: what `usage` and ollama's prompt_eval_count count. */
  tokens: number[];
  /** From arrival to the end, in ms. */
  totalMs: number;
  /** Waiting in the queue, in ms. */
  queuedMs: number;
}

export async function embed(job: EmbeddingJob, metrics: Metrics): Promise<EmbeddingOutput> {
  const t0 = performance.now();
  const { engine } = job.model;
  const info = engine.info.embedding!;
  const limit = Math.min(job.limit ?? info.maxTokens, info.maxTokens);
  if (job.inputs.length > MAX_EMBEDDING_INPUTS) {
    throw new ApiError(400, `this request has ${job.inputs.length} inputs; at most ${MAX_EMBEDDING_INPUTS} in one request: split it`, 'invalid_request_error', job.field(0).replace(/\[\d+\]$/, ''));
  }
  const lists = job.inputs.map((input, i) => {
    const tokens = engine.embeddingTokens(input);
    // An empty text of a tokenizer that adds no BOS: nothing to embed (llama-server: "Input content cannot be empty").
    if (tokens.length === 0) throw new ApiError(400, `${job.field(i)} is empty: it has no tokens to embed`, 'invalid_request_error', job.field(i));
    if (tokens.length <= limit) return tokens;
    if (job.truncate) {
      // The tokens the tokenizer adds at the end (BERT's SEP) stay: cut the rest shorter by as many.
      const cut = engine.embeddingTokens(tokens.slice(0, limit));
      return cut.length > limit ? engine.embeddingTokens(tokens.slice(0, 2 * limit - cut.length)) : cut;
    }
    const raise = limit < info.maxTokens ? 'raise "options.num_ctx"' : 'start the server with a larger --embedding-ctx-size';
    throw new ApiError(400, `${job.field(i)} is ${tokens.length} tokens, but at most ${limit} are embedded at once; shorten or split it, or ${raise}`,
      'invalid_request_error', job.field(i), 'context_length_exceeded');
  });
  const release = await job.model.admission.acquire(1, job.signal);
  const queuedMs = performance.now() - t0;
  try {
    const out = await engine.embed(lists, { signal: job.signal });
    metrics.finished({ promptTokens: out.tokens.reduce((a, b) => a + b, 0), cachedTokens: 0 });
    return { ...out, totalMs: performance.now() - t0, queuedMs };
  } finally {
    release();
  }
}

/**
 * L2 normalisation, to the unit vectors OpenAI returns and ollama's /api/embed gives (llama-server's default
 * embd_normalize 2: the sum in double precision; a zero vector stays zero). A NaN or infinite value is a broken
 * model, not a vector to send (ollama refuses it too): an internal error.
 */
export function normalize(v: number[]): number[] {
  let sum = 0;
  for (const x of v) {
    if (!Number.isFinite(x)) throw new Error('the model gave an embedding with NaN or infinite values');
    sum += x * x;
  }
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return v.map((x) => x * scale);
}

/** OpenAI's encoding_format "base64": the vector's float32 values, little-endian, in base64 (the SDKs decode it so). */
export function base64Floats(v: number[]): string {
  const bytes = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}
