/**
 * Tools a model may call and the calls it makes: one shape for every API (OpenAI's tools[].function, ollama's),
 * the CLI's --tools FILE, the templates and the terminal chat. Each chat format says how its replies write a call
 * (ToolCallSyntax); the server and the chat only ever see ToolCall.
 */
import { randomInt } from 'node:crypto';
import type { ChatTemplate } from './templates.js';
import type { ToolFunction } from './toolCalls/readTools.js';
import { LLAMA3_JSON } from './toolCalls/llama3Syntax.js';

export { HERMES } from './toolCalls/hermesSyntax.js';
export { LF_DEFAULT } from './toolCalls/lfDefaultSyntax.js';
export { LLAMA3_JSON } from './toolCalls/llama3Syntax.js';
export { ToolError } from './toolCalls/toolError.js';
// The tools' shape and reading them need no Node, so the web page checks a pasted tools list with them too.
export { readTools, type ToolFunction } from './toolCalls/readTools.js';

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
