/**
 * Hermes-style tool calls, the ChatML fine-tunes' format (NousResearch Hermes 2 Pro / 3, Qwen 2.5, LLaMA-Factory's
 * `qwen` tool format in tool_utils.py QwenToolUtils): each call is <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>,
 * parallel calls one block after another; text before the first block is the reply's content.
 */
import { readJson } from './jsonScan.js';
import { type Call, callSchema, callsOf, contentBefore, endsWithStartOf, neverThrows } from './toolCalls.js';
import { ToolError } from './toolError.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from './tools.js';

export const TOOL_CALL_OPEN = '<tool_call>';
const OPEN = /\s*<tool_call>\s*/y;
const CLOSE = /\s*<\/tool_call>/y;

function parse(text: string, tools: ToolFunction[]): ParsedReply | undefined {
  const first = text.indexOf(TOOL_CALL_OPEN);
  if (first < 0) return undefined;
  const calls: Call[] = [];
  for (let i = first; i < text.length;) {
    OPEN.lastIndex = i;
    if (!OPEN.test(text)) return undefined;
    const r = readJson(text, OPEN.lastIndex);
    const got = r && callsOf(r.value, tools);
    if (!r || !got) return undefined;
    calls.push(...got);
    CLOSE.lastIndex = r.end;
    // The last block may end the reply unclosed: a required call ends where its JSON grammar does.
    if (CLOSE.test(text)) i = CLOSE.lastIndex;
    else if (text.slice(r.end).trim() === '') i = text.length;
    else return undefined;
    while (i < text.length && /\s/.test(text[i])) i++;
  }
  return { content: contentBefore(text, first), calls };
}

export const HERMES: ToolCallSyntax = {
  name: 'hermes',
  parse: neverThrows(parse),
  // One block: further <tool_call> blocks are text a JSON grammar cannot allow for.
  required(tools) {
    if (!tools.length) throw new ToolError('tools', 'is empty: a required tool call needs at least one tool');
    return { prefix: `${TOOL_CALL_OPEN}\n`, schema: callSchema(tools, 'arguments') };
  },
  mayBeCall: (text) => text.includes(TOOL_CALL_OPEN) || endsWithStartOf(text, TOOL_CALL_OPEN),
};
