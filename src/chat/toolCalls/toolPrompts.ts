/**
 * The tool prompts of the formats Llama-3 fine-tunes are trained with, written exactly as their trainers write them:
 * LLaMA-Factory's tool_utils.py (the llama3, default and qwen tool formats: tool_formatter for the tools in the
 * system turn, function_formatter for the assistant's calls) and its OpenAI-data converter (converter.py) for
 * several tool results in a row. Only the date is fixed (LLaMA-Factory writes the day of training): a prompt that
 * changes every day would defeat the prompt cache and every exact test, and 26 Jul 2024 is the date Meta's Llama 3.1
 * template writes by default.
 */
import { pyJson, pyStr } from './pyJson.js';
import type { ToolCall, ToolFunction } from '../tools.js';

export const TOOL_DATE = '26 Jul 2024';

type CallLike = Pick<ToolCall, 'name' | 'arguments'>;

/** A tool as OpenAI sends it ({"type": "function", "function": {…}}), the shape the formatters wrap bare functions in. */
export const wrapTool = (t: ToolFunction) => ({ type: 'function', function: t });

/** LLAMA3_TOOL_PROMPT with each tool as json.dumps(…, indent=4) and a blank line after it (Llama3ToolUtils.tool_formatter). */
export function llama3ToolText(tools: ToolFunction[]): string {
  return `Cutting Knowledge Date: December 2023\nToday Date: ${TOOL_DATE}\n\n` +
    'You have access to the following functions. To call a function, please respond with JSON for a function call. ' +
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. ' +
    'Do not use variables.\n\n' + tools.map((t) => `${pyJson(wrapTool(t), 4)}\n\n`).join('');
}

/** One call as an object, several as a list (Llama3ToolUtils.function_formatter). */
export function llama3Calls(calls: CallLike[]): string {
  const objects = calls.map((c) => ({ name: c.name, parameters: c.arguments }));
  return pyJson(objects.length === 1 ? objects[0] : objects);
}

/** Python's str(d.get(key, "")). */
const get = (d: Record<string, unknown>, key: string) => (key in d ? pyStr(d[key]) : '');

/** DefaultToolUtils.tool_formatter: each tool's name, description and arguments as a list, then how to call one. */
export function defaultToolText(tools: ToolFunction[]): string {
  let text = '';
  for (const t of tools) {
    const p = t.parameters as { properties?: Record<string, unknown>; required?: unknown };
    const required = Array.isArray(p.required) ? p.required : [];
    let args = '';
    for (const [name, schema] of Object.entries(p.properties ?? {})) {
      const s = (schema !== null && typeof schema === 'object' ? schema : {}) as Record<string, unknown>;
      // Python truthiness: a non-empty list of choices, a non-empty items schema.
      const enumText = Array.isArray(s.enum) && s.enum.length ? `, should be one of [${s.enum.map(pyStr).join(', ')}]` : '';
      const items = s.items && typeof s.items === 'object' && Object.keys(s.items).length
        ? `, where each item should be ${get(s.items as Record<string, unknown>, 'type')}` : '';
      args += `  - ${name} (${get(s, 'type')}${required.includes(name) ? ', required' : ''}): ${get(s, 'description')}${enumText}${items}\n`;
    }
    text += `> Tool Name: ${t.name}\nTool Description: ${t.description ?? ''}\nTool Args:\n${args}\n`;
  }
  return `You have access to the following tools:\n${text}Use the following format if using a tool:\n\`\`\`\n` +
    `Action: tool name (one of [${tools.map((t) => t.name).join(', ')}])\n` +
    'Action Input: the input to the tool, in a JSON format representing the kwargs (e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n';
}

/** DefaultToolUtils.function_formatter. */
export function defaultCalls(calls: CallLike[]): string {
  return calls.map((c) => `Action: ${c.name}\nAction Input: ${pyJson(c.arguments)}`).join('\n');
}

/**
 * QWEN_TOOL_PROMPT (QwenToolUtils.tool_formatter; the same text as Qwen 2.5's own Jinja): each tool on its own line as
 * tojson writes it. It follows the system prompt; with none, its leading blank line goes (as LLaMA-Factory does for a
 * template without a default system prompt).
 */
export function hermesToolText(tools: ToolFunction[], afterSystem: boolean): string {
  const text = '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' +
    tools.map((t) => `\n${pyJson(wrapTool(t))}`).join('') +
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>';
  return afterSystem ? text : text.replace(/^\n+/, '');
}

/** One <tool_call> block as Qwen 2.5's Jinja writes it after the assistant's content. */
export const hermesCall = (c: CallLike) => `\n<tool_call>\n{"name": "${c.name}", "arguments": ${pyJson(c.arguments)}}\n</tool_call>`;

/** Several tool results in a row become one turn, as LLaMA-Factory's OpenAI converter joins them. */
export const joinToolResults = (results: string[]) => results.join('\n</tool_response>\n<tool_response>\n');
