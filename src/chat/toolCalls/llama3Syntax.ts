/**
 * Meta's JSON-based tool calling (Llama 3.1's prompt format, https://www.llama.com/docs/model-cards-and-prompt-formats/llama3_1/),
 * which is also LLaMA-Factory's `llama3` tool format (tool_utils.py Llama3ToolUtils): the reply is
 * {"name": …, "parameters": {…}}, or a list of them (LLaMA-Factory's parallel calls). What real outputs look like is
 * what llama.cpp's Llama 3.x parser accepts (common/chat.cpp): leading whitespace, "type": "function" now and then,
 * "<|python_tag|>" before the JSON, a ```json fence around it (llama.cpp keeps the fence as content; here it goes),
 * and Meta's built-in tools written as brave_search.call(query="…") after <|python_tag|> (code_interpreter: the code
 * itself).
 */
import { ValueEnds } from './jsonScan.js';
import { builtinMayBe, isBuiltin, looksBuiltin, readBuiltin } from './llama3Builtins.js';
import { type Call, callSchema, callsOf, contentBefore, endsWithStartOf, holdOnError, nameMayBe, neverThrows, startOf } from './toolCalls.js';
import { ToolError } from './toolError.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from '../tools.js';

export { BUILTIN_TOOLS, isBuiltin } from './llama3Builtins.js';

export const PYTHON_TAG = '<|python_tag|>';

/** Where a JSON call may start: llama.cpp's function_regex (an optional "type": "function" before "name"). */
const CALL_START = /\[?\s*\{\s*(?:"type"\s*:\s*"function"\s*,\s*)?"name"\s*:/y;
const SEPARATOR = /\s*[;,]?\s*/y;
/** The end of a ```json fence after the calls, or (streaming) the start of one. */
const FENCE_END = /`{1,3}\s*$/y;
/** A fence opened just before the calls ("```json\n"). */
const FENCE_OPENED = /```[A-Za-z]*\s*$/;
/** The start of one at the end of a streamed reply. */
const FENCE_BEGUN = /`{1,3}[A-Za-z]*\s*$/;

type Chain = { calls: Call[]; end: 'text' | 'fence' } | 'open' | undefined;

/**
 * The calls from `at` to the end of the text: JSON values with whitespace or ";" (Llama 3.1 between parallel
 * calls) between them, and at most a closing ``` after them. 'open' while the text ends inside one that may
 * still become a call (or inside the closing fence); undefined when it cannot be one.
 */
function chain(s: string, at: number, tools: ToolFunction[] | undefined, ends: ValueEnds): Chain {
  const calls: Call[] = [];
  for (let i = at; ;) {
    if (!nameMayBe(s, i, tools)) return undefined;
    const end = ends.end(i);
    if (end === undefined) return 'open';
    let value: unknown;
    try {
      value = JSON.parse(s.slice(i, end));
    } catch {
      return undefined;
    }
    const got = callsOf(value, tools);
    if (!got) return undefined;
    calls.push(...got);
    SEPARATOR.lastIndex = end;
    SEPARATOR.test(s);
    i = SEPARATOR.lastIndex;
    if (i >= s.length) return { calls, end: 'text' };
    if (s[i] === '{' || s[i] === '[') continue;
    FENCE_END.lastIndex = i;
    if (!FENCE_END.test(s)) return undefined;
    return s.startsWith('```', i) ? { calls, end: 'fence' } : 'open';
  }
}

const NAME = '"name"';
const AFTER_NAME = /\s*:/y;
/** CALL_START up to its "name", as the end of the text before it: `{`, or `[{`, and "type": "function", between. */
const BEFORE_NAME = /(\[\s*)?\{\s*(?:"type"\s*:\s*"function"\s*,\s*)?$/;

/**
 * Each place CALL_START matches (at a bracket; "[{" is two places), in order, and what follows it: calls, maybe
 * calls, or no call. Found from the "name" keys back, with indexOf: a regex tried at every position cost more than
 * the rest of the streaming check together (0.5 ms a call on a 35 KB reply of code).
 */
function* jsonCalls(s: string, tools: ToolFunction[] | undefined): Generator<{ at: number; chain: Chain }> {
  let ends: ValueEnds | undefined;
  // Past a value that is whole and no call, nothing inside it can be one: its closing bracket is not a separator.
  let from = 0;
  for (let q = s.indexOf(NAME); q >= 0; q = s.indexOf(NAME, Math.max(q + 1, from))) {
    AFTER_NAME.lastIndex = q + NAME.length;
    if (!AFTER_NAME.test(s)) continue;
    const w = Math.max(0, q - 64);
    const m = BEFORE_NAME.exec(s.slice(w, q));
    if (!m) continue;
    for (const p of m[1] ? [w + m.index, w + m.index + m[1].length] : [w + m.index]) {
      if (p < from) continue;
      ends ??= new ValueEnds(s, p);
      const c = chain(s, p, tools, ends);
      yield { at: p, chain: c };
      if (c === undefined) from = Math.max(from, ends.end(p) ?? 0);
    }
  }
}

const STARTS = ['{"name":', '[{"name":', '{"type":"function","name":', '[{"type":"function","name":'];

/** Whether a bracket near the end of the text begins, whitespace aside, what may become a call's start. */
function startBegun(s: string): boolean {
  for (let p = Math.max(0, s.length - 64); p < s.length; p++) {
    if (s[p] !== '{' && s[p] !== '[') continue;
    const start = s.slice(p).replace(/\s+/g, '');
    if (STARTS.some((t) => startOf(start, t))) return true;
  }
  return false;
}

/**
 * Llama 3.1 answers a code_interpreter request with the code itself after the tag (Meta's prompt format); what
 * reads as a call of another kind (JSON, name.call(…)) to a tool not offered is not code.
 */
function codeCall(after: string, lead: number, tools: ToolFunction[]): Call[] | undefined {
  const code = after.trim();
  CALL_START.lastIndex = lead;
  if (!code || !tools.some((t) => t.name === 'code_interpreter' && isBuiltin(t)) || CALL_START.test(after) || looksBuiltin(after)) return undefined;
  return [{ name: 'code_interpreter', arguments: { code } }];
}

function parse(text: string, tools: ToolFunction[]): ParsedReply | undefined {
  if (!tools.length) return undefined;
  const tag = text.indexOf(PYTHON_TAG);
  if (tag >= 0) {
    const after = text.slice(tag + PYTHON_TAG.length);
    const lead = after.length - after.trimStart().length;
    const b = readBuiltin(after, tools.map((t) => t.name));
    const json = typeof b === 'object' ? undefined : chain(after, lead, tools, new ValueEnds(after, lead));
    const calls = (typeof b === 'object' ? b : undefined) ?? (typeof json === 'object' && json.end === 'text' ? json.calls : undefined) ?? codeCall(after, lead, tools);
    return calls && { content: contentBefore(text, tag), calls };
  }
  // A built-in call whose <|python_tag|> was a control token left out of the text: the whole reply, nothing else.
  const bare = readBuiltin(text, tools.filter(isBuiltin).map((t) => t.name));
  if (typeof bare === 'object') return { content: '', calls: bare };
  for (const { at, chain: c } of jsonCalls(text, tools)) {
    if (typeof c !== 'object') continue;
    // A fence opened before the calls goes with them.
    const before = text.slice(Math.max(0, at - 32), at);
    const fence = FENCE_OPENED.exec(before);
    return { content: contentBefore(text, fence ? at - before.length + fence.index : at), calls: c.calls };
  }
  return undefined;
}

/**
 * While streaming: whether some place in the text may begin a call. Asked at every token of the reply, so it
 * costs a pass over the text, not one per bracket, and it says no as soon as a call is ruled out: a JSON value
 * that is whole and no call (one a user asked for), a whole call with text after it, a name none of `tools`.
 */
function mayBeCall(text: string, tools?: ToolFunction[]): boolean {
  if (text.includes(PYTHON_TAG) || endsWithStartOf(text, PYTHON_TAG)) return true;
  if (builtinMayBe(text, tools)) return true;
  // A fence begun at the end may open a fenced call.
  if (FENCE_BEGUN.test(text.slice(-32))) return true;
  if (startBegun(text)) return true;
  for (const { chain: c } of jsonCalls(text, tools)) if (c !== undefined) return true;
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
  mayBeCall: holdOnError(mayBeCall),
};
