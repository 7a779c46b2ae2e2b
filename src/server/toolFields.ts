/**
 * The tool fields of a request, read or refused by name: OpenAI's `tools`, `tool_choice` and `parallel_tool_calls`
 * (ollama's /api/chat has `tools` only), an assistant message's `tool_calls` and a `tool` message's link to the call
 * it answers. Every refusal is a 400 whose `param` is the field ("tools[0].function.name", "messages[3].tool_call_id").
 */
import type { Message } from '../chat/messages.js';
import type { ChatModel } from '../chat/model.js';
import { newCallId, readTools, type ToolCall, type ToolChoice, ToolError, type ToolFunction, type ToolRequest } from '../chat/tools.js';
import { grammarSchema } from '../engine/llamacpp/jsonSchema.js';
import { UserError } from '../errors.js';
import { badRequest, clipped, shown } from './http.js';
import { forcedCall } from './tools.js';

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const CHOICE_SHAPE = '"auto", "none", "required" or {"type":"function","function":{"name":"…"}}';

/**
 * The tools a request offers and what the model may do with them; undefined when it offers none: no tools (an empty
 * list is none), or tool_choice "none", which vLLM answers by leaving the tools out of the prompt and parsing nothing.
 * `withChoice`: the API has tool_choice and parallel_tool_calls (OpenAI's; ollama's has neither), and `model` the
 * template whose call form a forced call takes.
 */
export function toolRequest(body: Body, withChoice: boolean, model?: ChatModel): ToolRequest | undefined {
  const given = body.tools;
  let tools: ToolFunction[] = [];
  if (given !== undefined && given !== null) {
    try {
      tools = readTools(given, 'tools');
    } catch (e) {
      if (e instanceof ToolError) throw badRequest(clipped(e.message), e.field);
      throw e;
    }
  }
  const choice = withChoice ? toolChoice(body.tool_choice, tools) : 'auto';
  const parallel = withChoice ? parallelCalls(body.parallel_tool_calls) : true;
  if (tools.length === 0 || choice === 'none') return undefined;
  const request = { tools, choice, parallel };
  checkForcedSchemas(request, given as unknown[]);
  if (model) checkForcedGrammar(model, request);
  return request;
}

function toolChoice(v: unknown, tools: ToolFunction[]): ToolChoice {
  if (v === undefined || v === null) return 'auto';
  if (v === 'auto' || v === 'none') return v;
  if (v === 'required') {
    if (!tools.length) throw badRequest('"tool_choice" is "required" but the request has no "tools"; send the tools the model must choose from', 'tool_choice');
    return v;
  }
  if (!isObject(v)) throw badRequest(`"tool_choice" must be ${CHOICE_SHAPE} (got ${shown(v)})`, 'tool_choice');
  if (v.type !== 'function') throw badRequest(`"tool_choice.type" must be "function" (got ${shown(v.type ?? null)})`, 'tool_choice.type');
  const name = isObject(v.function) ? v.function.name : undefined;
  if (typeof name !== 'string') throw badRequest(`"tool_choice" must be ${CHOICE_SHAPE}: "function.name" is missing`, 'tool_choice.function.name');
  if (!tools.some((t) => t.name === name)) {
    // The first few names: a list of thousands would be a message of many kilobytes.
    let shownNames = 0;
    for (let chars = 0; shownNames < tools.length && chars < 300; shownNames++) chars += tools[shownNames].name.length + 2;
    const names = tools.slice(0, shownNames).map((t) => t.name).join(', ') + (shownNames < tools.length ? `, … (${tools.length} in all)` : '');
    const known = tools.length ? `; the tools are: ${names}` : ', and the request has no "tools"';
    throw badRequest(`"tool_choice" names the function ${shown(name)}, which is not in "tools"${known}`, 'tool_choice.function.name');
  }
  return { name };
}

function parallelCalls(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v !== 'boolean') throw badRequest(`"parallel_tool_calls" must be true or false (got ${shown(v)})`, 'parallel_tool_calls');
  return v;
}

/**
 * A reply that must call a tool is written under a grammar made from the tools' parameter schemas. A schema the
 * grammar cannot honour (a "pattern", a number range) would be quietly loosened: refused instead, naming the tool.
 */
function checkForcedSchemas(r: ToolRequest, given: unknown[]) {
  if (r.choice === 'auto') return;
  r.tools.forEach((t, i) => {
    if (typeof r.choice === 'object' && r.choice.name !== t.name) return;
    try {
      grammarSchema(t.parameters);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      const at = isObject(given[i]) && isObject(given[i].function) ? `tools[${i}].function.parameters` : `tools[${i}].parameters`;
      const why = e.message.replace(/^the JSON schema is not supported: /, '');
      throw badRequest(clipped(`the tool ${JSON.stringify(t.name)} cannot be forced with tool_choice ${shown(r.choice)}: its parameters schema is not supported by the grammar: ${why}`), at);
    }
  });
}

/**
 * The grammar a forced call is decoded under has every offered tool's schema in it (for parallel calls twice: one
 * call, or a list of them), so tools that each pass checkForcedSchemas can still make one past the grammar's limits.
 * Checked here, before the prompt is rendered and decoding is queued, so the 400 names the field; the grammar's
 * own error names a path in a schema the client never wrote. A template's call form may also refuse the choice
 * (LLaMA-Factory's default format cannot choose among tools by grammar).
 */
function checkForcedGrammar(model: ChatModel, r: ToolRequest) {
  let schema: object | undefined;
  try {
    schema = forcedCall(model, r)?.schema;
  } catch (e) {
    if (e instanceof ToolError) throw badRequest(clipped(e.message), e.field);
    throw e;
  }
  if (!schema) return;
  try {
    grammarSchema(schema);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    const why = e.message.replace(/^the JSON schema is not supported: \S+ /, '').replace(/; make .*$/, '');
    const choice = typeof r.choice === 'object' ? `naming ${JSON.stringify(r.choice.name)}` : JSON.stringify(r.choice);
    throw badRequest(`tool_choice ${choice} cannot be served: the grammar of a call, made of the tools' parameters schemas together, ${why}; ` +
      'offer fewer or smaller tools, name one in "tool_choice", or send "parallel_tool_calls": false (a parallel call has each schema twice)', 'tools');
  }
}

/** The arguments of a call in a message: OpenAI sends a JSON string, ollama an object. */
function callArguments(v: unknown, at: string): Record<string, unknown> {
  // The openai SDK's stream helpers start each call's arguments at "" and a call with none may stay so.
  if (v === undefined || v === null || v === '') return {};
  if (isObject(v)) return v;
  if (typeof v !== 'string') throw badRequest(`${at} must be a JSON object, or a string of one (got ${Array.isArray(v) ? 'a list' : typeof v})`, at);
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw badRequest(`${at} is not valid JSON: ${shown(v)}; send the call's arguments as a JSON object string like "{\\"city\\":\\"北京\\"}"`, at);
  }
  if (!isObject(parsed)) throw badRequest(`${at} must be a JSON object like {"city":"北京"} (got ${shown(parsed)})`, at);
  return parsed;
}

/**
 * An assistant message's `tool_calls`: [{id, type: "function", function: {name, arguments}}]. `idRequired`: OpenAI's
 * API needs each call's id (tool messages answer by it); ollama's calls may have none, and get one here.
 */
export function messageToolCalls(v: unknown, at: string, idRequired: boolean): ToolCall[] {
  if (!Array.isArray(v)) throw badRequest(`${at} must be a list of calls like [{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]`, at);
  return v.map((c, j) => {
    const here = `${at}[${j}]`;
    if (!isObject(c)) throw badRequest(`${here} must be an object with "function": {"name", "arguments"}`, here);
    if (c.type !== undefined && c.type !== 'function') throw badRequest(`${here}.type must be "function" (got ${shown(c.type)})`, `${here}.type`);
    const f = c.function;
    if (!isObject(f)) throw badRequest(`${here}.function is missing: a call is {"function": {"name", "arguments"}}`, `${here}.function`);
    if (typeof f.name !== 'string' || !f.name) throw badRequest(`${here}.function.name is missing: every call names its function`, `${here}.function.name`);
    if (c.id !== undefined && c.id !== null && (typeof c.id !== 'string' || !c.id)) throw badRequest(`${here}.id must be a non-empty string`, `${here}.id`);
    if (idRequired && typeof c.id !== 'string') throw badRequest(`${here}.id is missing: the tool message that answers this call names it in "tool_call_id"`, `${here}.id`);
    return { id: typeof c.id === 'string' ? c.id : newCallId(), name: f.name, arguments: callArguments(f.arguments, `${here}.function.arguments`) };
  });
}

/**
 * Each tool message linked to the call it answers. Its `tool_call_id` must name an earlier call (OpenAI's API
 * requires one: `idRequired`); without one (ollama's clients send `tool_name` only) it answers the first call of the last assistant turn that is not yet
 * answered, preferring one of the named function, as ollama pairs results with calls by order.
 */
export function linkToolResults(messages: Message[], raw: Body[], key: string, idRequired: boolean): void {
  const calls = new Map<string, ToolCall>();
  let open: ToolCall[] = [];
  messages.forEach((m, i) => {
    if (m.role === 'assistant' && m.toolCalls?.length) {
      for (const c of m.toolCalls) calls.set(c.id, c);
      open = [...m.toolCalls];
      return;
    }
    if (m.role !== 'tool') return;
    const at = `${key}[${i}]`;
    const { tool_call_id: id, tool_name: toolName, name } = raw[i];
    const named = typeof toolName === 'string' ? toolName : typeof name === 'string' ? name : undefined;
    let call: ToolCall | undefined;
    if (id !== undefined && id !== null) {
      if (typeof id !== 'string') throw badRequest(`${at}.tool_call_id must be a string`, `${at}.tool_call_id`);
      call = calls.get(id);
      if (!call) throw badRequest(`${at} is a tool result for the call ${shown(id)}, but no earlier assistant message has a call with that id; give the assistant message with "tool_calls" before its results`, `${at}.tool_call_id`);
    } else if (idRequired) {
      throw badRequest(`${at}.tool_call_id is missing: a tool message names the call it answers (the "id" of one of the assistant's "tool_calls")`, `${at}.tool_call_id`);
    } else {
      call = open.find((c) => c.name === named) ?? open[0];
      if (!call) throw badRequest(`${at} is a tool result, but it answers no call: no earlier assistant message has an unanswered call; give the assistant message with "tool_calls" first`, at);
    }
    open = open.filter((c) => c !== call);
    m.toolCallId = call.id;
    m.name = call.name;
  });
}
