import { chatTokens, promptTokens } from '../chat/tokens.js';
import type { Message } from '../chat/messages.js';
import { ContextOverflowError } from '../engine/errors.js';
import type { GenerateResult, OutputFormat, Sampling, TokenLogprob } from '../engine/types.js';
import { ApiError } from './http.js';
import type { Metrics } from './metrics.js';
import type { ServedModel } from './models.js';

/**
 * The one internal request every API (OpenAI, ollama, the simple API, the web UI) translates to: a
 * conversation rendered with the model's template, or a raw prompt, and how to generate from it.
 */
export interface GenerationJob {
  model: ServedModel;
  input: { messages: Message[] } | { prompt: string } | { tokens: number[] };
  /** Default: until the context is full. */
  maxTokens?: number;
  sampling: Partial<Sampling>;
  stop: string[];
  /** Token ids that end the reply, besides the model's own (vLLM's stop_token_ids). */
  stopTokens?: number[];
  /** Independent replies to the same prompt, decoded side by side. */
  n: number;
  logprobs?: number;
  format?: OutputFormat;
  /** Go on past end-of-generation tokens (vLLM's and llama-server's ignore_eos; for benchmarks). */
  ignoreEos?: boolean;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** Streamed text of choice `index`, with the log-probabilities of the tokens that made it. */
  onDelta?: (index: number, text: string, logprobs: TokenLogprob[]) => void;
}

export interface GenerationOutput {
  prompt: number[];
  choices: GenerateResult[];
  /** From arrival to the end, in ms. */
  totalMs: number;
  /** Waiting in the queue, in ms. */
  queuedMs: number;
}

export function renderPrompt(model: ServedModel, input: GenerationJob['input']): number[] {
  if ('tokens' in input) return input.tokens;
  // A conversation's content is text; a raw prompt is the client's own markup, special tokens and all.
  return 'messages' in input ? chatTokens(model.engine, model.template, input.messages) : promptTokens(model.engine, input.prompt);
}

/**
 * Run tasks side by side (the choices of one request, the prompts of one completions call). When one fails,
 * the others are aborted and awaited before the error goes on, so nothing keeps decoding for a request
 * that has already been answered, and no sequence is counted free while still in use.
 */
export async function allOrNothing<T>(signal: AbortSignal, tasks: Array<(signal: AbortSignal) => Promise<T>>): Promise<T[]> {
  const ac = new AbortController();
  const both = AbortSignal.any([signal, ac.signal]);
  const settled = await Promise.allSettled(tasks.map((t) => t(both).catch((e: unknown) => { ac.abort(); throw e; })));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

export async function generate(job: GenerationJob, metrics: Metrics): Promise<GenerationOutput> {
  const t0 = performance.now();
  const { model } = job;
  const { engine } = model;
  const prompt = renderPrompt(model, job.input);
  const ctx = engine.info.contextSize;
  if (prompt.length >= ctx) {
    const e = new ContextOverflowError(prompt.length, ctx, engine.info.trainContextSize);
    throw new ApiError(400, e.message, 'invalid_request_error', 'messages' in job.input ? 'messages' : 'prompt', 'context_length_exceeded');
  }
  const chat = 'messages' in job.input;
  const release = await model.admission.acquire(job.n, job.signal);
  const queuedMs = performance.now() - t0;
  try {
    const choices = await allOrNothing(job.signal, Array.from({ length: job.n }, (_, index) => async (signal: AbortSignal) => {
      let first: number | undefined;
      const pending: TokenLogprob[] = [];
      const r = await engine.generate({
        prompt,
        maxTokens: job.maxTokens ?? Infinity,
        // Each of n choices gets its own seed, or they would all be the same reply.
        sampling: job.sampling.seed !== undefined ? { ...job.sampling, seed: job.sampling.seed + index } : job.sampling,
        stopTokens: [...(chat ? model.stopTokens : []), ...(job.stopTokens ?? [])],
        stopStrings: [...(chat ? model.stopStrings : []), ...job.stop],
        signal,
        ignoreEndOfGeneration: job.ignoreEos,
        logprobs: job.logprobs,
        format: job.format,
        onToken: (_t, lp) => {
          first ??= performance.now();
          metrics.token();
          if (lp) pending.push(lp);
        },
        onText: (delta) => job.onDelta?.(index, delta, pending.splice(0)),
      });
      const end = performance.now();
      metrics.finished({
        promptTokens: index === 0 ? r.usage.promptTokens : 0,
        cachedTokens: index === 0 ? r.usage.cachedTokens : 0,
        ttftSeconds: first !== undefined ? (first - t0) / 1000 : undefined,
        secondsPerToken: first !== undefined && r.tokens.length > 1 ? (end - first) / 1000 / (r.tokens.length - 1) : undefined,
      });
      return r;
    }));
    return { prompt, choices, totalMs: performance.now() - t0, queuedMs };
  } finally {
    release();
  }
}
