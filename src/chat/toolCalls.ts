/**
 * What every tool-call syntax shares: reading one call object the way the formats write it, and the rules that
 * keep parsing safe (a model's reply is untrusted text: anything that is not exactly a call to a known tool stays
 * text, and nothing throws).
 */
import type { ParsedReply, ToolFunction } from './tools.js';

export type Call = ParsedReply['calls'][number];

/** The reply as text, no calls. */
export const asText = (text: string): ParsedReply => ({ content: text, calls: [] });

/** A parser that can never throw on model output: whatever goes wrong, the reply is text. */
export function neverThrows(parse: (text: string, tools: ToolFunction[]) => ParsedReply | undefined) {
  return (text: string, tools: ToolFunction[]): ParsedReply => {
    try {
      return parse(text, tools) ?? asText(text);
    } catch {
      return asText(text);
    }
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const CALL_KEYS = new Set(['name', 'parameters', 'arguments', 'type', 'id']);

/**
 * {"name": …, "parameters": {…}} (Meta's and LLaMA-Factory's llama3) or {"name": …, "arguments": {…}} (Hermes,
 * Qwen), optionally with OpenAI's "type": "function" (llama.cpp accepts it: Llama 3.x writes it now and then) and an
 * "id"; arguments written as a JSON string of an object are read too. Anything else, or a function not in `tools`,
 * is no call.
 */
export function callOf(v: unknown, tools: ToolFunction[]): Call | undefined {
  if (!isObject(v) || !Object.keys(v).every((k) => CALL_KEYS.has(k))) return undefined;
  if (v.type !== undefined && v.type !== 'function') return undefined;
  if (typeof v.name !== 'string' || !tools.some((t) => t.name === v.name)) return undefined;
  if ((v.parameters === undefined) === (v.arguments === undefined)) return undefined;
  let args = v.parameters ?? v.arguments;
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return undefined;
    }
  }
  return isObject(args) ? { name: v.name, arguments: args } : undefined;
}

/** A call object, or a list of them (LLaMA-Factory writes a list for parallel calls); undefined unless all are calls. */
export function callsOf(v: unknown, tools: ToolFunction[]): Call[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  const calls = list.map((c) => callOf(c, tools));
  return calls.length && calls.every((c) => c !== undefined) ? (calls as Call[]) : undefined;
}

/** The text before a call is the reply's content; the line break that leads into the call is the syntax's. */
export const contentBefore = (text: string, at: number) => text.slice(0, at).trimEnd();

/** Whether `text` ends with the start of `tag` ("<tool" of "<tool_call>"): while streaming, it may still become it. */
export function endsWithStartOf(text: string, tag: string): boolean {
  for (let k = Math.min(tag.length - 1, text.length); k > 0; k--) if (text.endsWith(tag.slice(0, k))) return true;
  return false;
}

/** One JSON Schema for the call to any of these tools (node-llama-cpp's grammars take oneOf and const). */
export function callSchema(tools: ToolFunction[], argsKey: 'parameters' | 'arguments'): object {
  const each = tools.map((t) => ({ type: 'object', properties: { name: { const: t.name }, [argsKey]: t.parameters } }));
  return each.length === 1 ? each[0] : { oneOf: each };
}
