/**
 * LLaMA-Factory's `default` tool format (tool_utils.py DefaultToolUtils), the one its `default` template and every
 * template without a format of its own train with: "Action: name\nAction Input: {json}", parallel calls one after
 * another on new lines. Read as its tool_extractor reads it (the input runs to the next "Action:" or the end; quotes
 * and backticks around it stripped), except that text before the first call is kept as content and every call
 * must be to a known tool.
 */
import { type Call, contentBefore, endsWithStartOf, neverThrows } from './toolCalls.js';
import { ToolError } from './toolError.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from './tools.js';

// LLaMA-Factory's names are [a-zA-Z0-9_]+; OpenAI's also allow "-", and a tool we offer may have one.
const ACTION = /Action:\s*([a-zA-Z0-9_-]+)\s*Action Input:\s*/y;
const FIRST = /Action:\s*[a-zA-Z0-9_-]+\s*Action Input:/;
const NEXT = /\s*Action:/g;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function parse(text: string, tools: ToolFunction[]): ParsedReply | undefined {
  const first = text.search(FIRST);
  if (first < 0) return undefined;
  const calls: Call[] = [];
  for (let i = first; i < text.length;) {
    ACTION.lastIndex = i;
    const m = ACTION.exec(text);
    if (!m || !tools.some((t) => t.name === m[1])) return undefined;
    const from = ACTION.lastIndex;
    // (.+?)(?=\s*Action:|\s*$): the shortest non-empty input followed by another action or by trailing whitespace.
    NEXT.lastIndex = from + 1;
    const next = NEXT.exec(text);
    const to = Math.min(next ? next.index : text.length, from + text.slice(from).trimEnd().length);
    if (to <= from) return undefined;
    // .strip().strip('"').strip("```"): Python's strip(chars) takes any of those characters off both ends.
    const input = text.slice(from, to).trim().replace(/^"+|"+$/g, '').replace(/^`+|`+$/g, '');
    let args: unknown;
    try {
      args = JSON.parse(input);
    } catch {
      return undefined;
    }
    if (!isObject(args)) return undefined;
    calls.push({ name: m[1], arguments: args });
    i = to;
    while (i < text.length && /\s/.test(text[i])) i++;
  }
  return { content: contentBefore(text, first), calls };
}

export const LF_DEFAULT: ToolCallSyntax = {
  name: 'lf-default',
  parse: neverThrows(parse),
  required(tools) {
    if (tools.length !== 1) {
      throw new ToolError('tool_choice', tools.length
        ? 'cannot require a call among several tools in LLaMA-Factory\'s default tool format (the function\'s name comes before its JSON arguments, which a JSON grammar cannot choose); name the function: {"type":"function","function":{"name":"…"}}'
        : 'needs a tool: "tools" is empty');
    }
    return { prefix: `Action: ${tools[0].name}\nAction Input: `, schema: tools[0].parameters };
  },
  mayBeCall: (text) => text.includes('Action:') || endsWithStartOf(text, 'Action:'),
};
