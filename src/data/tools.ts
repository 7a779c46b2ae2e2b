/**
 * Reading the tool parts of a row — the tool definitions, a call's name and arguments — with the checks
 * LLaMA-Factory's training would otherwise fail on much later: json.loads of the tools and of each function_call
 * (ToolFormatter, FunctionFormatter), tc["name"] and tc["arguments"], tool["parameters"].
 */
import { elementSpans, memberSpans, type Span } from './jsonSpans.js';
import { type FunctionCall, isObject, RowError, type ToolDef, typeName } from './record.js';
import { isBlank, isEmptyText, isText, type Text, textOf } from './text.js';
import { pyJson } from './toolJson.js';
import { MAX_DEPTH, tooDeep } from '../util/json.js';

/**
 * A row's tool definitions: a JSON string holding the list (LLaMA-Factory's `tools` column) or the list itself
 * (OpenAI rows), each an OpenAI function object or one wrapped as {"type": "function", "function": {…}}.
 * Undefined when the row has none ("" counts as none, as LLaMA-Factory reads it); [] stays [].
 */
export function readTools(v: unknown, key = 'tools'): ToolDef[] | undefined {
  if (v === undefined || v === null) return undefined;
  let list = v;
  if (isText(v)) {
    if (isEmptyText(v)) return undefined;
    try { list = JSON.parse(textOf(v)); } catch {
      throw new RowError(`'${key}' is not valid JSON; it must hold a list of functions [{"name", "description", "parameters"}, …]`);
    }
  }
  if (!Array.isArray(list)) throw new RowError(`'${key}' must be a list of functions [{"name", "description", "parameters"}, …], not ${typeName(list)}`);
  // Rows stop at MAX_DEPTH; so must the JSON inside them, or the walks after this one overflow the stack. As
  // OpenAI rows the list sits two levels deeper ({"type": "function", "function": …} in "tools").
  if (isText(v) && tooDeep(list, 2)) throw new RowError(`'${key}' is nested deeper than ${MAX_DEPTH} levels`);
  const seen = new Set<string>();
  return list.map((t, i) => {
    const at = `${key}[${i}]`;
    const fn = isObject(t) && isText(t.type) && textOf(t.type) === 'function' && isObject(t.function) ? t.function : t;
    if (!isObject(fn)) throw new RowError(`${at} must be a function {"name", "description", "parameters"}, not ${typeName(fn)}`);
    if (!isText(fn.name) || isBlank(fn.name)) throw new RowError(`${at}: 'name' ${fn.name === undefined ? 'is missing' : `must be a function name, not ${isText(fn.name) ? 'empty' : typeName(fn.name)}`}`);
    const name = textOf(fn.name);
    if (seen.has(name)) throw new RowError(`${at}: the function "${name}" is defined twice`);
    seen.add(name);
    if (!isObject(fn.parameters)) {
      throw new RowError(`${at} ("${name}"): 'parameters' ${fn.parameters === undefined ? 'is missing' : `must be a JSON Schema object, not ${typeName(fn.parameters)}`}`);
    }
    checkArgumentSchemas(fn.parameters, `${at} ("${name}"): 'parameters`);
    return fn as ToolDef;
  });
}

/**
 * The parts of a parameters schema that name the arguments must have JSON Schema's shapes: LLaMA-Factory's
 * default tool prompt (DefaultToolUtils.tool_formatter, used by every template without a tool format of its
 * own, `default` among them) walks tool["parameters"]["properties"].items(), calls param.get(…) on each and
 * tests `name in required`, and stops the run with a KeyError or AttributeError where they are not.
 */
function checkArgumentSchemas(p: Record<string, unknown>, at: string) {
  const props = p.properties;
  if (props !== undefined) {
    if (!isObject(props)) throw new RowError(`${at}.properties' must be an object of argument schemas, not ${typeName(props)}`);
    for (const [k, v] of Object.entries(props)) if (!isObject(v)) throw new RowError(`${at}.properties.${k}' must be a JSON Schema object, not ${typeName(v)}`);
  }
  const req = p.required;
  if (req !== undefined) {
    if (!Array.isArray(req)) throw new RowError(`${at}.required' must be a list of argument names, not ${typeName(req)}`);
    const bad = req.find((x) => !isText(x));
    if (bad !== undefined) throw new RowError(`${at}.required' must be a list of argument names, not a list holding ${typeName(bad)}`);
  }
}

/** The names a call may use: undefined when the row defines no tools (then any name goes). */
export const toolNames = (tools: ToolDef[] | undefined) => (tools ? new Set(tools.map((t) => textOf(t.name))) : undefined);

function checkName(name: string, names: Set<string> | undefined, at: string) {
  if (names && !names.has(name)) throw new RowError(`${at} calls "${name}", which is not in tools (${names.size ? [...names].join(', ') : 'the list is empty'})`);
}

/**
 * A ShareGPT function_call value: {"name", "arguments"} or a list of them (parallel calls). The arguments keep
 * the characters they had in the value.
 */
export function readCallValue(v: Text, where: string, names: Set<string> | undefined): FunctionCall[] {
  const s = textOf(v);
  let parsed: unknown;
  try { parsed = JSON.parse(s); } catch {
    throw new RowError(`${where}function_call is not valid JSON; it must be {"name": …, "arguments": {…}} or a list of them`);
  }
  if (tooDeep(parsed)) throw new RowError(`${where}function_call is nested deeper than ${MAX_DEPTH} levels`);
  const list = Array.isArray(parsed);
  const items: unknown[] = list ? parsed as unknown[] : [parsed];
  if (!items.length) throw new RowError(`${where}function_call is an empty list; it must hold at least one call`);
  const spans: Span[] = list ? elementSpans(s) : [{ start: 0, end: s.length }];
  return items.map((c, j) => {
    const at = `${where}function_call${list ? `[${j}]` : ''}`;
    if (!isObject(c)) throw new RowError(`${at} must be {"name": …, "arguments": {…}}, not ${typeName(c)}`);
    if (typeof c.name !== 'string' || !c.name.trim()) throw new RowError(`${at} ${c.name === undefined ? 'has no "name"' : `"name" must be a function name, not ${typeof c.name === 'string' ? 'empty' : typeName(c.name)}`}`);
    checkName(c.name, names, at);
    if (!isObject(c.arguments)) throw new RowError(`${at} ${c.arguments === undefined ? 'has no "arguments"' : `"arguments" must be a JSON object, not ${typeName(c.arguments)}`}`);
    const a = memberSpans(s, spans[j]).get('arguments')!;
    return { name: c.name, arguments: s.slice(a.start, a.end) };
  });
}

/**
 * An OpenAI tool call's function: {"name", "arguments"}, the arguments a JSON string (OpenAI) kept as it is,
 * or an object (as Hugging Face chat templates take them), written as JSON.
 */
export function readCallFunction(fn: unknown, at: string, names: Set<string> | undefined): Omit<FunctionCall, 'id'> {
  if (!isObject(fn)) throw new RowError(`${at}: 'function' ${fn === undefined ? 'is missing' : `must be {"name", "arguments"}, not ${typeName(fn)}`}`);
  if (!isText(fn.name) || isBlank(fn.name)) throw new RowError(`${at}: 'function.name' ${fn.name === undefined ? 'is missing' : `must be a function name, not ${isText(fn.name) ? 'empty' : typeName(fn.name)}`}`);
  checkName(textOf(fn.name), names, at);
  const a = fn.arguments;
  if (isObject(a)) return { name: fn.name, arguments: pyJson(a) };
  if (!isText(a)) throw new RowError(`${at}: 'function.arguments' ${a === undefined ? 'is missing' : `must be a JSON string of an object, not ${typeName(a)}`}`);
  let parsed: unknown;
  try { parsed = JSON.parse(textOf(a)); } catch { throw new RowError(`${at}: 'function.arguments' is not valid JSON`); }
  if (tooDeep(parsed)) throw new RowError(`${at}: 'function.arguments' is nested deeper than ${MAX_DEPTH} levels`);
  if (!isObject(parsed)) throw new RowError(`${at}: 'function.arguments' must be a JSON object, not ${typeName(parsed)}`);
  return { name: fn.name, arguments: a };
}

/**
 * Why LLaMA-Factory's default tool prompt cannot write these tools, or undefined. DefaultToolUtils.tool_formatter
 * (the tool prompt of every template without a tool format of its own: template default, alpaca, vicuna…)
 * reads tool["parameters"]["properties"] (a KeyError where it is absent: JSON Schema and the llama3 template
 * do without it), ", ".join(param["enum"]) (a TypeError on numbers) and param["items"].get("type")
 * (an AttributeError on a list of schemas). The tools have passed readTools.
 */
export function defaultToolPromptProblem(tools: ToolDef[]): string | undefined {
  for (let i = 0; i < tools.length; i++) {
    const t = tools[i];
    const at = `tools[${i}] ("${textOf(t.name)}"): 'parameters`;
    const props = (t.parameters as Record<string, unknown>).properties;
    if (props === undefined) return `${at}' has no "properties" (give {"type": "object", "properties": {}} for a function without arguments)`;
    for (const [k, p] of Object.entries(props as Record<string, Record<string, unknown>>)) {
      const e = p.enum;
      if (Array.isArray(e) && e.length && e.some((x) => !isText(x))) return `${at}.properties.${k}.enum' holds ${typeName(e.find((x) => !isText(x)))}, which that prompt cannot join as text`;
      const items = p.items;
      if (items !== undefined && items !== null && items !== false && !isObject(items)) return `${at}.properties.${k}.items' is ${typeName(items)}, not the one schema that prompt reads`;
    }
  }
  return undefined;
}
