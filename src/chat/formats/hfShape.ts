/**
 * A conversation and its tools as transformers' apply_chat_template hands them to a Jinja chat template (and as
 * llama.cpp and vLLM do): OpenAI's JSON. Tools are [{type: "function", function: {name, description, parameters}}];
 * an assistant's calls are tool_calls [{id, type: "function", function: {name, arguments}}] with the arguments an
 * object (templates write them with tojson); a tool result carries tool_call_id (and name where known).
 */
import type { Message } from '../messages.js';
import { wrapTool } from '../toolCalls/toolPrompts.js';
import type { ToolFunction } from '../tools.js';

export const hfTools = (tools: ToolFunction[]) => tools.map(wrapTool);

export function hfMessages(messages: Message[]): Array<Record<string, unknown>> {
  return messages.map((m) => ({
    role: m.role,
    content: m.content,
    // Only where there are calls: Meta's template tests `'tool_calls' in message`, Qwen's `message.tool_calls`.
    ...(m.toolCalls?.length ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
    ...(m.toolCallId !== undefined ? { tool_call_id: m.toolCallId } : {}),
    ...(m.name !== undefined ? { name: m.name } : {}),
  }));
}
