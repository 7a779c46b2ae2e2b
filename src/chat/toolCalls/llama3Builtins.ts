/**
 * Meta's built-in tools for Llama 3.1 (brave_search, wolfram_alpha, code_interpreter): named in the system prompt
 * ("Tools: brave_search, wolfram_alpha"), called in Python syntax after <|python_tag|> (brave_search.call(query="…")),
 * answered with <|eom_id|>. Which offered tools are these, and reading such a call.
 */
import { readJson, valueEnd } from './jsonScan.js';
import type { Call } from './toolCalls.js';
import type { ToolFunction } from '../tools.js';

/** Each built-in tool and the argument it takes (llama-stack's tool runtimes; llama.cpp checks for the same). */
const BUILTIN_ARG: Record<string, string> = { brave_search: 'query', wolfram_alpha: 'query', code_interpreter: 'code' };
export const BUILTIN_TOOLS = Object.keys(BUILTIN_ARG);

/**
 * Whether an offered tool is Meta's built-in one: its name, and, if it lists arguments, Meta's among them. A
 * code_interpreter of one's own that takes a "script" is a custom tool (JSON calls with its own argument), where
 * Llama 3.1 would answer with bare code; llama.cpp refuses such a tool outright.
 */
export function isBuiltin(t: ToolFunction): boolean {
  if (!Object.hasOwn(BUILTIN_ARG, t.name)) return false;
  const props = t.parameters.properties;
  if (props === null || typeof props !== 'object') return true;
  const names = Object.keys(props);
  return names.length === 0 || names.includes(BUILTIN_ARG[t.name]);
}

const BUILTIN_CALL = /\s*([A-Za-z0-9_-]+)\s*\.\s*call\s*\(\s*/y;
const ARG = /([A-Za-z_]\w*)\s*=\s*/y;
const ARG_BEGUN = /[A-Za-z_]\w*\s*$/y;
const SCALAR_BEGUN = /[\w.+-]*$/y;
const REST_BLANK = /\s*$/y;

/** Whether the text reads as name.call( (of any name): after <|python_tag|>, then, it is no code. */
export function looksBuiltin(s: string): boolean {
  BUILTIN_CALL.lastIndex = 0;
  return BUILTIN_CALL.test(s);
}

/** Whether the JSON value at i runs to the end of the text unfinished (it may still be finished). */
function unfinished(s: string, i: number): boolean {
  if (s[i] === '"' || s[i] === '{' || s[i] === '[') return valueEnd(s, i) === undefined;
  SCALAR_BEGUN.lastIndex = i;
  return SCALAR_BEGUN.test(s);
}

/**
 * name.call(arg="value", …) and nothing after it, `name` one of `names`: how Llama 3.1 calls a built-in tool (and
 * Meta's template writes one). 'open' while the text ends inside such a call.
 */
export function readBuiltin(s: string, names: string[]): Call[] | 'open' | undefined {
  BUILTIN_CALL.lastIndex = 0;
  const m = BUILTIN_CALL.exec(s);
  if (!m || !names.includes(m[1])) return undefined;
  const args: Record<string, unknown> = {};
  for (let i = BUILTIN_CALL.lastIndex; ;) {
    if (i >= s.length) return 'open';
    if (s[i] === ')') {
      REST_BLANK.lastIndex = i + 1;
      return REST_BLANK.test(s) ? [{ name: m[1], arguments: args }] : undefined;
    }
    ARG.lastIndex = i;
    const a = ARG.exec(s);
    if (!a) {
      ARG_BEGUN.lastIndex = i;
      return ARG_BEGUN.test(s) ? 'open' : undefined;
    }
    const v = readJson(s, ARG.lastIndex);
    if (!v) return unfinished(s, ARG.lastIndex) ? 'open' : undefined;
    args[a[1]] = v.value;
    i = v.end;
    while (s[i] === ' ') i++;
    if (s[i] === ',') for (i++; s[i] === ' '; i++);
    else if (i < s.length && s[i] !== ')') return undefined;
  }
}

/** A built-in call's name and ".call(", as far as written (the whole reply so far). */
const BUILTIN_BEGUN = /^\s*([A-Za-z0-9_-]+)(\s*(?:\.\s*(?:c(?:a(?:l(?:l\s*)?)?)?)?)?)$/;

/** While streaming: whether the reply so far may be a bare built-in call (its <|python_tag|> a control token left out of the text). */
export function builtinMayBe(text: string, tools: ToolFunction[] | undefined): boolean {
  const names = tools ? tools.filter(isBuiltin).map((t) => t.name) : BUILTIN_TOOLS;
  if (!names.length) return false;
  const m = BUILTIN_BEGUN.exec(text);
  if (m) return m[2] === '' ? names.some((n) => n.startsWith(m[1])) : names.includes(m[1]);
  return readBuiltin(text, names) !== undefined;
}
