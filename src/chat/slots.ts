/**
 * Every string of a conversation that came from a client rather than from the template: message content, a call's
 * id, name and arguments (keys and values), a tool result's call id and name, and each tool's name, description and
 * JSON Schema. These are text to the model, never markup, wherever a template puts them (a tool's description inside
 * the system prompt, a result inside an ipython turn). jinjaPieces traces them through a Jinja template, and
 * tokens.ts checks them when it cannot.
 */
import type { Message } from './messages.js';
import type { ToolFunction } from './tools.js';

/** The conversation with each client string replaced by `f(it, its number)`; numbers run in a fixed order. */
export function mapStrings(messages: Message[], tools: ToolFunction[] | undefined, f: (s: string, i: number) => string) {
  let n = 0;
  const s = (v: string) => f(v, n++);
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return s(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [s(k), deep(x)]));
    return v;
  };
  const out = messages.map((m): Message => ({
    ...m,
    content: s(m.content),
    ...(m.toolCalls ? { toolCalls: m.toolCalls.map((c) => ({ id: s(c.id), name: s(c.name), arguments: deep(c.arguments) as Record<string, unknown> })) } : {}),
    ...(m.toolCallId !== undefined ? { toolCallId: s(m.toolCallId) } : {}),
    ...(m.name !== undefined ? { name: s(m.name) } : {}),
  }));
  const outTools = tools?.map((t): ToolFunction => ({
    name: s(t.name),
    ...(t.description !== undefined ? { description: s(t.description) } : {}),
    parameters: deep(t.parameters) as Record<string, unknown>,
  }));
  return { messages: out, tools: outTools };
}

/** The client strings, in mapStrings' order. */
export function clientStrings(messages: Message[], tools?: ToolFunction[]): string[] {
  const all: string[] = [];
  mapStrings(messages, tools, (s) => { all.push(s); return s; });
  return all;
}
