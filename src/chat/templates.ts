import { Template as JinjaTemplate } from '@huggingface/jinja';
import { UserError } from '../errors.js';
import { chatml } from './formats/chatmlTemplate.js';
import { HERMES } from './toolCalls/hermesSyntax.js';
import { jinjaPieces } from './jinjaPieces.js';
import { hfMessages, hfTools } from './formats/hfShape.js';
import { llama31 } from './formats/llama31Template.js';
import { LLAMA3_JSON } from './toolCalls/llama3Syntax.js';
import { llama3, llama3v1 } from './formats/llama3Templates.js';
import { lfDefault, lfDefaultJinja } from './formats/lfDefaultTemplate.js';
import { BOS, EOM, END_OF_TEXT, EOT } from './formats/markup.js';
import type { Message } from './messages.js';
import type { ToolCallSyntax, ToolFunction } from './tools.js';

export { BOS, EOM, END_OF_TEXT, EOT } from './formats/markup.js';
export { V1_SYSTEM } from './formats/llama3Templates.js';
export { lfDefaultJinja } from './formats/lfDefaultTemplate.js';

/**
 * A rendered prompt in pieces: the template's own markup, whose special-token texts (<|eot_id|>) are those
 * tokens, and message content, which is only ever text (a user who types <|eot_id|> must not end a turn).
 */
export interface PromptPiece {
  text: string;
  content?: true;
  /** Tokenized apart from the text before it (LLaMA-Factory encodes each slot of its templates on its own). */
  cut?: true;
}

export interface ChatTemplate {
  name: string;
  /** The prompt text, special tokens written out; generation prompt appended when asked; `tools` offered to the model. */
  render(messages: Message[], addGenerationPrompt?: boolean, tools?: ToolFunction[]): string;
  /**
   * The same text as pieces of markup and content (joined, exactly `render`'s text); undefined when the
   * template rewrites content in a way that cannot be traced back to the messages (see jinjaPieces.ts).
   */
  pieces(messages: Message[], addGenerationPrompt?: boolean, tools?: ToolFunction[]): PromptPiece[] | undefined;
  /** How replies in this format call tools. */
  toolSyntax?: ToolCallSyntax;
  /** Texts of the special tokens that end a reply in this format. Generation stops on every one. */
  stops: string[];
  /** System prompt used when the conversation has none (v1 was trained with one). */
  defaultSystem?: string;
  /** The format has no BOS and none is added, whatever the model's add_bos_token (LLaMA-Factory's `default` trains without one). */
  noBos?: true;
}

/** lf-default for a tokenizer whose eos is `eos` (an Instruct tokenizer's <|eot_id|>): still no BOS, slot by slot. */
export const lfDefaultTemplate = (eos: string): ChatTemplate => (eos === END_OF_TEXT ? NATIVE_TEMPLATES['lf-default'] : lfDefault(eos));

/** The eos of LLaMA-Factory's `default` Jinja, when `jinja` is exactly that Jinja for one of the known end tokens. */
export function lfDefaultEos(jinja: string): string | undefined {
  return KNOWN_END_TOKENS.find((e) => jinja === lfDefaultJinja(e));
}

export const NATIVE_TEMPLATES: Record<string, ChatTemplate> = {
  llama3, 'llama3.1': llama31, 'llama3-v1': llama3v1, chatml, 'lf-default': lfDefault(END_OF_TEXT),
};
export const TEMPLATE_NAMES = [...Object.keys(NATIVE_TEMPLATES), 'jinja'];

/** Turn-ending special tokens we look for in a Jinja template to know where its replies stop. */
const KNOWN_END_TOKENS = [EOT, EOM, END_OF_TEXT, '<|im_end|>', '<|end|>', '<end_of_turn>', '</s>', '<|endoftext|>'];

export interface JinjaOptions {
  bosToken?: string;
  eosToken?: string;
}

/** Any Jinja chat template (a GGUF's tokenizer.chat_template, or a file), rendered with @huggingface/jinja. */
export function jinjaTemplate(source: string, opts: JinjaOptions = {}, name = 'jinja'): ChatTemplate {
  let compiled: JinjaTemplate;
  try {
    compiled = new JinjaTemplate(source);
  } catch (e) {
    throw new UserError(`the chat template does not parse as Jinja: ${(e as Error).message}`);
  }
  const bos = opts.bosToken ?? BOS;
  const eos = opts.eosToken ?? EOT;
  const stops = KNOWN_END_TOKENS.filter((t) => source.includes(t));
  if (!stops.includes(eos)) stops.push(eos);
  // Tools go to the Jinja when it handles them; a template that never mentions them gets its family's built-in
  // tool prompt (a Llama-3 or ChatML template given as a file), or an error saying it has none.
  const handlesTools = /\btools\b/.test(source);
  const family = handlesTools ? undefined : NATIVE_TEMPLATES[templateFamily(source)];
  const toolSyntax = handlesTools ? (source.includes('<tool_call>') ? HERMES : LLAMA3_JSON) : family?.toolSyntax ?? LLAMA3_JSON;
  const builtIn = (tools?: ToolFunction[]) => {
    if (!tools?.length || handlesTools) return undefined;
    if (family) return family;
    throw new UserError(`the chat template ${name} has no tool format (it never mentions "tools") and is not one of the built-in formats; ` +
      'to offer tools, choose a built-in template (--template llama3, llama3.1, chatml or lf-default) or a --template-file whose Jinja handles tools');
  };
  const render = (messages: Message[], gen = true, tools?: ToolFunction[]): string => {
    const other = builtIn(tools);
    if (other) return other.render(messages, gen, tools);
    try {
      // As transformers' apply_chat_template passes them: OpenAI's shapes, and no `tools` at all when there are none.
      return compiled.render({ messages: hfMessages(messages), ...(tools?.length ? { tools: hfTools(tools) } : {}), bos_token: bos, eos_token: eos, add_generation_prompt: gen });
    } catch (e) {
      throw new UserError(`the chat template failed to render: ${(e as Error).message}`);
    }
  };
  return {
    name, stops, render, toolSyntax,
    pieces: (messages, gen = true, tools) => builtIn(tools)?.pieces(messages, gen, tools) ??
      jinjaPieces((m, t) => render(m, gen, t), messages, tools?.length ? tools : undefined),
  };
}

/** The native format a Jinja template is written in, a Llama 3.2-style one (today's date) counting as Llama 3.1. */
function templateFamily(source: string): string {
  const name = detectTemplateName(source);
  return name === 'jinja' && source.includes('<|start_header_id|>') && source.includes('Cutting Knowledge Date') ? 'llama3.1' : name;
}

/**
 * The old, unsafe reading (--special-tokens-in-content): the whole text is markup, so special-token texts inside
 * message content become those tokens. For a caller that writes every message itself and means them as markup.
 */
export function specialTokensInContent(t: ChatTemplate): ChatTemplate {
  return { ...t, pieces: (messages, gen = true, tools) => [{ text: t.render(messages, gen, tools) }] };
}

/** Which native format a Jinja template is, so we use our exact, tested renderer and its stop tokens. */
export function detectTemplateName(jinja: string | undefined): string {
  if (!jinja) return 'llama3';
  const has = (s: string) => jinja.includes(s);
  if (has('<|start_header_id|>')) {
    if (has('<<SYS>>')) return 'llama3-v1';
    // Llama 3.2+ writes today's date (strftime_now): its own template does that, our fixed 3.1 date would not.
    if (has('Cutting Knowledge Date')) return has('strftime_now') ? 'jinja' : 'llama3.1';
    return 'llama3';
  }
  if (has('<|im_start|>')) return 'chatml';
  // LLaMA-Factory's default with the Llama-3 base eos (another eos is rendered by the Jinja itself).
  if (jinja === lfDefaultJinja()) return 'lf-default';
  return 'jinja';
}

export interface TemplateChoice {
  /** --template NAME */
  name?: string;
  /** --template-file: Jinja source read from a file */
  fileSource?: string;
  /** the model's tokenizer.chat_template */
  modelSource?: string;
  jinja?: JinjaOptions;
  /** --special-tokens-in-content: parse special-token texts inside message content too (the old behaviour). */
  specialTokensInContent?: boolean;
}

/** Pick the template: a file beats a name, a name beats auto-detection from the model. */
export function resolveTemplate(c: TemplateChoice): ChatTemplate {
  const t = pickTemplate(c);
  return c.specialTokensInContent ? specialTokensInContent(t) : t;
}

/**
 * A Jinja template; LLaMA-Factory's `default` with another eos than the base's (an Instruct tokenizer) is still
 * that format: rendered the same, but with no BOS and slot by slot, as it was trained (the Jinja cannot say either).
 */
function fromJinja(source: string, opts: JinjaOptions | undefined, name: string): ChatTemplate {
  const eos = lfDefaultEos(source);
  return eos ? { ...lfDefaultTemplate(eos), name } : jinjaTemplate(source, opts, name);
}

function pickTemplate(c: TemplateChoice): ChatTemplate {
  if (c.fileSource !== undefined) return fromJinja(c.fileSource, c.jinja, 'jinja (file)');
  const name = c.name ?? detectTemplateName(c.modelSource);
  if (name === 'jinja') {
    if (!c.modelSource) throw new UserError('--template jinja needs a template: the model has no tokenizer.chat_template, so pass --template-file FILE');
    return fromJinja(c.modelSource, c.jinja, 'jinja (model)');
  }
  const t = NATIVE_TEMPLATES[name];
  if (!t) throw new UserError(`unknown template "${name}"; choose one of: ${TEMPLATE_NAMES.join(', ')}`);
  // The model's own template writes tools as the model was trained to read them (Qwen 2.5's, a Hermes tool-use
  // one): offered tools go through it, as llama.cpp's --jinja does; a conversation without tools keeps the exact
  // native renderer. Meta's Llama 3.1 template is the native llama3.1 itself (and passes builtin_tools).
  if (c.name === undefined && c.modelSource && name !== 'llama3.1' && /\btools\b/.test(c.modelSource)) {
    return withOwnTools(t, jinjaTemplate(c.modelSource, c.jinja, t.name));
  }
  return t;
}

/** `native`, except that a conversation offered tools is rendered by `own` (and read with its syntax). */
function withOwnTools(native: ChatTemplate, own: ChatTemplate): ChatTemplate {
  const pick = (tools?: ToolFunction[]) => (tools?.length ? own : native);
  return {
    ...native, toolSyntax: own.toolSyntax, stops: [...new Set([...native.stops, ...own.stops])],
    render: (m, gen = true, tools) => pick(tools).render(m, gen, tools),
    pieces: (m, gen = true, tools) => pick(tools).pieces(m, gen, tools),
  };
}

/**
 * A template whose conversations get `system` when they bring no system prompt of their own: the SYSTEM a model made
 * by `create --system` keeps, used as ollama uses a Modelfile's SYSTEM (a request's own system message wins).
 */
export function withDefaultSystem(t: ChatTemplate, system: string): ChatTemplate {
  const add = (m: Message[]): Message[] => (m.length && m[0].role !== 'system' ? [{ role: 'system', content: system }, ...m] : m);
  return { ...t, defaultSystem: system, render: (m, gen = true, tools) => t.render(add(m), gen, tools), pieces: (m, gen = true, tools) => t.pieces(add(m), gen, tools) };
}

/**
 * Check a Jinja chat template before a model is made with it: it parses, renders a conversation with a system
 * prompt, two user turns and a reply, and what it renders holds each message's text (a template that drops them,
 * e.g. one written for a `content` list, would make a model that never sees the question).
 */
export function checkChatTemplate(source: string, where: string, o: { withoutSystem?: boolean } = {}): void {
  const probe: Message[] = [
    { role: 'system', content: 'SYSTEM-PROBE' },
    { role: 'user', content: 'USER-PROBE-1' },
    { role: 'assistant', content: 'ASSISTANT-PROBE' },
    { role: 'user', content: 'USER-PROBE-2' },
  ];
  let text: string;
  try {
    text = jinjaTemplate(source).render(probe, true);
    // A model with no system prompt of its own gets conversations without one (a template may raise_exception on them).
    if (o.withoutSystem) jinjaTemplate(source).render(probe.slice(1, 2), true);
  } catch (e) {
    throw new UserError(`cannot use ${where}${o.withoutSystem ? ' without a system prompt (give one with --system)' : ''}: ${(e as Error).message}`);
  }
  const lost = probe.filter((m) => m.role !== 'system' && !text.includes(m.content));
  if (lost.length) throw new UserError(`cannot use ${where}: it renders without the ${lost[0].role} messages' text (${lost[0].content} is not in its output); a chat template must write each message['content']`);
}
