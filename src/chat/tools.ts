/**
 * Tools a model may call and the calls it makes: one shape for every API (OpenAI's tools[].function, ollama's),
 * the CLI's --tools FILE, the templates and the terminal chat. Each chat format says how its replies write a call
 * (ToolCallSyntax); the server and the chat only ever see ToolCall.
 */
import { randomInt } from 'node:crypto';
import { MAX_JSON_DEPTH, nestsDeeper } from './toolCalls/jsonScan.js';
import { ToolError } from './toolCalls/toolError.js';
import type { ChatTemplate } from './templates.js';
import { LLAMA3_JSON } from './toolCalls/llama3Syntax.js';

export { HERMES } from './toolCalls/hermesSyntax.js';
export { LF_DEFAULT } from './toolCalls/lfDefaultSyntax.js';
export { LLAMA3_JSON } from './toolCalls/llama3Syntax.js';
export { ToolError } from './toolCalls/toolError.js';

/** A function the model may call. */
export interface ToolFunction {
  name: string;
  description?: string;
  /** A JSON Schema object: {"type": "object", "properties": {…}, "required": […]}. */
  parameters: Record<string, unknown>;
}

export interface ToolCall {
  /** The call's id ("call_…"): OpenAI's clients match a tool message to its call by it. */
  id: string;
  name: string;
  /** The arguments as an object (OpenAI sends them as a JSON string; ollama and the templates take the object). */
  arguments: Record<string, unknown>;
}

/** OpenAI's tool_choice: may call (auto), must not (none), must call one (required), must call this one. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** The tools of one request and what the model may do with them. */
export interface ToolRequest {
  tools: ToolFunction[];
  choice: ToolChoice;
  /** More than one call in one reply (OpenAI's parallel_tool_calls; default true). */
  parallel: boolean;
}

/** A finished reply split into its text and its calls (ids are the caller's to give). */
export interface ParsedReply {
  /** The text before the calls (and, in Hermes' format, any after them, on a line of its own). */
  content: string;
  calls: Array<Omit<ToolCall, 'id'>>;
}

/** What a reply that must call a tool has to be: text the prompt is continued with, then JSON matching `schema`. */
export interface RequiredCall {
  /** Written after the generation prompt as if the model had (e.g. "<tool_call>\n"); "" when the call is bare JSON. */
  prefix: string;
  schema: object;
}

/** How one chat format writes tool calls in a reply, and reads them back. */
export interface ToolCallSyntax {
  name: string;
  /** Calls to tools not in `tools` stay text, as does anything that does not parse. */
  parse(text: string, tools: ToolFunction[]): ParsedReply;
  /** For tool_choice "required" or a named function: the constrained form a reply takes. */
  required(tools: ToolFunction[], parallel: boolean): RequiredCall;
  /**
   * While streaming: whether the reply so far may still become a call, so its text is held back. Text it says no
   * to is content whatever follows (the finished reply's `content` starts with it, trailing whitespace aside); it
   * says no as soon as a call is ruled out. Given the request's `tools`, a name none of theirs rules one out too.
   */
  mayBeCall(textSoFar: string, tools?: ToolFunction[]): boolean;
}

/** OpenAI's rule for a function's name. */
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const EXAMPLE = '[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Tools as clients send them: OpenAI's and ollama's [{"type":"function","function":{name, description, parameters}}],
 * or bare functions [{name, description, parameters}] (LLaMA-Factory's `tools` column, a --tools file). Parameters
 * left out mean none ({"type":"object","properties":{}}, as OpenAI reads them).
 */
export function readTools(value: unknown, field = 'tools'): ToolFunction[] {
  if (!Array.isArray(value)) throw new ToolError(field, `must be a JSON array of tools like ${EXAMPLE}`);
  const seen = new Map<string, string>();
  return value.map((tool, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(tool)) throw new ToolError(at, `must be an object like ${EXAMPLE.slice(1, -1)}`);
    if (tool.type !== undefined && tool.type !== 'function') {
      throw new ToolError(`${at}.type`, `is ${JSON.stringify(tool.type)}; only "function" tools are supported`);
    }
    const wrapped = tool.type === 'function' || tool.function !== undefined;
    const fn = wrapped ? tool.function : tool;
    const where = wrapped ? `${at}.function` : at;
    if (!isObject(fn)) throw new ToolError(where, 'must be an object with a "name" (and "description", "parameters")');
    const name = readName(fn.name, `${where}.name`);
    const first = seen.get(name);
    if (first) throw new ToolError(`${where}.name`, `"${name}" is used twice (${first} has it too); each tool needs its own name`);
    seen.set(name, at);
    if (fn.description !== undefined && typeof fn.description !== 'string') throw new ToolError(`${where}.description`, 'must be a string');
    return { name, ...(fn.description !== undefined ? { description: fn.description as string } : {}), parameters: readParameters(fn.parameters, `${where}.parameters`) };
  });
}

function readName(name: unknown, field: string): string {
  if (name === undefined || name === null || name === '') throw new ToolError(field, 'is missing: every tool needs a name');
  if (typeof name !== 'string') throw new ToolError(field, `must be a string, not ${JSON.stringify(name)}`);
  if (!NAME.test(name)) throw new ToolError(field, `${JSON.stringify(name)} is not a valid function name: use 1 to 64 letters, digits, underscores or dashes`);
  return name;
}

/** A JSON Schema object describing the arguments: an object whose "type", if any, is "object". */
function readParameters(p: unknown, field: string): Record<string, unknown> {
  if (p === undefined || p === null) return { type: 'object', properties: {} };
  const hint = 'must be a JSON Schema object like {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}';
  if (!isObject(p)) throw new ToolError(field, hint);
  if (nestsDeeper(p)) throw new ToolError(field, `nests deeper than ${MAX_JSON_DEPTH} levels; a tool's JSON Schema cannot be that deep`);
  if (p.type !== undefined && p.type !== 'object') throw new ToolError(`${field}.type`, `is ${JSON.stringify(p.type)}; the parameters of a function are an object: ${hint.replace('must be ', '')}`);
  if (p.properties !== undefined && !isObject(p.properties)) throw new ToolError(`${field}.properties`, 'must be an object mapping each argument to its JSON Schema');
  if (isObject(p.properties)) {
    for (const [k, v] of Object.entries(p.properties)) {
      if (!isObject(v) && typeof v !== 'boolean') throw new ToolError(`${field}.properties.${k}`, 'must be a JSON Schema (an object)');
    }
  }
  if (p.required !== undefined && !(Array.isArray(p.required) && p.required.every((r) => typeof r === 'string'))) {
    throw new ToolError(`${field}.required`, 'must be a list of argument names');
  }
  return p;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A call id in OpenAI's shape: "call_" and 24 random letters and digits. */
export function newCallId(): string {
  let id = 'call_';
  for (let i = 0; i < 24; i++) id += ALNUM[randomInt(ALNUM.length)];
  return id;
}

/** How replies in this template's format call tools; Meta's JSON (Llama-3's) where the template says nothing. */
export function toolSyntaxFor(template: Pick<ChatTemplate, 'toolSyntax'>): ToolCallSyntax {
  return template.toolSyntax ?? LLAMA3_JSON;
}
