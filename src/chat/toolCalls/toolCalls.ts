/**
 * What every tool-call syntax shares: reading one call object the way the formats write it, and the rules that
 * keep parsing safe (a model's reply is untrusted text: anything that is not exactly a call to a known tool stays
 * text, and nothing throws).
 */
import { nestsDeeper, stringEnd } from './jsonScan.js';
import type { ParsedReply, ToolFunction } from '../tools.js';

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

/** A streaming check that can never throw either: whatever goes wrong, the text is held back, and the finished reply's parse decides. */
export function holdOnError(may: (text: string, tools?: ToolFunction[]) => boolean) {
  return (text: string, tools?: ToolFunction[]): boolean => {
    try {
      return may(text, tools);
    } catch {
      return true;
    }
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const CALL_KEYS = new Set(['name', 'parameters', 'arguments', 'type', 'id']);

/**
 * {"name": …, "parameters": {…}} (Meta's and LLaMA-Factory's llama3) or {"name": …, "arguments": {…}} (Hermes,
 * Qwen), optionally with OpenAI's "type": "function" (llama.cpp accepts it: Llama 3.x writes it now and then) and an
 * "id"; arguments written as a JSON string of an object are read too. Anything else, or a function not in `tools`,
 * is no call; `tools` undefined (streaming, where the caller may not say) takes any name. Arguments nested deeper
 * than any schema are no call either: whoever writes them out again (JSON.stringify) would overflow its stack.
 */
export function callOf(v: unknown, tools: ToolFunction[] | undefined): Call | undefined {
  if (!isObject(v) || !Object.keys(v).every((k) => CALL_KEYS.has(k))) return undefined;
  if (v.type !== undefined && v.type !== 'function') return undefined;
  if (typeof v.name !== 'string' || !knownName(v.name, tools)) return undefined;
  if ((v.parameters === undefined) === (v.arguments === undefined)) return undefined;
  let args = v.parameters ?? v.arguments;
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return undefined;
    }
  }
  return isObject(args) && !nestsDeeper(args) ? { name: v.name, arguments: args } : undefined;
}

const knownName = (name: string, tools: ToolFunction[] | undefined) => !tools || tools.some((t) => t.name === name);

/** A call object, or a list of them (LLaMA-Factory writes a list for parallel calls); undefined unless all are calls. */
export function callsOf(v: unknown, tools: ToolFunction[] | undefined): Call[] | undefined {
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

/** Whether `text` is the start of `whole` (it may still become it). */
export const startOf = (text: string, whole: string) => text.length < whole.length && whole.startsWith(text);

const NAME_KEY = /\[?\s*\{\s*(?:"type"\s*:\s*"function"\s*,\s*)?"name"\s*:\s*/y;

/**
 * Whether the call object (or list of them) that starts at `i` may still name one of `tools`, as far as its "name"
 * is written: a name that is no string, or none of theirs whole or begun, is no call (undefined tools: any string).
 * Checked before the value is scanned to its end, so a reply of many would-be calls costs one look at each.
 */
export function nameMayBe(text: string, i: number, tools: ToolFunction[] | undefined): boolean {
  NAME_KEY.lastIndex = i;
  if (!NAME_KEY.test(text)) return true;
  const q = NAME_KEY.lastIndex;
  if (q >= text.length) return true;
  // A call's name is a string, whatever the tools.
  if (text[q] !== '"') return false;
  if (!tools) return true;
  const e = stringEnd(text, q);
  let name: unknown;
  try {
    name = JSON.parse(e === undefined ? `${text.slice(q)}"` : text.slice(q, e));
  } catch {
    // An escape cut in half: the name is not known yet.
    return e === undefined;
  }
  return typeof name === 'string' && tools.some((t) => (e === undefined ? t.name.startsWith(name as string) : t.name === name));
}

/** One JSON Schema for the call to any of these tools (node-llama-cpp's grammars take oneOf and const). */
export function callSchema(tools: ToolFunction[], argsKey: 'parameters' | 'arguments'): object {
  const each = tools.map((t) => ({ type: 'object', properties: { name: { const: t.name }, [argsKey]: t.parameters } }));
  return each.length === 1 ? each[0] : { oneOf: each };
}
