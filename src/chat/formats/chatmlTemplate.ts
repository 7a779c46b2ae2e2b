/**
 * ChatML (<|im_start|>role\n…<|im_end|>\n), and with tools the Hermes convention as Qwen 2.5's official Jinja
 * writes it (also LLaMA-Factory's `qwen` tool format): the tools inside <tools></tools> after the system prompt,
 * the assistant's calls as <tool_call> blocks after its text, consecutive tool results as <tool_response> blocks
 * of one user turn. Qwen's own default system prompt ("You are Qwen…") is Qwen's, not these models': without a
 * system prompt the tool text stands alone.
 */
import { HERMES } from '../toolCalls/hermesSyntax.js';
import { END_OF_TEXT, EOT } from './markup.js';
import { native, turns } from './native.js';
import { hermesCall, hermesToolText } from '../toolCalls/toolPrompts.js';

export const chatml = native('chatml', ['<|im_end|>', EOT, END_OF_TEXT], (messages, gen, out, tools) => {
  let rest = messages;
  if (tools) {
    const system = messages[0]?.role === 'system' ? messages[0] : undefined;
    out.markup('<|im_start|>system\n');
    if (system) out.content(system.content);
    out.content(hermesToolText(tools, system !== undefined));
    out.markup('<|im_end|>\n');
    if (system) rest = messages.slice(1);
  }
  for (const t of turns(rest)) {
    if (Array.isArray(t)) {
      out.markup('<|im_start|>user');
      for (const m of t) out.content(`\n<tool_response>\n${m.content}\n</tool_response>`);
    } else if (t.toolCalls?.length) {
      out.markup('<|im_start|>assistant');
      out.content((t.content ? `\n${t.content}` : '') + t.toolCalls.map(hermesCall).join(''));
    } else {
      out.markup(`<|im_start|>${t.role}\n`);
      out.content(t.content);
    }
    out.markup('<|im_end|>\n');
  }
  if (gen) out.markup('<|im_start|>assistant\n');
}, { toolSyntax: HERMES });
