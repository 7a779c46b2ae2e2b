/**
 * LLaMA-Factory's `default` template (data/template.py), the one it advises for fine-tuning a base model: "System:
 * {s}<eos>\n", "Human: {u}<eos>\nAssistant:", "{a}<eos>\n", no prefix, so no BOS. Its eos is the tokenizer's:
 * <|end_of_text|> for Meta-Llama-3-8B (an Instruct tokenizer's is <|eot_id|>: lfDefaultJinja writes that one).
 * "Assistant:" belongs to the user turn, so the generation prompt adds nothing, exactly as in training. With tools,
 * LLaMA-Factory's default tool format: the tool list after the system prompt, calls as "Action: …\nAction Input: …"
 * in the assistant slot, results in the user slot (register_template's format_function and format_observation).
 */
import { LF_DEFAULT } from '../toolCalls/lfDefaultSyntax.js';
import { END_OF_TEXT, EOT } from './markup.js';
import { native, turns } from './native.js';
import type { ChatTemplate } from '../templates.js';
import { defaultCalls, defaultToolText, joinToolResults } from '../toolCalls/toolPrompts.js';

export const lfDefault = (eos: string): ChatTemplate => native('lf-default', [...new Set([eos, END_OF_TEXT, EOT])], (messages, _gen, out, tools) => {
  // Template._encode tokenizes each slot on its own ("Human: {{content}}", eos, "\nAssistant:"; "{{content}}", eos,
  // "\n"): an answer is not read together with the "Assistant:" before it (whole, ":A" would be one token where
  // training had ":" and "A"), nor "Human: " with the "\n" before it.
  const hasSystem = messages[0]?.role === 'system';
  if (hasSystem || (tools && messages.length)) {
    out.markup('System: ');
    if (hasSystem) out.content(messages[0].content);
    if (tools) out.content(defaultToolText(tools));
    out.markup(`${eos}\n`);
  }
  for (const t of turns(hasSystem ? messages.slice(1) : messages)) {
    // As LLaMA-Factory's Jinja: a system message after the first is dropped; content is not trimmed.
    if (Array.isArray(t)) {
      out.cut(); out.markup('Human: '); out.content(joinToolResults(t.map((m) => m.content))); out.markup(`${eos}\nAssistant:`);
    } else if (t.role === 'user') {
      out.cut(); out.markup('Human: '); out.content(t.content); out.markup(`${eos}\nAssistant:`);
    } else if (t.role === 'assistant') {
      out.cut();
      out.content(t.toolCalls?.length ? (t.content ? `${t.content}\n` : '') + defaultCalls(t.toolCalls) : t.content);
      out.markup(`${eos}\n`);
    }
  }
}, { toolSyntax: LF_DEFAULT, noBos: true });

/** The Jinja LLaMA-Factory writes into the tokenizer for `default` (Template._get_jinja_template), for a tokenizer whose eos is `eos`. */
export function lfDefaultJinja(eos = END_OF_TEXT): string {
  const q = (t: string) => `'${t.replace(/'/g, "\\'")}'`;
  return "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}" +
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% endif %}" +
    `{% if system_message is defined %}{{ 'System: ' + system_message + ${q(eos)} + '\n' }}{% endif %}` +
    "{% for message in loop_messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}" +
    `{{ 'Human: ' + content + ${q(eos)} + '\nAssistant:' }}{% elif message['role'] == 'assistant' %}` +
    `{{ content + ${q(eos)} + '\n' }}{% endif %}{% endfor %}`;
}
