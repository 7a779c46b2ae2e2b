import type { FunctionCall } from './record.js';
import { RawText, textOf } from './text.js';

/**
 * JSON as Python's json.dumps(ensure_ascii=False) writes it — ", " and ": " between items — which is how
 * LLaMA-Factory's demo files and glaive's ShareGPT rows hold their `tools` and function_call values, so a row
 * read from them and written back is the same text. Strings escape as JSON.stringify does, which for every
 * string that is valid UTF-8 is what Python writes; numbers are written as JavaScript writes them (Python's 1.0
 * and 1e-05 come back as 1 and 0.00001, so call arguments are never re-serialised: see FunctionCall).
 */
export function pyJson(v: unknown): string {
  if (v instanceof RawText) return JSON.stringify(v.toString());
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}: ${pyJson(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * A ShareGPT function_call value: {"name": …, "arguments": {…}}, or a list of them for parallel calls, as
 * LLaMA-Factory's FunctionFormatter reads it (json.loads; a list is parallel calls) and glaive's rows write it.
 */
export function callJson(calls: FunctionCall[]): string {
  const one = (c: FunctionCall) => `{"name": ${JSON.stringify(textOf(c.name))}, "arguments": ${textOf(c.arguments)}}`;
  return calls.length === 1 ? one(calls[0]) : `[${calls.map(one).join(', ')}]`;
}

/**
 * Several tool results in one ShareGPT observation: LLaMA-Factory's OpenAIDatasetConverter joins consecutive
 * tool messages with this (so that in its templates each result sits in its own <tool_response> block), and
 * the ShareGPT reader splits an observation after N parallel calls back into N results at it.
 */
export const RESULTS_SEP = '\n</tool_response>\n<tool_response>\n';

/** The id a writer gives the k-th call (0-based) of a row that has none: OpenAI's rows need one per call. */
export const defaultCallId = (k: number) => `call_${k + 1}`;
