/**
 * Llama 3.1, written as Meta's official Llama-3.1-8B-Instruct chat template writes it (tokenizer_config.json, the
 * copy llama.cpp keeps in models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja; test/fixtures/templates/
 * llama3.1-official.jinja), tools and all, with its defaults: today's date 26 Jul 2024, tools_in_user_message =
 * true (the tools go into the first user message). Meta's built-in tools (brave_search, wolfram_alpha and
 * code_interpreter, taking Meta's query / code: llama3Builtins.ts) are passed as its `builtin_tools`, as llama.cpp
 * does: "Environment: ipython",
 * a "Tools:" line, calls written as <|python_tag|>name.call(arg="…") and ended with <|eom_id|>.
 */
import { UserError } from '../../errors.js';
import { isBuiltin, LLAMA3_JSON, PYTHON_TAG } from '../toolCalls/llama3Syntax.js';
import { BOS, EOM, EOT, HEADER, LLAMA3_STOPS } from './markup.js';
import { native } from './native.js';
import { pyJson, pyStrip } from '../toolCalls/pyJson.js';
import { TOOL_DATE, wrapTool } from '../toolCalls/toolPrompts.js';

/** The template's `arg_name + '="' + arg_val + '"'`: a string as it is, a number or boolean as @huggingface/jinja writes it. */
const builtinArg = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : pyJson(v));

export const llama31 = native('llama3.1', [EOM, ...LLAMA3_STOPS], (messages, gen, out, tools) => {
  const builtins = tools?.filter(isBuiltin).map((t) => t.name) ?? [];
  const custom = tools?.filter((t) => !isBuiltin(t)) ?? [];
  let rest = messages;
  // Llama 3.1 always opens with a system header carrying the knowledge cut-off and date lines.
  out.markup(BOS + HEADER('system'));
  if (builtins.length || custom.length) out.markup('Environment: ipython\n');
  if (builtins.length) out.markup(`Tools: ${builtins.filter((n) => n !== 'code_interpreter').join(', ')}\n\n`);
  out.markup(`Cutting Knowledge Date: December 2023\nToday Date: ${TOOL_DATE}\n\n`);
  if (rest[0]?.role === 'system') {
    out.content(pyStrip(rest[0].content));
    rest = rest.slice(1);
  }
  out.markup(EOT);
  if (custom.length) {
    // Custom tools go into the first message, whatever its role, as the template takes messages[0].
    if (!rest.length) throw new UserError('Llama 3.1 puts the tools into the first user message, and this conversation has none: add a user message');
    out.markup(HEADER('user'));
    out.markup('Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n' +
      'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n');
    for (const t of custom) out.content(`${pyJson(wrapTool(t), 4)}\n\n`);
    out.content(pyStrip(rest[0].content));
    out.markup(EOT);
    rest = rest.slice(1);
  }
  for (const m of rest) {
    if (m.role === 'tool') {
      // `message.content is iterable` holds for a string too, so the template writes the result through tojson.
      out.markup(HEADER('ipython'));
      out.content(JSON.stringify(m.content));
      out.markup(EOT);
    } else if (m.toolCalls?.length) {
      if (m.toolCalls.length !== 1) throw new UserError(`Llama 3.1's template takes one tool call per assistant message (Meta's raises "This model only supports single tool-calls at once!"); this one has ${m.toolCalls.length}`);
      const call = m.toolCalls[0];
      out.markup(HEADER('assistant'));
      if (builtins.includes(call.name)) {
        out.markup(PYTHON_TAG);
        out.content(`${call.name}.call(${Object.entries(call.arguments).map(([k, v]) => `${k}="${builtinArg(v)}"`).join(', ')})`);
      } else {
        out.content(`{"name": "${call.name}", "parameters": ${pyJson(call.arguments)}}`);
      }
      // In ipython mode (built-in tools offered) a call ends the message, not the turn: the tool's result comes next.
      out.markup(builtins.length ? EOM : EOT);
    } else {
      out.markup(HEADER(m.role));
      out.content(pyStrip(m.content));
      out.markup(EOT);
    }
  }
  if (gen) out.markup(HEADER('assistant'));
}, { toolSyntax: LLAMA3_JSON });
