import { UserError } from '../errors.js';

export type Role = 'system' | 'user' | 'assistant';
export interface Message {
  role: Role;
  content: string;
}

const ROLES = new Set<string>(['system', 'user', 'assistant']);

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
    const role = (m as { role?: unknown } | null)?.role;
    const content = (m as { content?: unknown } | null)?.content;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new UserError(`${source}: message ${i + 1} has role ${JSON.stringify(role)}; use "system", "user" or "assistant"`);
    }
    if (typeof content !== 'string') {
      throw new UserError(`${source}: message ${i + 1} has no "content" string`);
    }
    return { role: role as Role, content };
  });
}
