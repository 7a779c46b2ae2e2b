import { Template as JinjaTemplate } from '@huggingface/jinja';
import { UserError } from '../errors.js';
import { jinjaPieces } from './jinjaPieces.js';
import type { Message } from './messages.js';
import type { ToolCallSyntax, ToolFunction } from './tools.js';

export const BOS = '<|begin_of_text|>';
export const EOT = '<|eot_id|>';
export const EOM = '<|eom_id|>';
export const END_OF_TEXT = '<|end_of_text|>';
const HEADER = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

/** The system prompt shareAI's v1 model was trained with (the Python demo's default). */
export const V1_SYSTEM =
  "You are a helpful, excellent and smart assistant. Please respond to the user using the language they input, ensuring the language is elegant and fluent.If you don't know the answer to a question, please don't share false information.";

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

/** A native template: one function writes the pieces, and the text is their concatenation. */
type Writer = (messages: Message[], gen: boolean, markup: (t: string) => void, content: (t: string) => void, cut: () => void) => void;

function native(name: string, stops: string[], write: Writer, defaultSystem?: string, noBos?: true): ChatTemplate {
  const pieces = (messages: Message[], gen = true) => {
    const out: PromptPiece[] = [];
    let cut = false;
    const push = (p: PromptPiece) => {
      if (!p.text) return;
      out.push(cut && out.length ? { ...p, cut } : p);
      cut = false;
    };
    write(messages, gen, (text) => push({ text }), (text) => push({ text, content: true }), () => { cut = true; });
    return out;
  };
  return { name, stops, defaultSystem, ...(noBos ? { noBos } : {}), pieces, render: (messages, gen = true) => pieces(messages, gen).map((p) => p.text).join('') };
}

/** Special tokens the model writes at the end of its turn, and the start of a new header (a leaked turn). */
const LLAMA3_STOPS = [EOT, END_OF_TEXT, '<|start_header_id|>'];

const llama3 = native('llama3', LLAMA3_STOPS, (messages, gen, markup, content) => {
  // Like Meta's template: BOS goes before the first message, so no messages means no BOS.
  if (messages.length) markup(BOS);
  for (const m of messages) {
    markup(HEADER(m.role));
    content(m.content.trim());
    markup(EOT);
  }
  if (gen) markup(HEADER('assistant'));
});

const llama31 = native('llama3.1', [EOM, ...LLAMA3_STOPS], (messages, gen, markup, content) => {
  // Llama 3.1 always opens with a system header carrying the knowledge cut-off and date lines.
  const hasSystem = messages[0]?.role === 'system';
  markup(BOS + HEADER('system') + 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n');
  if (hasSystem) content(messages[0].content.trim());
  markup(EOT);
  for (const m of hasSystem ? messages.slice(1) : messages) {
    markup(HEADER(m.role));
    content(m.content.trim());
    markup(EOT);
  }
  if (gen) markup(HEADER('assistant'));
});

const llama3v1 = native('llama3-v1', LLAMA3_STOPS, (messages, gen, markup, content) => {
  const hasSystem = messages[0]?.role === 'system';
  markup(`${BOS}<<SYS>>\n`);
  // The default system prompt is ours, not the user's: markup like any other text the template writes.
  if (hasSystem) content(messages[0].content);
  else markup(V1_SYSTEM);
  markup('\n<</SYS>>\n\n');
  for (const m of hasSystem ? messages.slice(1) : messages) {
    markup(HEADER(m.role));
    content(m.content);
    markup(m.role === 'assistant' ? END_OF_TEXT + '\n' : EOT);
  }
  if (gen) markup(HEADER('assistant'));
}, V1_SYSTEM);

const chatml = native('chatml', ['<|im_end|>', EOT, END_OF_TEXT], (messages, gen, markup, content) => {
  for (const m of messages) {
    markup(`<|im_start|>${m.role}\n`);
    content(m.content);
    markup('<|im_end|>\n');
  }
  if (gen) markup('<|im_start|>assistant\n');
});

/**
 * LLaMA-Factory's `default` template (data/template.py), the one it advises for fine-tuning a base model: "System:
 * {s}<eos>\n", "Human: {u}<eos>\nAssistant:", "{a}<eos>\n", no prefix, so no BOS. Its eos is the tokenizer's:
 * <|end_of_text|> for Meta-Llama-3-8B (an Instruct tokenizer's is <|eot_id|>: lfDefaultJinja writes that one).
 * "Assistant:" belongs to the user turn, so the generation prompt adds nothing, exactly as in training.
 */
const lfDefault = (eos: string) => native('lf-default', [...new Set([eos, END_OF_TEXT, EOT])], (messages, _gen, markup, content, cut) => {
  // Template._encode tokenizes each slot on its own ("Human: {{content}}", eos, "\nAssistant:"; "{{content}}", eos,
  // "\n"): an answer is not read together with the "Assistant:" before it (whole, ":A" would be one token where
  // training had ":" and "A"), nor "Human: " with the "\n" before it.
  const hasSystem = messages[0]?.role === 'system';
  if (hasSystem) { markup('System: '); content(messages[0].content); markup(`${eos}\n`); }
  for (const m of hasSystem ? messages.slice(1) : messages) {
    // As LLaMA-Factory's Jinja: a system message after the first is dropped; content is not trimmed.
    if (m.role === 'user') { cut(); markup('Human: '); content(m.content); markup(`${eos}\nAssistant:`); }
    else if (m.role === 'assistant') { cut(); content(m.content); markup(`${eos}\n`); }
  }
}, undefined, true);

/** lf-default for a tokenizer whose eos is `eos` (an Instruct tokenizer's <|eot_id|>): still no BOS, slot by slot. */
export const lfDefaultTemplate = (eos: string): ChatTemplate => (eos === END_OF_TEXT ? NATIVE_TEMPLATES['lf-default'] : lfDefault(eos));

/** The eos of LLaMA-Factory's `default` Jinja, when `jinja` is exactly that Jinja for one of the known end tokens. */
export function lfDefaultEos(jinja: string): string | undefined {
  return KNOWN_END_TOKENS.find((e) => jinja === lfDefaultJinja(e));
}

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
  const render = (messages: Message[], gen = true) => {
    try {
      return compiled.render({ messages, bos_token: bos, eos_token: eos, add_generation_prompt: gen });
    } catch (e) {
      throw new UserError(`the chat template failed to render: ${(e as Error).message}`);
    }
  };
  return { name, stops, render, pieces: (messages, gen = true) => jinjaPieces((m) => render(m, gen), messages) };
}

/**
 * The old, unsafe reading (--special-tokens-in-content): the whole text is markup, so special-token texts inside
 * message content become those tokens. For a caller that writes every message itself and means them as markup.
 */
export function specialTokensInContent(t: ChatTemplate): ChatTemplate {
  return { ...t, pieces: (messages, gen = true) => [{ text: t.render(messages, gen) }] };
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
  return t;
}

/**
 * A template whose conversations get `system` when they bring no system prompt of their own: the SYSTEM a model made
 * by `create --system` keeps, used as ollama uses a Modelfile's SYSTEM (a request's own system message wins).
 */
export function withDefaultSystem(t: ChatTemplate, system: string): ChatTemplate {
  const add = (m: Message[]): Message[] => (m.length && m[0].role !== 'system' ? [{ role: 'system', content: system }, ...m] : m);
  return { ...t, defaultSystem: system, render: (m, gen = true) => t.render(add(m), gen), pieces: (m, gen = true) => t.pieces(add(m), gen) };
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
