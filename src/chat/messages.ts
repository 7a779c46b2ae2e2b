import { UserError } from '../errors.js';
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

/** What to tell someone whose message has another role. */
export const ROLE_HINT = 'use "system", "user" or "assistant"';

/** The role a message's `role` field names, or undefined when it names none. */
export function roleOf(value: unknown): Role | undefined {
  return typeof value === 'string' ? ROLES.get(value) : undefined;
}

/**
 * Validate chat messages from JSON: an array of {role, content}, or an object with a `messages` array
 * (an OpenAI request body). `source` names where they came from, for the error message.
 */
export function parseMessages(data: unknown, source: string): Message[] {
  const list = Array.isArray(data) ? data : (data as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(list)) {
    throw new UserError(`${source}: expected a JSON array of messages like [{"role":"user","content":"你好"}] (or an object with a "messages" array)`);
  }
  return list.map((m, i) => {
    const given = (m as { role?: unknown } | null)?.role;
    const content = (m as { content?: unknown } | null)?.content;
    const role = roleOf(given);
    if (!role) throw new UserError(`${source}: message ${i + 1} has role ${JSON.stringify(given)}; ${ROLE_HINT}`);
    if (typeof content !== 'string') {
      throw new UserError(`${source}: message ${i + 1} has no "content" string`);
    }
    return { role, content };
  });
}
