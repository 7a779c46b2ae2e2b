import type { Message } from './messages.js';

/**
 * Messages in OpenAI's JSON shape, which parseMessages reads back exactly (the terminal chat's /save and /load): an
 * assistant's calls as `tool_calls` with the arguments a JSON string and content null when it said nothing else (as
 * OpenAI returns them), a tool's result as role "tool" with `tool_call_id` and the function's `name`.
 */
export function messagesJson(messages: Message[]): Array<Record<string, unknown>> {
  return messages.map((m) => {
    if (m.role === 'tool') {
      return { role: 'tool', ...(m.toolCallId !== undefined ? { tool_call_id: m.toolCallId } : {}), ...(m.name !== undefined ? { name: m.name } : {}), content: m.content };
    }
    if (!m.toolCalls?.length) return { role: m.role, content: m.content };
    return {
      role: m.role,
      content: m.content || null,
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })),
    };
  });
}
