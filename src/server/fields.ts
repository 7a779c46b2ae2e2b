/** Readers for request fields: each gives the value, or a 400 that names the field and what it should be. */

import { type Message, roleOf, TOOL_ROLE_HINT } from '../chat/messages.js';
import { type FieldRule, refuseUnsupported } from './fieldRules.js';
import { badRequest, shown } from './http.js';
import { linkToolResults, messageToolCalls } from './toolFields.js';

type Body = Record<string, unknown>;

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

export function optNumber(body: Body, key: string, o: { min?: number; max?: number; int?: boolean } = {}, label = key): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`"${label}" must be a number (got ${typeOf(v)})`, label);
  if (o.int && !Number.isInteger(v)) throw badRequest(`"${label}" must be a whole number (got ${v})`, label);
  if (o.min !== undefined && v < o.min) throw badRequest(`"${label}" must be at least ${o.min} (got ${v})`, label);
  if (o.max !== undefined && v > o.max) throw badRequest(`"${label}" must be at most ${o.max} (got ${v})`, label);
  return v;
}

export function optBool(body: Body, key: string, label = key): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`"${label}" must be true or false (got ${typeOf(v)})`, label);
  return v;
}

export function optString(body: Body, key: string, label = key): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`"${label}" must be a string (got ${typeOf(v)})`, label);
  return v;
}

export function optObject(body: Body, key: string, label = key): Body | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`"${label}" must be an object (got ${typeOf(v)})`, label);
  return v as Body;
}

/** `stop`: a string or a list of strings; empty strings are dropped. */
export function stopList(body: Body, key = 'stop', label = key): string[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) throw badRequest(`"${label}" must be a string or a list of strings`, label);
  return (list as string[]).filter((s) => s.length > 0);
}

/**
 * Chat messages: a non-empty list of {role, content}, where content is a string or a list of text parts
 * (what OpenAI clients send), with chat/messages.ts's roles and a tool's result ("tool", Meta's "ipython"). Other roles and non-text parts are refused
 * with the message's index, and so is a field of `rules` with a value this server cannot honour (images). An
 * assistant message may carry `tool_calls`, and a tool message is the result of one of them (toolFields.ts);
 * `toolIds`: every call and result names its id, as OpenAI's API requires (ollama's need not).
 */
export function messageList(body: Body, key = 'messages', rules: FieldRule[] = [], toolIds = true): Message[] {
  const v = body[key];
  if (v === undefined) throw badRequest(`"${key}" is required: a list like [{"role":"user","content":"你好"}]`, key);
  if (!Array.isArray(v)) throw badRequest(`"${key}" must be a list of messages (got ${typeOf(v)})`, key);
  if (v.length === 0) throw badRequest(`"${key}" is empty; send at least one message`, key);
  const messages = v.map((m, i): Message => {
    const at = `${key}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badRequest(`${at} must be an object with "role" and "content"`, at);
    refuseUnsupported(m as Body, rules, `${at}.`);
    const { role: given, content, tool_calls: calls } = m as Body;
    const role = roleOf(given, true);
    if (!role) throw badRequest(`${at}.role is ${shown(given)}; ${TOOL_ROLE_HINT}`, `${at}.role`);
    const text = messageText(content, `${at}.content`);
    if (calls === undefined || calls === null || (Array.isArray(calls) && calls.length === 0)) return { role, content: text };
    if (role !== 'assistant') throw badRequest(`${at}.tool_calls is only for assistant messages (this one is "${given}")`, `${at}.tool_calls`);
    return { role, content: text, toolCalls: messageToolCalls(calls, `${at}.tool_calls`, toolIds) };
  });
  linkToolResults(messages, v as Body[], key, toolIds);
  return messages;
}

function messageText(content: unknown, at: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content.map((p, j) => {
      const part = p as Body | null;
      if (part?.type === 'text' && typeof part.text === 'string') return part.text;
      throw badRequest(`${at}[${j}] is a ${shown(part?.type ?? typeOf(p))} part; this model reads text parts only`, `${at}[${j}]`);
    }).join('');
  }
  throw badRequest(`${at} must be a string or a list of text parts (got ${typeOf(content)})`, at);
}

/**
 * OpenAI's `logit_bias`: {"token id": bias from -100 to 100}, as OpenAI checks it: a key that is not one of the
 * model's token ids is a 400, not a bias quietly applied to nothing.
 */
export function logitBias(body: Body, vocabSize: number, key = 'logit_bias'): Map<number, number> | undefined {
  const v = optObject(body, key);
  if (!v) return undefined;
  const bias = new Map<number, number>();
  for (const [id, b] of Object.entries(v)) {
    const token = /^\d{1,9}$/.test(id) ? Number(id) : NaN;
    if (!(token < vocabSize)) throw badRequest(`"${key}" has the key ${JSON.stringify(id)}, which is not a token id of this model (0 to ${vocabSize - 1})`, key);
    if (typeof b !== 'number' || !(b >= -100 && b <= 100)) throw badRequest(`"${key}" for token ${token} must be a number from -100 to 100 (got ${JSON.stringify(b)})`, key);
    if (b !== 0) bias.set(token, b);
  }
  return bias;
}

/** A list of token ids of this model (vLLM's `stop_token_ids`). */
export function tokenIdList(body: Body, key: string, vocabSize: number): number[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize)) {
    throw badRequest(`"${key}" must be a list of token ids, whole numbers from 0 to ${vocabSize - 1}`, key);
  }
  return v as number[];
}
