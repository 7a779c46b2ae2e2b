import { encode } from '../gguf/llama3Vocab.js';
import type { ChatTurn, DataRecord, FunctionCall, ToolDef } from './record.js';
import { type Text, textOf } from './text.js';
import { pyJson, RESULTS_SEP } from './toolJson.js';

/** <|start_header_id|> role <|end_header_id|> "\n\n" … <|eot_id|>: five tokens around each message. */
const PER_MESSAGE = 5;
/** Tool results come under the ipython role (Llama-3.1's, and LLaMA-Factory's llama3 template's), two tokens. */
const PER_RESULT = PER_MESSAGE + 1;
const BOS = 1;

const count = (s: Text | string) => encode(textOf(s).trim()).length;

/**
 * Tools and calls as LLaMA-Factory's llama3 template writes them (Llama3ToolUtils): the definitions in the system
 * message after this prompt, each as {"type": "function", "function": …} with indent 4; a call as
 * {"name", "parameters"} (a list for parallel calls); the results in one ipython message. Its prompt holds
 * today's date; a fixed one of the same length stands in.
 */
const toolPrompt = (tools: ToolDef[]) =>
  'Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n' +
  'You have access to the following functions. To call a function, please respond with JSON for a function call. ' +
  'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.\n\n' +
  tools.map((t) => `${JSON.stringify({ type: 'function', function: t }, null, 4)}\n\n`).join('');

const llama3Call = (c: FunctionCall) => ({ name: textOf(c.name), parameters: JSON.parse(textOf(c.arguments)) as unknown });

function turnTokens(t: ChatTurn): number {
  if (t.role === 'call') {
    const calls = pyJson(t.calls.length === 1 ? llama3Call(t.calls[0]) : t.calls.map(llama3Call));
    return PER_MESSAGE + count(t.content ? `${textOf(t.content)}${calls}` : calls);
  }
  if (t.role === 'tool') return PER_RESULT + count(t.results.map((r) => textOf(r.content)).join(RESULTS_SEP));
  return PER_MESSAGE + count(t.content);
}

/**
 * Tokens one training row takes in the official Llama-3 chat template, counted with the real Llama-3
 * tokenizer: BOS, and each message as header + trimmed content + <|eot_id|> (the template trims). For a
 * preference pair, the prompt and the longer answer: the sequence a trainer cuts at its cutoff length.
 * Plain text: BOS + text. A row with tools has a system message even when it has no system prompt, as in
 * LLaMA-Factory (`if system or tools`), which also writes one, empty, for an empty tool list ("[]").
 */
export function llama3Tokens(r: DataRecord): number {
  if (r.kind === 'text') return BOS + encode(textOf(r.text)).length;
  const system = r.system ? textOf(r.system) : '';
  // The tool prompt ends in blank lines that LLaMA-Factory keeps: it is counted as it is, not trimmed.
  let n = BOS + (r.tools?.length ? PER_MESSAGE + encode(system + toolPrompt(r.tools)).length : system || r.tools ? PER_MESSAGE + count(system) : 0);
  for (const t of r.kind === 'chat' ? r.turns : r.prompt) n += turnTokens(t);
  if (r.kind === 'pair') n += PER_MESSAGE + Math.max(count(r.chosen), count(r.rejected));
  return n;
}
