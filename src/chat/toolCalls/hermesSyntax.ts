/**
 * Hermes-style tool calls, the ChatML fine-tunes' format (NousResearch Hermes 2 Pro / 3, Qwen 2.5, LLaMA-Factory's
 * `qwen` tool format in tool_utils.py QwenToolUtils): each call is <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>,
 * parallel calls one block after another; text before the first block is the reply's content, and so is text after
 * the last closed one (a model adds "I'll wait for the result" now and then: llama.cpp's Hermes parser keeps it as
 * content, vLLM's keeps the calls too).
 */
import { valueEnd } from './jsonScan.js';
import { type Call, callSchema, callsOf, contentBefore, endsWithStartOf, holdOnError, nameMayBe, neverThrows, startOf } from './toolCalls.js';
import { ToolError } from './toolError.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from '../tools.js';

export const TOOL_CALL_OPEN = '<tool_call>';
const TOOL_CALL_CLOSE = '</tool_call>';
const OPEN = /\s*<tool_call>\s*/y;
const CLOSE = /\s*<\/tool_call>/y;
const BLANK = /\s*/y;

type Blocks = { calls: Call[]; after: string } | 'open' | undefined;

/**
 * The blocks from the first <tool_call> on: their calls and the text after the last one; 'open' while the text
 * ends inside one that may still be a call (streaming); undefined when they are no calls. A block may end the reply
 * unclosed (a required call ends where its JSON grammar does); text after the blocks is content only after a
 * closed block, and only if it opens no further one.
 */
function blocks(text: string, first: number, tools: ToolFunction[] | undefined, final: boolean): Blocks {
  const calls: Call[] = [];
  for (let i = first; ;) {
    OPEN.lastIndex = i;
    if (!OPEN.test(text)) return undefined;
    const j = OPEN.lastIndex;
    if (j >= text.length) return 'open';
    if ((text[j] !== '{' && text[j] !== '[') || !nameMayBe(text, j, tools)) return undefined;
    const end = valueEnd(text, j);
    if (end === undefined) return 'open';
    let value: unknown;
    try {
      value = JSON.parse(text.slice(j, end));
    } catch {
      return undefined;
    }
    const got = callsOf(value, tools);
    if (!got) return undefined;
    calls.push(...got);
    CLOSE.lastIndex = end;
    if (!CLOSE.test(text)) {
      BLANK.lastIndex = end;
      BLANK.test(text);
      const rest = text.slice(BLANK.lastIndex);
      if (rest === '') return { calls, after: '' };
      return startOf(rest, TOOL_CALL_CLOSE) ? 'open' : undefined;
    }
    BLANK.lastIndex = CLOSE.lastIndex;
    BLANK.test(text);
    i = BLANK.lastIndex;
    if (text.startsWith(TOOL_CALL_OPEN, i)) continue;
    const after = text.slice(i);
    if (!final && after !== '' && startOf(after, TOOL_CALL_OPEN)) return 'open';
    return after.includes(TOOL_CALL_OPEN) ? undefined : { calls, after: after.trimEnd() };
  }
}

function parse(text: string, tools: ToolFunction[]): ParsedReply | undefined {
  const first = text.indexOf(TOOL_CALL_OPEN);
  if (first < 0 || !tools.length) return undefined;
  const b = blocks(text, first, tools, true);
  if (typeof b !== 'object') return undefined;
  const before = contentBefore(text, first);
  return { content: before && b.after ? `${before}\n${b.after}` : before || b.after, calls: b.calls };
}

/** Only the first <tool_call> can begin the calls (as parse reads them): the reply may be a call while what follows it may. */
function mayBeCall(text: string, tools?: ToolFunction[]): boolean {
  const first = text.indexOf(TOOL_CALL_OPEN);
  if (first < 0) return endsWithStartOf(text, TOOL_CALL_OPEN);
  return blocks(text, first, tools, false) !== undefined;
}

export const HERMES: ToolCallSyntax = {
  name: 'hermes',
  parse: neverThrows(parse),
  // One block: further <tool_call> blocks are text a JSON grammar cannot allow for.
  required(tools) {
    if (!tools.length) throw new ToolError('tools', 'is empty: a required tool call needs at least one tool');
    return { prefix: `${TOOL_CALL_OPEN}\n`, schema: callSchema(tools, 'arguments') };
  },
  mayBeCall: holdOnError(mayBeCall),
};
