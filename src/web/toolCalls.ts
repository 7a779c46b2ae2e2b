/**
 * Tools on the page: the Tools setting (a pasted JSON list, checked with the same rules and messages as the server and
 * `chat --tools`), the calls of a streamed reply put together from OpenAI's delta.tool_calls, and the blocks that
 * show a call and a tool's result. Names, arguments and results are model or user text: they only ever go into the
 * page as text (textContent), never as markup.
 */
import { readTools } from '../chat/readTools.js';

/** A call as the page keeps it: OpenAI's wire form, the arguments the JSON string the server sent. */
export interface PageCall { id: string; name: string; arguments: string }

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

interface CallDelta { index?: number; id?: string; function?: { name?: string; arguments?: string } }

/**
 * Streamed delta.tool_calls → whole calls, as the openai SDK's stream helper puts them together: a call's first
 * piece (by index) brings its id, type and name, the pieces after it more of its arguments.
 */
export class CallAssembler {
  private byIndex = new Map<number, PageCall>();

  add(deltas: unknown) {
    if (!Array.isArray(deltas)) return;
    for (const d of deltas as CallDelta[]) {
      const i = typeof d?.index === 'number' ? d.index : this.byIndex.size;
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

/** Arguments pretty-printed (2-space JSON); what does not parse is shown as it came. */
export function prettyArgs(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A label and a function name: the head of a call's block and of a result's. */
function head(label: string, name: string): HTMLElement {
  const h = el('div', 'call-head');
  h.append(el('span', 'call-label', label), ' ', el('code', 'call-name', name));
  return h;
}

/** A call: the function's name and its arguments. */
export function callBlock(call: PageCall, label: string): HTMLElement {
  const b = el('div', 'call');
  b.append(head(label, call.name), el('pre', 'call-args', prettyArgs(call.arguments)));
  return b;
}

/** A tool's result, under the function it came from. */
export function resultBlock(name: string, result: string, label: string): HTMLElement {
  const b = el('div', 'tool-result');
  b.append(head(label, name), el('pre', 'result-text', result));
  return b;
}

/**
 * Under a call waiting for its result: where the person playing the tool types it. Enter sends, Shift+Enter is a
 * new line (and Enter while an IME composes is not a send), as in the question box.
 */
export function resultInput(placeholder: string, sendLabel: string, onSend: (text: string) => void): HTMLElement {
  const box = el('div', 'call-answer');
  const area = el('textarea', 'call-result');
  area.rows = 2;
  area.placeholder = placeholder;
  const send = el('button', 'send-result', sendLabel);
  send.type = 'button';
  const submit = () => { const text = area.value.trim(); if (text) onSend(text); };
  send.onclick = submit;
  area.onkeydown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  };
  box.append(area, send);
  return box;
}
