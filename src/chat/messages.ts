import { UserError } from '../errors.js';
import { MAX_JSON_DEPTH, nestsDeeper } from './toolCalls/jsonScan.js';
import type { ToolCall } from './tools.js';

export type Role = 'system' | 'user' | 'assistant' | 'tool';
export interface Message {
  role: Role;
  content: string;
  /** An assistant turn's calls, in order (its content may then be empty). */
  toolCalls?: ToolCall[];
  /** A tool turn: the id of the call it answers (OpenAI's tool_call_id). */
  toolCallId?: string;
  /** A tool turn: the function whose result it is, where known (ollama's tool_name, OpenAI's name). */
  name?: string;
}

/**
 * The roles a message may have, as clients write them, and the role each is. OpenAI's newer clients send the
 * system prompt as "developer" (OpenAI renamed it for its o1 models); to these models it is the system turn.
 */
const ROLES = new Map<string, Role>([['system', 'system'], ['developer', 'system'], ['user', 'user'], ['assistant', 'assistant']]);
/** With tools, a tool's result: OpenAI's (and ollama's) "tool", Meta's "ipython". */
const TOOL_ROLES = new Map<string, Role>([...ROLES, ['tool', 'tool'], ['ipython', 'tool']]);

/** What to tell someone whose message has another role. */
export const ROLE_HINT = 'use "system", "user" or "assistant"';
export const TOOL_ROLE_HINT = 'use "system", "user" or "assistant" (or "tool" for a tool\'s result)';

/** The role a message's `role` field names, or undefined when it names none; `withTools` admits tool results. */
export function roleOf(value: unknown, withTools = false): Role | undefined {
  return typeof value === 'string' ? (withTools ? TOOL_ROLES : ROLES).get(value) : undefined;
}

/**
 * Validate chat messages from JSON: an array of {role, content}, or an object with a `messages` array
 * (an OpenAI request body). `source` names where they came from, for the error message. Tool calling in OpenAI's
 * shape is read too: an assistant's `tool_calls` (arguments a JSON string, as OpenAI sends them, or an object, as
 * ollama does; content may then be null), and tool results (role "tool" or Meta's "ipython", `tool_call_id`, and
 * the function's `name`, ollama's `tool_name`).
 */
export function parseMessages(data: unknown, source: string): Message[] {
  const list = Array.isArray(data) ? data : (data as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(list)) {
    throw new UserError(`${source}: expected a JSON array of messages like [{"role":"user","content":"你好"}] (or an object with a "messages" array)`);
  }
  return list.map((m, i) => {
    const at = `${source}: message ${i + 1}`;
    const given = (m as { role?: unknown } | null)?.role;
    const role = roleOf(given, true);
    if (!role) throw new UserError(`${at} has role ${JSON.stringify(given)}; ${TOOL_ROLE_HINT}`);
    const o = m as Record<string, unknown>;
    const toolCalls = role === 'assistant' && o.tool_calls != null ? readToolCalls(o.tool_calls, `${at}: tool_calls`, i) : undefined;
    const content = o.content == null && toolCalls?.length ? '' : o.content;
    if (typeof content !== 'string') throw new UserError(`${at} has no "content" string`);
    const out: Message = { role, content };
    if (toolCalls?.length) out.toolCalls = toolCalls;
    if (role === 'tool') {
      for (const key of ['tool_call_id', 'name', 'tool_name'] as const) {
        if (o[key] !== undefined && typeof o[key] !== 'string') throw new UserError(`${at}: "${key}" must be a string`);
      }
      if (typeof o.tool_call_id === 'string') out.toolCallId = o.tool_call_id;
      // OpenAI's (legacy) name, ollama's tool_name.
      const name = o.name ?? o.tool_name;
      if (typeof name === 'string') out.name = name;
    }
    return out;
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** [{id, type: "function", function: {name, arguments}}]; a call without an id (ollama's) gets one from its place. */
function readToolCalls(value: unknown, at: string, message: number): ToolCall[] {
  if (!Array.isArray(value)) throw new UserError(`${at} must be a list like [{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"北京\\"}"}}]`);
  return value.map((c, j) => {
    const where = `${at}[${j}]`;
    const fn = isObject(c) ? c.function : undefined;
    if (!isObject(c) || !isObject(fn)) throw new UserError(`${where} must be an object with a "function": {"name", "arguments"}`);
    if (typeof fn.name !== 'string' || !fn.name) throw new UserError(`${where}.function.name must be the name of the function called`);
    if (c.id !== undefined && typeof c.id !== 'string') throw new UserError(`${where}.id must be a string`);
    let args: unknown = fn.arguments ?? {};
    if (typeof args === 'string') {
      try {
        args = args.trim() === '' ? {} : JSON.parse(args);
      } catch (e) {
        throw new UserError(`${where}.function.arguments is not valid JSON (${(e as Error).message.split('\n')[0]})`);
      }
    }
    if (!isObject(args)) throw new UserError(`${where}.function.arguments must be a JSON object (or a string of one)`);
    // Every template writes the arguments out again: thousands of levels would overflow its stack.
    if (nestsDeeper(args)) throw new UserError(`${where}.function.arguments nests deeper than ${MAX_JSON_DEPTH} levels; a call's arguments cannot be that deep`);
    return { id: (c.id as string | undefined) ?? `call_${message + 1}_${j + 1}`, name: fn.name, arguments: args };
  });
}
