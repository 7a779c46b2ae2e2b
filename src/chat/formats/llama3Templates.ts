/**
 * Llama 3.0's template (Meta-Llama-3-8B-Instruct) and shareAI's v1 format, with tools. Llama 3.0 has no tool format
 * of its own, so tools are written the way LLaMA-Factory trains Llama-3 tool-calling fine-tunes (its `llama3`
 * template with the `llama3` tool format, e.g. on glaive_toolcall): the tools as indented JSON after the system
 * prompt, calls as {"name": …, "parameters": …}, results in an `ipython` turn. That is also Meta's JSON convention
 * for Llama 3.1 (the same prompt words, the same call JSON), so a Llama-3.0 agent fine-tune and a 3.1 model are
 * prompted and answer alike, and one parser (LLAMA3_JSON) reads both.
 */
import { LLAMA3_JSON } from '../toolCalls/llama3Syntax.js';
import { BOS, END_OF_TEXT, EOT, HEADER, LLAMA3_STOPS } from './markup.js';
import type { Message } from '../messages.js';
import { native, type PieceWriter, turns } from './native.js';
import { pyStrip } from '../toolCalls/pyJson.js';
import { joinToolResults, llama3Calls, llama3ToolText } from '../toolCalls/toolPrompts.js';

/** The system prompt shareAI's v1 model was trained with (the Python demo's default). */
export const V1_SYSTEM =
  "You are a helpful, excellent and smart assistant. Please respond to the user using the language they input, ensuring the language is elegant and fluent.If you don't know the answer to a question, please don't share false information.";

/** An assistant turn's calls as LLaMA-Factory's function_formatter writes them, after any text the turn had. */
function writeCalls(m: Message, out: PieceWriter): void {
  const text = pyStrip(m.content);
  out.content((text ? `${text}\n` : '') + llama3Calls(m.toolCalls ?? []));
}

export const llama3 = native('llama3', LLAMA3_STOPS, (messages, gen, out, tools) => {
  // Like Meta's template: BOS goes before the first message, so no messages means no BOS.
  if (messages.length) out.markup(BOS);
  let rest = messages;
  if (tools && messages.length) {
    // Template._encode: the first turn's system slot holds system + tool text, written when either exists.
    const system = messages[0].role === 'system' ? messages[0] : undefined;
    out.markup(HEADER('system'));
    if (system) out.content(pyStrip(system.content));
    out.content(llama3ToolText(tools));
    out.markup(EOT);
    if (system) rest = messages.slice(1);
  }
  for (const t of turns(rest)) {
    if (Array.isArray(t)) {
      // LLaMA-Factory's observation slot: the result as it is, in an ipython turn.
      out.markup(HEADER('ipython'));
      out.content(joinToolResults(t.map((m) => m.content)));
    } else if (t.toolCalls?.length) {
      out.markup(HEADER('assistant'));
      writeCalls(t, out);
    } else {
      out.markup(HEADER(t.role));
      out.content(pyStrip(t.content));
    }
    out.markup(EOT);
  }
  if (gen) out.markup(HEADER('assistant'));
}, { toolSyntax: LLAMA3_JSON });

export const llama3v1 = native('llama3-v1', LLAMA3_STOPS, (messages, gen, out, tools) => {
  const hasSystem = messages[0]?.role === 'system';
  out.markup(`${BOS}<<SYS>>\n`);
  // The default system prompt is ours, not the user's: markup like any other text the template writes.
  if (hasSystem) out.content(messages[0].content);
  else out.markup(V1_SYSTEM);
  // The llama3 tool prompt, after the system prompt as in the llama3 template.
  if (tools) out.content(llama3ToolText(tools));
  out.markup('\n<</SYS>>\n\n');
  for (const t of turns(hasSystem ? messages.slice(1) : messages)) {
    if (Array.isArray(t)) {
      out.markup(HEADER('ipython'));
      out.content(joinToolResults(t.map((m) => m.content)));
      out.markup(EOT);
      continue;
    }
    out.markup(HEADER(t.role));
    if (t.toolCalls?.length) writeCalls(t, out);
    else out.content(t.content);
    out.markup(t.role === 'assistant' ? END_OF_TEXT + '\n' : EOT);
  }
  if (gen) out.markup(HEADER('assistant'));
}, { toolSyntax: LLAMA3_JSON, defaultSystem: V1_SYSTEM });
