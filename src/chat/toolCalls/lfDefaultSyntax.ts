/**
 * LLaMA-Factory's `default` tool format (tool_utils.py DefaultToolUtils), the one its `default` template and every
 * template without a format of its own train with: "Action: name\nAction Input: {json}", parallel calls one after
 * another on new lines. Read as its tool_extractor reads it (the input runs to the next "Action:" or the end; quotes
 * and backticks around it stripped), except that text before the first call is kept as content and every call
 * must be to a known tool.
 */
import { nestsDeeper, valueEnd } from './jsonScan.js';
import { type Call, contentBefore, endsWithStartOf, holdOnError, neverThrows } from './toolCalls.js';
import { ToolError } from './toolError.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from '../tools.js';

// LLaMA-Factory's names are [a-zA-Z0-9_]+; OpenAI's also allow "-", and a tool we offer may have one.
const ACTION = /Action:\s*([a-zA-Z0-9_-]+)\s*Action Input:\s*/y;
const FIRST = /Action:\s*[a-zA-Z0-9_-]+\s*Action Input:/;

/**
 * Where the input that starts at `from` ends at the next action: the `\s*Action:` of the (.+?)(?=\s*Action:|\s*$)
 * lookahead (it begins past `from`: the input is not empty); -1 when none follows. indexOf and a walk back over the
 * whitespace, as a regex tried at every position would take time quadratic in a long run of spaces.
 */
function nextAction(text: string, from: number): number {
  const a = text.indexOf('Action:', from + 1);
  if (a < 0) return -1;
  let k = a;
  while (k > from + 1 && /\s/.test(text[k - 1])) k--;
  return k;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function parse(text: string, tools: ToolFunction[]): ParsedReply | undefined {
  const first = text.search(FIRST);
  if (first < 0) return undefined;
  const calls: Call[] = [];
  const last = text.trimEnd().length;
  for (let i = first; i < text.length;) {
    ACTION.lastIndex = i;
    const m = ACTION.exec(text);
    if (!m || !tools.some((t) => t.name === m[1])) return undefined;
    const from = ACTION.lastIndex;
    // (.+?)(?=\s*Action:|\s*$): the shortest non-empty input followed by another action or by trailing whitespace.
    const next = nextAction(text, from);
    const to = Math.min(next >= 0 ? next : text.length, last);
    if (to <= from) return undefined;
    // .strip().strip('"').strip("```"): Python's strip(chars) takes any of those characters off both ends.
    const input = text.slice(from, to).trim().replace(/^"+|"+$/g, '').replace(/^`+|`+$/g, '');
    let args: unknown;
    try {
      args = JSON.parse(input);
    } catch {
      return undefined;
    }
    if (!isObject(args) || nestsDeeper(args)) return undefined;
    calls.push({ name: m[1], arguments: args });
    i = to;
    while (i < text.length && /\s/.test(text[i])) i++;
  }
  return { content: contentBefore(text, first), calls };
}

/** An "Action:" whose name and "Action Input:" are being written, to the end of the text. */
const BEGUN = /Action:\s*([a-zA-Z0-9_-]*)(\s*)(A(?:c(?:t(?:i(?:o(?:n(?: (?:I(?:n(?:p(?:u(?:t)?)?)?)?)?)?)?)?)?)?)?)?$/y;
const INPUT_LEAD = /[\s"`]*/y;
const INPUT_TAIL = /[\s"`]*$/y;

function actionBegun(text: string, at: number, tools: ToolFunction[] | undefined): boolean {
  BEGUN.lastIndex = at;
  if (!BEGUN.test(text)) return false;
  if (!tools) return true;
  // The name and what follows it, to the end: a tool's name begun, or one whole and then "Action Input:" begun.
  const written = text.slice(at + 'Action:'.length).trimStart();
  return tools.some((t) => {
    if (t.name.startsWith(written)) return true;
    const after = written.slice(t.name.length).trimStart();
    return written.startsWith(t.name) && (after === '' || 'Action Input:'.startsWith(after));
  });
}

/** The last input, running to the end of the text: the start of a JSON object, or one with only quotes and backticks after it. */
function inputMayBe(text: string, from: number): boolean {
  INPUT_LEAD.lastIndex = from;
  INPUT_LEAD.test(text);
  const j = INPUT_LEAD.lastIndex;
  if (j >= text.length) return true;
  if (text[j] !== '{') return false;
  const end = valueEnd(text, j);
  if (end === undefined) return true;
  try {
    const args: unknown = JSON.parse(text.slice(j, end));
    if (!isObject(args) || nestsDeeper(args)) return false;
  } catch {
    return false;
  }
  INPUT_TAIL.lastIndex = end;
  return INPUT_TAIL.test(text);
}

/** While streaming, read as parse reads: from the first whole "Action: name Action Input:", each input up to the next action. */
function mayBeCall(text: string, tools?: ToolFunction[]): boolean {
  if (endsWithStartOf(text, 'Action:')) return true;
  const first = text.search(FIRST);
  if (first < 0) {
    const last = text.lastIndexOf('Action:');
    return last >= 0 && actionBegun(text, last, tools);
  }
  for (let i = first; ;) {
    ACTION.lastIndex = i;
    const m = ACTION.exec(text);
    if (!m) return actionBegun(text, i, tools);
    if (tools && !tools.some((t) => t.name === m[1])) return false;
    const from = ACTION.lastIndex;
    const next = nextAction(text, from);
    if (next < 0) return inputMayBe(text, from);
    const input = text.slice(from, next).trim().replace(/^"+|"+$/g, '').replace(/^`+|`+$/g, '');
    try {
      const args: unknown = JSON.parse(input);
      if (!isObject(args) || nestsDeeper(args)) return false;
    } catch {
      return false;
    }
    i = next;
    while (/\s/.test(text[i])) i++;
  }
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
  mayBeCall: holdOnError(mayBeCall),
};
