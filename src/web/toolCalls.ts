/**
 * Tools on the page: the Tools setting (a pasted JSON list, checked with the same rules and messages as the server and
 * `chat --tools`), the calls of a streamed reply put together from OpenAI's delta.tool_calls, the calls that wait for
 * the person playing the tool, and turns as OpenAI's API takes them. (toolBlocks.ts shows them.)
 */
import { readTools } from '../chat/toolCalls/readTools.js';

/** A call as the page keeps it: OpenAI's wire form, the arguments the JSON string the server sent. */
export interface PageCall { id: string; name: string; arguments: string }

/** A turn of a conversation as far as tools go: an assistant's calls, a tool's result for one. */
export interface Turn { role: 'user' | 'assistant' | 'tool'; content: string; toolCalls?: PageCall[]; toolCallId?: string; name?: string }

/** A tool in OpenAI's request shape. */
export interface WireTool { type: 'function'; function: { name: string; description?: string; parameters: Record<string, unknown> } }

export type ToolsSetting = { tools: WireTool[]; names: string[] } | { error: 'json' | 'tools'; message: string } | undefined;

/**
 * The Tools setting as typed: undefined when empty; else the tools (OpenAI's list, bare functions, or a request body
 * with a "tools" list, as `chat --tools FILE` reads them), or what is wrong with them.
 */
export function readToolsSetting(text: string): ToolsSetting {
  if (!text.trim()) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { error: 'json', message: (e as Error).message };
  }
  const list = data !== null && typeof data === 'object' && !Array.isArray(data) && 'tools' in data ? (data as { tools: unknown }).tools : data;
  try {
    const fns = readTools(list);
    return { tools: fns.map((f) => ({ type: 'function', function: f })), names: fns.map((f) => f.name) };
  } catch (e) {
    return { error: 'tools', message: (e as Error).message };
  }
}

/** A turn as OpenAI's API takes it: calls with their arguments as a JSON string, results by their call's id. */
export function wire(m: Turn): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  if (!m.toolCalls?.length) return { role: m.role, content: m.content };
  return {
    role: 'assistant', content: m.content || null,
    tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
  };
}

/** Where the last reply is: the last assistant turn, past the results that follow it. */
function lastReply(turns: Turn[]): number {
  let at = turns.length - 1;
  while (at >= 0 && turns[at].role === 'tool') at--;
  return turns[at]?.role === 'assistant' ? at : -1;
}

/** The last reply's calls that have no result yet: the person playing the tool is asked for these. */
export function pendingCalls(turns: Turn[]): PageCall[] {
  const at = lastReply(turns);
  if (at < 0) return [];
  const answered = new Set(turns.slice(at + 1).map((m) => m.toolCallId));
  return (turns[at].toolCalls ?? []).filter((c) => !answered.has(c.id));
}

/**
 * A new question gives up the calls still waiting for results (a call without its result is a history OpenAI
 * refuses), as the terminal chat's cancel does; what the reply said besides stays.
 */
export function dropPendingCalls(turns: Turn[]) {
  const pending = new Set(pendingCalls(turns).map((c) => c.id));
  if (!pending.size) return;
  const at = lastReply(turns);
  const m = turns[at];
  const left = m.toolCalls!.filter((c) => !pending.has(c.id));
  if (left.length) m.toolCalls = left;
  else if (m.content) delete m.toolCalls;
  else turns.splice(at, 1);
}

export function callName(turns: Turn[], id: string | undefined): string {
  for (const m of turns) for (const c of m.toolCalls ?? []) if (c.id === id) return c.name;
  return '';
}

interface CallDelta { index?: number; id?: string; function?: { name?: string; arguments?: string } }

/**
 * Streamed delta.tool_calls → whole calls, as the openai SDK's stream helper puts them together: a call's first
 * piece (by index) brings its id, type and name, the pieces after it more of its arguments.
 */
export class CallAssembler {
  private byIndex = new Map<number, PageCall>();

  add(deltas: unknown) {
    if (!Array.isArray(deltas)) return;
    for (const d of deltas as Array<CallDelta | null>) {
      if (!d || typeof d !== 'object') continue;
      const i = typeof d.index === 'number' ? d.index : this.byIndex.size;
      let call = this.byIndex.get(i);
      if (!call) this.byIndex.set(i, (call = { id: '', name: '', arguments: '' }));
      if (typeof d.id === 'string') call.id = d.id;
      if (typeof d.function?.name === 'string') call.name = d.function.name;
      if (typeof d.function?.arguments === 'string') call.arguments += d.function.arguments;
    }
  }

  calls(): PageCall[] {
    return [...this.byIndex.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  }
}
