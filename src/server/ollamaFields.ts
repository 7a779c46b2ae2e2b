/**
 * ollama's request fields and reply pieces, shared by the local ollama routes (routes/ollama.ts) and the gateway's
 * (gateway/ollama.ts), so that both read a request the same way and refuse the same things with the same words.
 */
import type { ToolCall } from '../chat/tools.js';
import type { OutputFormat, Sampling } from '../engine/types.js';
import { optNumber, optObject, optString, stopList } from './fields.js';
import { OLLAMA_OPTION_RULES, refuseUnsupported } from './fieldRules.js';
import { badRequest } from './http.js';

type Body = Record<string, unknown>;

export interface OllamaOptions {
  sampling: Partial<Sampling> & Pick<Sampling, 'temperature' | 'topP' | 'topK' | 'minP' | 'repeatPenalty' | 'repeatLastN' | 'presencePenalty' | 'frequencyPenalty'>;
  maxTokens?: number;
  stop: string[];
  /** Whether the request set repeat_last_n itself (OpenAI's API has no such field; only some backends take it). */
  repeatLastNGiven: boolean;
}

/**
 * `options`: ollama's sampling names, with ollama's defaults. Its runner settings (num_gpu, num_thread, num_batch,
 * use_mmap…) and options ollama itself now ignores (tfs_z, penalize_newline) leave the reply as it is: accepted.
 * `checkNumCtx` refuses a num_ctx above the context that answers (ollama would load the model again for it).
 */
export function ollamaOptions(body: Body, checkNumCtx: (numCtx: number) => void): OllamaOptions {
  const o = optObject(body, 'options') ?? {};
  const at = (k: string) => `options.${k}`;
  refuseUnsupported(o, OLLAMA_OPTION_RULES, 'options.');
  const numCtx = optNumber(o, 'num_ctx', { int: true, min: 1 }, at('num_ctx'));
  if (numCtx !== undefined) checkNumCtx(numCtx);
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
    repeatLastNGiven: o.repeat_last_n !== undefined && o.repeat_last_n !== null,
  };
}

/** `format`: "json" or a JSON schema object. */
export function ollamaFormat(body: Body): OutputFormat | undefined {
  const f = body.format;
  if (f === undefined || f === null || f === '') return undefined;
  if (f === 'json') return { type: 'json' };
  if (typeof f === 'object' && !Array.isArray(f)) return { type: 'json_schema', schema: f };
  throw badRequest('"format" must be "json" or a JSON schema object', 'format');
}

/** ollama's tool_calls (0.12.10 and later): an id, and the function with its place in the reply and the arguments as an object. */
export const ollamaToolCalls = (calls: ToolCall[]) => calls.map((c, index) => ({ id: c.id, function: { index, name: c.name, arguments: c.arguments } }));

/** Milliseconds as ollama's durations: nanoseconds, whole. */
export const ns = (ms: number) => Math.round(ms * 1e6);

/** A string field the request cannot do without ("model"). */
export function requiredString(body: Body, key: string): string {
  const v = optString(body, key);
  if (!v) throw badRequest(`"${key}" is required`, key);
  return v;
}

/** /api/generate's `suffix`: no Llama-3 model fills in the middle. */
export function refuseSuffix(body: Body) {
  if (body.suffix) throw badRequest('"suffix" (fill-in-the-middle) is not supported by Llama-3 models');
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/**
 * /api/embed's `input`: a string or a list of strings; undefined for none at all, which is ollama's way to load the
 * model (an empty answer). An empty string inside a list is embedded, as ollama does (its EmbedHandler keeps it; its
 * runner embeds the BOS the tokenizer adds), so one empty chunk of a document does not fail the whole batch.
 */
export function ollamaEmbedInputs(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) return undefined;
  if (typeof v !== 'string' && !Array.isArray(v)) throw badRequest(`"input" must be a string or a list of strings (got ${typeOf(v)})`, 'input');
  return typeof v === 'string' ? [v] : v.map((x, i) => {
    if (typeof x !== 'string') throw badRequest(`"input[${i}]" must be a string (got ${typeOf(x)})`, `input[${i}]`);
    return x;
  });
}
