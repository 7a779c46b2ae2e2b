/**
 * STAND-IN for P2's functions (branch t16-tmpl: src/chat/tools.ts, chat/model.ts), with the names and shapes of
 * /work/notes/tools-contract.md. Deleted when t16-tmpl is merged: nothing else may import it but server/tools.ts
 * and server/toolFields.ts.
 */
import { randomInt } from 'node:crypto';
import type { Message } from '../chat/messages.js';
import { type ChatModel, promptOf } from '../chat/model.js';
import type { ChatTemplate } from '../chat/templates.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from '../chat/tools.js';
import { UserError } from '../errors.js';

export class ToolError extends UserError {
  constructor(message: string, readonly field: string) {
    super(message);
  }
}

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readTools(value: unknown, field = 'tools'): ToolFunction[] {
  if (!Array.isArray(value)) throw new ToolError(`"${field}" must be a list of tools like [{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`, field);
  const seen = new Set<string>();
  return value.map((t, i) => {
    const wrapped = isObject(t) && isObject(t.function);
    const f = wrapped ? (t as { function: Record<string, unknown> }).function : t;
    const at = wrapped ? `${field}[${i}].function` : `${field}[${i}]`;
    if (!isObject(f)) throw new ToolError(`${field}[${i}] must be an object like {"type":"function","function":{"name":…}}`, `${field}[${i}]`);
    if (typeof f.name !== 'string' || !f.name) throw new ToolError(`${at}.name is missing: every tool needs a name`, `${at}.name`);
    if (!NAME.test(f.name)) throw new ToolError(`${at}.name ${JSON.stringify(f.name)} must be 1 to 64 letters, digits, _ or -`, `${at}.name`);
    if (seen.has(f.name)) throw new ToolError(`${at}.name ${JSON.stringify(f.name)} is given twice`, `${at}.name`);
    seen.add(f.name);
    const p = f.parameters ?? { type: 'object', properties: {} };
    if (!isObject(p) || (p.type !== undefined && p.type !== 'object')) throw new ToolError(`${at}.parameters must be a JSON Schema object like {"type":"object","properties":{…}}`, `${at}.parameters`);
    return { name: f.name, ...(typeof f.description === 'string' ? { description: f.description } : {}), parameters: p };
  });
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export function newCallId(): string {
  return `call_${Array.from({ length: 24 }, () => ALNUM[randomInt(ALNUM.length)]).join('')}`;
}

const PYTHON_TAG = '<|python_tag|>';

/** A call as Llama-3 writes it: {"name": …, "parameters": …} ("arguments" accepted). */
function asCall(v: unknown, tools: ToolFunction[]): ParsedReply['calls'][number] | undefined {
  if (!isObject(v) || typeof v.name !== 'string' || !tools.some((t) => t.name === v.name)) return undefined;
  const args = v.parameters ?? v.arguments ?? {};
  return isObject(args) ? { name: v.name, arguments: args } : undefined;
}

export const LLAMA3_JSON: ToolCallSyntax = {
  name: 'llama3-json',
  parse(text, tools) {
    const body = text.trim().startsWith(PYTHON_TAG) ? text.trim().slice(PYTHON_TAG.length) : text;
    for (let i = 0; i < body.length; i++) {
      if (body[i] !== '{' && body[i] !== '[') continue;
      let v: unknown;
      try { v = JSON.parse(body.slice(i)); } catch { continue; }
      const calls = (Array.isArray(v) ? v : [v]).map((c) => asCall(c, tools));
      if (calls.length && calls.every((c) => c)) return { content: body.slice(0, i).trim(), calls: calls as ParsedReply['calls'] };
    }
    return { content: text, calls: [] };
  },
  required(tools, parallel) {
    const one = (t: ToolFunction) => ({ type: 'object', properties: { name: { const: t.name }, parameters: t.parameters }, required: ['name', 'parameters'] });
    const call = tools.length === 1 ? one(tools[0]) : { oneOf: tools.map(one) };
    return { prefix: '', schema: parallel ? { oneOf: [call, { type: 'array', items: call, minItems: 1 }] } : call };
  },
  mayBeCall(textSoFar) {
    const t = textSoFar.trimStart();
    return /[[{]/.test(t) || (t !== '' && (t.startsWith(PYTHON_TAG) || PYTHON_TAG.startsWith(t)));
  },
};

export function toolSyntaxFor(template: ChatTemplate): ToolCallSyntax {
  return template.toolSyntax ?? LLAMA3_JSON;
}

/** promptOf with tools: the stand-in does not render them (P2's templates do). */
export function chatPromptWithTools(model: ChatModel, messages: Message[], _tools?: ToolFunction[]): number[] {
  return promptOf(model, { messages });
}
