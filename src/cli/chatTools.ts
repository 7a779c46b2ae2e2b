/**
 * How the terminal chat shows tools at work: a call as one readable line (the function and its arguments, as
 * `⚙ get_weather {"city": "北京"}`), a tool's result under the function's name, and the prompt that asks the person
 * playing the tool for each result. Colour only on a terminal; piped output stays plain text.
 */
import type { Message } from '../chat/messages.js';
import { pyJson } from '../chat/toolCalls/pyJson.js';
import type { ToolCall, ToolFunction } from '../chat/tools.js';

const paint = (tty: boolean, code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);

/** ⚙ name {args}: the arguments spaced as Python's json.dumps writes them, the way the model saw calls written. */
export function callLine(c: ToolCall, tty: boolean): string {
  return `${paint(tty, '36', `⚙ ${c.name}`)} ${paint(tty, '2', pyJson(c.arguments))}`;
}

/** A message as /history lists it: [role] content, each call on a line of its own, a result under its function. */
export function historyLines(m: Message, tty: boolean): string[] {
  if (m.role === 'tool') return [`[tool${m.name ? ` ${m.name}` : ''}] ${m.content}`];
  const calls = (m.toolCalls ?? []).map((c) => callLine(c, tty));
  if (!calls.length) return [`[${m.role}] ${m.content}`];
  return m.content ? [`[${m.role}] ${m.content}`, ...calls] : [`[${m.role}] ${calls[0]}`, ...calls.slice(1)];
}

/** The prompt for one call's result: it names the function (and which call, when one reply makes several). */
export function resultPrompt(c: ToolCall, i: number, n: number): string {
  return `result of ${c.name}${n > 1 ? ` (${i + 1}/${n})` : ''}> `;
}

export const RESULT_HINT = '(you are the tool: type each call\'s result; """ for several lines; an empty line or Ctrl-C cancels the calls)';

/** /tools: each function with its arguments and description. */
export function toolList(tools: ToolFunction[] | undefined): string[] {
  if (!tools?.length) return ['(no tools; start the chat with --tools FILE to offer some)'];
  return tools.map((t) => {
    const props = t.parameters.properties;
    const args = props && typeof props === 'object' ? Object.keys(props).join(', ') : '';
    return `${t.name}(${args})${t.description ? ` — ${t.description}` : ''}`;
  });
}

/** One call as a line of JSON for one-shot output ({"id", "name", "arguments"}), for scripts to read. */
export const callJson = (c: ToolCall) => ({ id: c.id, name: c.name, arguments: c.arguments });
