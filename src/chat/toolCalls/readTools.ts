/**
 * Tools as a client or a person gives them, checked field by field: the shape every API, the CLI's --tools FILE and
 * the web page's Tools setting share. Nothing here needs Node, so the page's bundle checks a pasted list with the
 * same rules and messages as the server and the CLI.
 */
import { MAX_JSON_DEPTH, nestsDeeper } from './jsonScan.js';
import { ToolError } from './toolError.js';

/** A function the model may call. */
export interface ToolFunction {
  name: string;
  description?: string;
  /** A JSON Schema object: {"type": "object", "properties": {…}, "required": […]}. */
  parameters: Record<string, unknown>;
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

