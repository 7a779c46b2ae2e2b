/**
 * Meta's JSON-based tool calling (Llama 3.1's prompt format, https://www.llama.com/docs/model-cards-and-prompt-formats/llama3_1/),
 * which is also LLaMA-Factory's `llama3` tool format (tool_utils.py Llama3ToolUtils): the reply is
 * {"name": …, "parameters": {…}}, or a list of them (LLaMA-Factory's parallel calls). What real outputs look like is
 * what llama.cpp's Llama 3.x parser accepts (common/chat.cpp): leading whitespace, "type": "function" now and then,
 * "<|python_tag|>" before the JSON, and Meta's built-in tools written as brave_search.call(query="…") after
 * <|python_tag|> (code_interpreter: the code itself).
 */
import { readJson } from './jsonScan.js';
import { type Call, callSchema, callsOf, contentBefore, endsWithStartOf, neverThrows } from './toolCalls.js';
import { ToolError } from './toolError.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from './tools.js';

export const PYTHON_TAG = '<|python_tag|>';
/** Meta's built-in tools (Llama 3.1): named in the system prompt, called in Python syntax, answered with <|eom_id|>. */
export const BUILTIN_TOOLS = ['brave_search', 'wolfram_alpha', 'code_interpreter'];

/** Where a JSON call may start: llama.cpp's function_regex (an optional "type": "function" before "name"). */
const CALL_START = /\[?\s*\{\s*(?:"type"\s*:\s*"function"\s*,\s*)?"name"\s*:/y;
const SEPARATOR = /\s*[;,]?\s*/y;

/**
 * JSON calls from `at` to the end of the text (whitespace, or ";" as Llama 3.1 writes between parallel calls, between
 * them); otherwise where the first value ends when it was read whole (undefined: it never closes, or is no JSON).
 */
function jsonCalls(s: string, at: number, tools: ToolFunction[]): { calls?: Call[]; firstEnd?: number } {
  const calls: Call[] = [];
  let firstEnd: number | undefined;
  for (let i = at; ;) {
    const r = readJson(s, i);
    if (i === at) firstEnd = r?.end;
    const got = r && callsOf(r.value, tools);
    if (!r || !got) return { firstEnd };
    calls.push(...got);
    SEPARATOR.lastIndex = r.end;
    SEPARATOR.test(s);
    i = SEPARATOR.lastIndex;
    if (i >= s.length) return { calls };
  }
}

/**
 * Call starts that never close (or are no JSON) tried before the reply counts as text. Each is read to the end of
 * the reply, so without a bound N of them cost N times its length (8,000 '{"name":' blocked the event loop for
 * 2.5 s); llama.cpp's Llama 3.x parser tries only the first.
 */
const MAX_UNREAD_STARTS = 32;

const BUILTIN_CALL = /\s*([A-Za-z0-9_-]+)\s*\.\s*call\s*\(\s*/y;
const ARG = /([A-Za-z_]\w*)\s*=\s*/y;

/** name.call(arg="value", …) and nothing after it: how Llama 3.1 calls a built-in tool (and Meta's template writes one). */
function builtinCall(s: string, tools: ToolFunction[], builtinOnly: boolean): Call[] | undefined {
  BUILTIN_CALL.lastIndex = 0;
  const m = BUILTIN_CALL.exec(s);
  if (!m || !tools.some((t) => t.name === m[1]) || (builtinOnly && !BUILTIN_TOOLS.includes(m[1]))) return undefined;
  const args: Record<string, unknown> = {};
  let i = BUILTIN_CALL.lastIndex;
  while (s[i] !== ')') {
    ARG.lastIndex = i;
    const a = ARG.exec(s);
    const v = a && readJson(s, ARG.lastIndex);
    if (!a || !v) return undefined;
    args[a[1]] = v.value;
    i = v.end;
    while (s[i] === ' ') i++;
    if (s[i] === ',') for (i++; s[i] === ' '; i++);
    else if (s[i] !== ')') return undefined;
  }
  return s.slice(i + 1).trim() === '' ? [{ name: m[1], arguments: args }] : undefined;
}

/**
 * Llama 3.1 answers a code_interpreter request with the code itself after the tag (Meta's prompt format); what
 * reads as a call of another kind (JSON, name.call(…)) to a tool not offered is not code.
 */
function codeCall(after: string, lead: number, tools: ToolFunction[]): Call[] | undefined {
  const code = after.trim();
  CALL_START.lastIndex = lead;
  BUILTIN_CALL.lastIndex = 0;
  if (!code || !tools.some((t) => t.name === 'code_interpreter') || CALL_START.test(after) || BUILTIN_CALL.test(after)) return undefined;
  return [{ name: 'code_interpreter', arguments: { code } }];
}

function parse(text: string, tools: ToolFunction[]): ParsedReply | undefined {
  const tag = text.indexOf(PYTHON_TAG);
  if (tag >= 0) {
    const after = text.slice(tag + PYTHON_TAG.length);
    const lead = after.length - after.trimStart().length;
    const calls = builtinCall(after, tools, false) ?? jsonCalls(after, lead, tools).calls ?? codeCall(after, lead, tools);
    return calls && { content: contentBefore(text, tag), calls };
  }
  // A built-in call whose <|python_tag|> was a control token left out of the text: the whole reply, nothing else.
  const bare = builtinCall(text, tools, true);
  if (bare) return { content: '', calls: bare };
  let unread = 0;
  for (let p = 0; p < text.length; p++) {
    if (text[p] !== '{' && text[p] !== '[') continue;
    CALL_START.lastIndex = p;
    if (!CALL_START.test(text)) continue;
    const { calls, firstEnd } = jsonCalls(text, p, tools);
    if (calls) return { content: contentBefore(text, p), calls };
    // No call starts inside a JSON value that is none: calls run to the end of the reply, past its closing bracket.
    if (firstEnd !== undefined) p = firstEnd - 1;
    else if (++unread > MAX_UNREAD_STARTS) return undefined;
  }
  return undefined;
}

const STARTS = ['{"name":', '[{"name":', '{"type":"function","name":', '[{"type":"function","name":'];

/** Whether some '{' or '[' in the text may begin a call (its start, whitespace aside, is one of STARTS or leads to one). */
function mayBeCall(text: string): boolean {
  if (text.includes(PYTHON_TAG) || endsWithStartOf(text, PYTHON_TAG)) return true;
  const lead = text.trimStart();
  if (lead && BUILTIN_TOOLS.some((n) => `${n}.call(`.startsWith(lead.replace(/\s+/g, '')) || lead.startsWith(n))) return true;
  for (let p = text.search(/[{[]/); p >= 0 && p < text.length; p++) {
    if (text[p] !== '{' && text[p] !== '[') continue;
    const start = text.slice(p, p + 64).replace(/\s+/g, '');
    if (STARTS.some((s) => s.startsWith(start) || start.startsWith(s))) return true;
  }
  return false;
}

export const LLAMA3_JSON: ToolCallSyntax = {
  name: 'llama3-json',
  parse: neverThrows(parse),
  required(tools, parallel) {
    if (!tools.length) throw new ToolError('tools', 'is empty: a required tool call needs at least one tool');
    const one = callSchema(tools, 'parameters');
    // Parallel calls are a list, as LLaMA-Factory writes them (one call stays an object).
    return { prefix: '', schema: parallel ? { oneOf: [one, { type: 'array', items: one, minItems: 2 }] } : one };
  },
  mayBeCall,
};
