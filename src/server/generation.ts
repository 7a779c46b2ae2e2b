import type { Message } from '../chat/messages.js';
import { type ChatModel, promptOf } from '../chat/model.js';
import type { ToolRequest } from '../chat/tools.js';
import { contextOverflow } from '../engine/errors.js';
import type { GenerateResult, OutputFormat, Sampling, TokenLogprob } from '../engine/types.js';
import { ApiError } from './http.js';
import type { Metrics } from './metrics.js';
import type { ServedModel } from './models.js';
import { forcedFormat, pythonTag, type Reply, ReplyTools, toolPrompt } from './tools.js';

/**
 * The one internal request every API (OpenAI, ollama, the simple API, the web UI) translates to: a
 * conversation rendered with the model's template, or a raw prompt, and how to generate from it.
 */
export interface GenerationJob {
  model: ServedModel;
  /** With `tools`, the tools are offered in the prompt and each reply's calls are read out of it (tools.ts). */
  input: { messages: Message[]; tools?: ToolRequest } | { prompt: string } | { tokens: number[] };
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
  /** Called when the job starts decoding (a prompt of a many-prompt request waits for its wave). */
  onStart?: () => void;
  /** Streamed content of choice `index`, with the log-probabilities of the tokens that made it (a tool call's text is not content). */
  onDelta?: (index: number, text: string, logprobs: TokenLogprob[]) => void;
}

export interface GenerationOutput {
  prompt: number[];
  choices: GenerateResult[];
  /** Each choice as the client sees it: its content and its tool calls. */
  replies: Reply[];
  /** From arrival to the end, in ms. */
  totalMs: number;
  /** Waiting in the queue, in ms. */
  queuedMs: number;
}

export function renderPrompt(model: ChatModel, input: GenerationJob['input']): number[] {
  if ('tokens' in input) return input.tokens;
  if ('messages' in input) return toolPrompt(model, input.messages, input.tools);
  // A raw prompt is the client's own markup, special tokens and all.
  return promptOf(model, input);
}

/**
 * Run tasks side by side (the choices of one request, the waves of one completions call). When one fails,
 * the others are aborted and awaited before the error goes on, so nothing keeps decoding for a request
 * that has already been answered, and no sequence is counted free while still in use. The error that goes
 * on is the one that caused the abort, not a sibling's AbortError (which reads as "the client left").
 */
export async function allOrNothing<T>(signal: AbortSignal, tasks: Array<(signal: AbortSignal) => Promise<T>>): Promise<T[]> {
  const ac = new AbortController();
  // AbortSignal.any links signals without adding an abort listener, so many tasks pile no listeners up.
  const both = AbortSignal.any([signal, ac.signal]);
  let cause: { error: unknown } | undefined;
  const settled = await Promise.allSettled(tasks.map((t) => t(both).catch((e: unknown) => {
    cause ??= { error: e };
    ac.abort();
    throw e;
  })));
  if (cause) throw cause.error;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Prompts × n choices one request may ask for; more is a 400 that names the limit. */
export const MAX_CHOICES = 64;

/** The rendered prompt, or a 400 when it does not fit the context. */
function checkedPrompt(job: GenerationJob): number[] {
  const { engine } = job.model;
  const prompt = renderPrompt(job.model, job.input);
  const e = contextOverflow(engine.info, prompt.length);
  if (e) {
    // Checked here, before admission, so a prompt that cannot fit never waits in the queue; the 400 names the field.
    throw new ApiError(400, e.message, 'invalid_request_error', 'messages' in job.input ? 'messages' : 'prompt', 'context_length_exceeded');
  }
  return prompt;
}

export async function generate(job: GenerationJob, metrics: Metrics): Promise<GenerationOutput> {
  return (await generateEach([job], metrics))[0];
}

/**
 * The jobs of one request (a completions call with a list of prompts; same model, n and signal): every prompt is
 * checked first, then the request takes one place in the queue, as vLLM queues a many-prompt request, and runs
 * its prompts in waves of as many as the slots hold. So a long list neither overflows --max-queue by itself nor
 * takes more than the slots it was admitted with.
 */
export async function generateEach(jobs: GenerationJob[], metrics: Metrics): Promise<GenerationOutput[]> {
  const t0 = performance.now();
  const { model, n, signal } = jobs[0];
  if (jobs.length * n > MAX_CHOICES) {
    throw new ApiError(400, `this request asks for ${jobs.length} prompts × ${n} choices; at most ${MAX_CHOICES} in one request: split it`, 'invalid_request_error', 'prompt');
  }
  const prompts = jobs.map(checkedPrompt);
  // n > slots asks for more than the slots and gets acquire's 400 for n.
  const width = Math.min(jobs.length, Math.max(1, Math.floor(model.admission.slots / n)));
  const release = await model.admission.acquire(width * n, signal);
  try {
    const outs = new Array<GenerationOutput>(jobs.length);
    let next = 0;
    await allOrNothing(signal, Array.from({ length: width }, () => async (sig: AbortSignal) => {
      while (next < jobs.length && !sig.aborted) {
        const i = next++;
        outs[i] = await decode(jobs[i], prompts[i], sig, metrics, t0);
      }
    }));
    return outs;
  } finally {
    release();
  }
}

/** One prompt's n choices, decoded side by side on sequences already admitted. */
async function decode(job: GenerationJob, prompt: number[], signal: AbortSignal, metrics: Metrics, t0: number): Promise<GenerationOutput> {
  const { model } = job;
  const { engine } = model;
  const chat = 'messages' in job.input;
  const tools = 'messages' in job.input ? job.input.tools : undefined;
  const queuedMs = performance.now() - t0;
  job.onStart?.();
  const replies = new Array<Reply>(job.n);
  const tag = tools && pythonTag(model);
  const choices = await allOrNothing(signal, Array.from({ length: job.n }, (_, index) => async (signal: AbortSignal) => {
    let first: number | undefined;
    const pending: TokenLogprob[] = [];
    const held = tools && new ReplyTools(model, tools, tag);
    const r = await engine.generate({
      prompt,
      maxTokens: job.maxTokens ?? Infinity,
      // Each of n choices gets its own seed, or they would all be the same reply. llama.cpp reads the seed modulo
      // 2^32, and past 2^53 JavaScript's seed + 1 is the seed itself: so the index goes onto the seed as it reads it.
      sampling: job.sampling.seed !== undefined ? { ...job.sampling, seed: (job.sampling.seed % 2 ** 32) + index } : job.sampling,
      stopTokens: [...(chat ? model.stopTokens : []), ...(job.stopTokens ?? [])],
      stopStrings: [...(chat ? model.stopStrings : []), ...job.stop],
      signal,
      ignoreEndOfGeneration: job.ignoreEos,
      logprobs: job.logprobs,
      // A forced tool call (tool_choice "required" or a named function) is written under its schema's grammar.
      format: job.format ?? forcedFormat(model, tools),
      onToken: (t, lp) => {
        first ??= performance.now();
        held?.token(t);
        metrics.token();
        if (lp) pending.push(lp);
      },
      onText: (delta) => {
        const piece = held ? held.push(delta, pending.splice(0)) : { text: delta, logprobs: pending.splice(0) };
        if (piece) job.onDelta?.(index, piece.text, piece.logprobs);
      },
    });
    const done = held?.end(r.text, r.finishReason);
    if (done?.rest) job.onDelta?.(index, done.rest.text, done.rest.logprobs);
    replies[index] = done?.reply ?? { content: r.text, calls: [] };
    const end = performance.now();
    metrics.finished({
      promptTokens: index === 0 ? r.usage.promptTokens : 0,
      cachedTokens: index === 0 ? r.usage.cachedTokens : 0,
      ttftSeconds: first !== undefined ? (first - t0) / 1000 : undefined,
      secondsPerToken: first !== undefined && r.tokens.length > 1 ? (end - first) / 1000 / (r.tokens.length - 1) : undefined,
    });
    return r;
  }));
  return { prompt, choices, replies, totalMs: performance.now() - t0, queuedMs };
}
