import { Template as JinjaTemplate } from '@huggingface/jinja';
import { UserError } from '../errors.js';
import type { Message } from './messages.js';

export const BOS = '<|begin_of_text|>';
export const EOT = '<|eot_id|>';
export const EOM = '<|eom_id|>';
export const END_OF_TEXT = '<|end_of_text|>';
const HEADER = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

/** The system prompt shareAI's v1 model was trained with (the Python demo's default). */
export const V1_SYSTEM =
  "You are a helpful, excellent and smart assistant. Please respond to the user using the language they input, ensuring the language is elegant and fluent.If you don't know the answer to a question, please don't share false information.";

export interface ChatTemplate {
  name: string;
  /** The prompt text, special tokens written out; generation prompt appended when asked. */
  render(messages: Message[], addGenerationPrompt?: boolean): string;
  /** Texts of the special tokens that end a reply in this format. Generation stops on every one. */
  stops: string[];
  /** System prompt used when the conversation has none (v1 was trained with one). */
  defaultSystem?: string;
}

/** Special tokens the model writes at the end of its turn, and the start of a new header (a leaked turn). */
const LLAMA3_STOPS = [EOT, END_OF_TEXT, '<|start_header_id|>'];

const llama3: ChatTemplate = {
  name: 'llama3',
  stops: LLAMA3_STOPS,
  render(messages, gen = true) {
    // Like Meta's template: BOS goes before the first message, so no messages means no BOS.
    let out = messages.length ? BOS : '';
    for (const m of messages) out += HEADER(m.role) + m.content.trim() + EOT;
    return gen ? out + HEADER('assistant') : out;
  },
};

const llama31: ChatTemplate = {
  name: 'llama3.1',
  stops: [EOM, ...LLAMA3_STOPS],
  render(messages, gen = true) {
    // Llama 3.1 always opens with a system header carrying the knowledge cut-off and date lines.
    const sys = messages[0]?.role === 'system' ? messages[0].content.trim() : '';
    const rest = messages[0]?.role === 'system' ? messages.slice(1) : messages;
    let out = BOS + HEADER('system') + 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' + sys + EOT;
    for (const m of rest) out += HEADER(m.role) + m.content.trim() + EOT;
    return gen ? out + HEADER('assistant') : out;
  },
};

const llama3v1: ChatTemplate = {
  name: 'llama3-v1',
  stops: LLAMA3_STOPS,
  defaultSystem: V1_SYSTEM,
  render(messages, gen = true) {
    const sys = messages[0]?.role === 'system' ? messages[0].content : V1_SYSTEM;
    const rest = messages[0]?.role === 'system' ? messages.slice(1) : messages;
    let out = `${BOS}<<SYS>>\n${sys}\n<</SYS>>\n\n`;
    for (const m of rest) {
      out += m.role === 'assistant' ? HEADER('assistant') + m.content + END_OF_TEXT + '\n' : HEADER(m.role) + m.content + EOT;
    }
    return gen ? out + HEADER('assistant') : out;
  },
};

const chatml: ChatTemplate = {
  name: 'chatml',
  stops: ['<|im_end|>', EOT, END_OF_TEXT],
  render(messages, gen = true) {
    let out = '';
    for (const m of messages) out += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
    return gen ? out + '<|im_start|>assistant\n' : out;
  },
};

export const NATIVE_TEMPLATES: Record<string, ChatTemplate> = {
  llama3, 'llama3.1': llama31, 'llama3-v1': llama3v1, chatml,
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
  return {
    name,
    stops,
    render(messages, gen = true) {
      try {
        return compiled.render({ messages, bos_token: bos, eos_token: eos, add_generation_prompt: gen });
      } catch (e) {
        throw new UserError(`the chat template failed to render: ${(e as Error).message}`);
      }
    },
  };
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
}

/** Pick the template: a file beats a name, a name beats auto-detection from the model. */
export function resolveTemplate(c: TemplateChoice): ChatTemplate {
  if (c.fileSource !== undefined) return jinjaTemplate(c.fileSource, c.jinja, 'jinja (file)');
  const name = c.name ?? detectTemplateName(c.modelSource);
  if (name === 'jinja') {
    if (!c.modelSource) throw new UserError('--template jinja needs a template: the model has no tokenizer.chat_template, so pass --template-file FILE');
    return jinjaTemplate(c.modelSource, c.jinja, 'jinja (model)');
  }
  const t = NATIVE_TEMPLATES[name];
  if (!t) throw new UserError(`unknown template "${name}"; choose one of: ${TEMPLATE_NAMES.join(', ')}`);
  return t;
}
