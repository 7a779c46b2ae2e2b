/**
 * An open chat model: an engine wired to its chat template and the stops that template implies. Built in one
 * place (chatModel) and taken as is by the terminal chat, eval, the benchmarks and the server (which adds its
 * id and admission: server/models.ts). Its prompts become tokens through tokens.ts, nowhere else.
 */
import type { Engine } from '../engine/types.js';
import type { Message } from './messages.js';
import type { ToolFunction } from './tools.js';
import { resolveTemplate, type ChatTemplate, withDefaultSystem } from './templates.js';
import { chatTokens, promptTokens, textTokens } from './tokens.js';

export interface ChatModel {
  engine: Engine;
  template: ChatTemplate;
  /** Stop token ids the template implies (those that are single special tokens in this vocabulary). */
  stopTokens: number[];
  /** Template stops that are not tokens of this vocabulary, matched as text. */
  stopStrings: string[];
  /** Set when the built-in demo model stands in for a real one: what to tell the user. */
  demoNotice?: string;
  /** A created model's system prompt (create --system), which APIs with a default of their own use instead of theirs. */
  system?: string;
}

export interface ChatModelOptions {
  /** --template NAME, or a catalog model's known template; default: detected from the GGUF. */
  templateName?: string;
  /** --template-file: Jinja source, which beats a name. */
  templateSource?: string;
  /** --special-tokens-in-content: parse special-token texts inside message content too. */
  specialTokensInContent?: boolean;
  /** A created model's system prompt, for conversations that bring none (templates.ts withDefaultSystem). */
  defaultSystem?: string;
  demoNotice?: string;
}

/** Wire a loaded engine to its template; the engine stays the caller's to close if this throws. */
export function chatModel(engine: Engine, o: ChatModelOptions = {}): ChatModel {
  const picked = resolveTemplate({
    name: o.templateName,
    fileSource: o.templateSource,
    modelSource: engine.info.chatTemplate,
    jinja: { bosToken: engine.info.bosToken, eosToken: engine.info.eosToken },
    specialTokensInContent: o.specialTokensInContent,
  });
  const template = o.defaultSystem !== undefined ? withDefaultSystem(picked, o.defaultSystem) : picked;
  // A stop that is one special token is matched by id (exact, and never split across tokens); any other,
  // e.g. ChatML's <|im_end|> in a Llama-3 vocabulary, can only be matched in the text.
  const stopTokens: number[] = [];
  const stopStrings: string[] = [];
  for (const s of template.stops) {
    const id = engine.specialTokenId(s);
    if (id !== undefined) stopTokens.push(id);
    else stopStrings.push(s);
  }
  return { engine, template, stopTokens, stopStrings, demoNotice: o.demoNotice, ...(o.defaultSystem !== undefined ? { system: o.defaultSystem } : {}) };
}

/**
 * What a model is asked to continue: a conversation (its content is text, only the template's markup has
 * special tokens) and the tools it is offered, a raw prompt (the client's own markup, special tokens and all),
 * or plain text (eval's official prompts, which may quote <|eot_id|>).
 */
export type PromptInput = { messages: Message[]; tools?: ToolFunction[] } | { prompt: string } | { text: string };

/** The input → tokens, with exactly one BOS where the model wants one. */
export function promptOf(model: ChatModel, input: PromptInput): number[] {
  if ('messages' in input) return chatTokens(model.engine, model.template, input.messages, true, input.tools);
  return 'prompt' in input ? promptTokens(model.engine, input.prompt) : textTokens(model.engine, input.text);
}
