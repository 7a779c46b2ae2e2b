/**
 * Tool calling on the server, for every API alike: the prompt that offers the tools, the grammar a forced call is
 * written under, the calls read out of a finished reply, and, while streaming, the text held back because it may
 * still turn out to be a call (ollama's server holds a reply back the same way until its tool parser decides).
 * The template's ToolCallSyntax says how this model writes calls; nothing is parsed when no tools were offered.
 */
import { PYTHON_TAG } from '../chat/toolCalls/llama3Syntax.js';
import type { Message } from '../chat/messages.js';
import { type ChatModel, promptOf } from '../chat/model.js';
import { LLAMA3_JSON, newCallId, type RequiredCall, type ToolCall, type ToolCallSyntax, type ToolRequest, toolSyntaxFor } from '../chat/tools.js';
import type { FinishReason, OutputFormat, TokenLogprob } from '../engine/types.js';

/** A reply as clients get it: its text, and the calls it makes (none when no tools were offered). */
export interface Reply {
  content: string;
  calls: ToolCall[];
}

/** Text that may go to the client now, with the log-probabilities of its tokens. */
export interface Piece {
  text: string;
  logprobs: TokenLogprob[];
}

/**
 * For tool_choice "required" or a named function: what the reply must be, a prefix the prompt is continued with
 * and a JSON Schema (a named function alone is offered to the grammar, all of them to the prompt, as vLLM does).
 */
export function forcedCall(model: ChatModel, req: ToolRequest | undefined): RequiredCall | undefined {
  if (!req || req.choice === 'auto' || req.choice === 'none') return undefined;
  const { choice } = req;
  const tools = typeof choice === 'object' ? req.tools.filter((t) => t.name === choice.name) : req.tools;
  return toolSyntaxFor(model.template).required(tools, req.parallel);
}

/** The grammar a forced call is decoded under. */
export function forcedFormat(model: ChatModel, req: ToolRequest | undefined): OutputFormat | undefined {
  const forced = forcedCall(model, req);
  return forced && { type: 'json_schema', schema: forced.schema };
}

/** A conversation → prompt tokens, the tools offered in the template's way, and a forced call's prefix after it. */
export function toolPrompt(model: ChatModel, messages: Message[], req: ToolRequest | undefined): number[] {
  const tokens = promptOf(model, { messages, tools: req?.tools });
  const prefix = forcedCall(model, req)?.prefix;
  // The prefix is the template's own markup (<tool_call>, <|python_tag|>): its special tokens are those tokens.
  if (prefix) for (const t of model.engine.tokenize(prefix, true)) tokens.push(t);
  return tokens;
}

/**
 * Llama 3.1's <|python_tag|> as one token of this model's vocabulary, where replies are read with Meta's JSON syntax
 * (the one that knows the tag). It is a control token, so it is not in the reply's text; the server marks where it
 * came (ReplyTools.token), as llama.cpp keeps it for its Llama 3.x parser: a built-in call comes after it, and
 * code_interpreter's call is nothing but the code after it.
 */
export function pythonTag(model: ChatModel): number | undefined {
  if (toolSyntaxFor(model.template).name !== LLAMA3_JSON.name) return undefined;
  const ids = model.engine.tokenize(PYTHON_TAG, true);
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * One choice's reply as it is decoded. Text goes out as content until the syntax says it may be a call; from then
 * on it is held, and goes out after all when it turns out not to be one (the reply moves on past what a call could
 * be, or it ends without parsing as one). A forced call is all call: nothing of it is content.
 */
export class ReplyTools {
  private text = '';
  private sent = 0;
  private held: TokenLogprob[] = [];
  /** How much text was unsent when the syntax last said it may be a call (0: it said no, and all went out). */
  private heldAt = 0;
  private syntax: ToolCallSyntax;
  private prefix: string | undefined;

  /** Where in the text <|python_tag|> tokens came (the text has no trace of them). */
  private tags: number[] = [];

  /** `tag`: the <|python_tag|> token (pythonTag), when this model's replies may have one. */
  constructor(model: ChatModel, private req: ToolRequest, private tag?: number) {
    this.syntax = toolSyntaxFor(model.template);
    this.prefix = forcedCall(model, req)?.prefix;
  }

  /** Each generated token, before its text. From a <|python_tag|> on the reply is a call or, at its end, text. */
  token(t: number): void {
    if (this.tag !== undefined && t === this.tag) this.tags.push(this.text.length);
  }

  /** A streamed delta in; the content that may go out now, if any. */
  push(delta: string, logprobs: TokenLogprob[]): Piece | undefined {
    this.text += delta;
    this.held.push(...logprobs);
    // Only the text not yet sent is asked about: what was sent held no start of a call (nor its beginning at its
    // end), so a call can only start in the rest. Asking about the whole reply at every token costs time
    // quadratic in its length (seconds for a long reply full of braces, measured with LLAMA3_JSON).
    if (this.prefix !== undefined || this.tags.length) return undefined;
    // Held text is asked about again once it has grown by an eighth, not at every token: each question reads all
    // of it, and a reply that shows a call's start early and then goes on in prose stays held to its end (8,000
    // tokens of it blocked the event loop for 10.8 s). Text that is no call after all goes out a little later.
    const unsent = this.text.length - this.sent;
    if (this.heldAt > 0 && unsent < this.heldAt + Math.max(1, this.heldAt >> 3)) return undefined;
    if (this.syntax.mayBeCall(this.text.slice(this.sent), this.req.tools)) {
      this.heldAt = unsent;
      return undefined;
    }
    this.heldAt = 0;
    return this.release(this.text.length);
  }

  /**
   * The finished reply (its whole text, and why it ended), and the content not sent yet. A reply cut by max_tokens
   * is read as text: what it wrote may be half a call (code_interpreter's is any text), or the first of several.
   */
  end(text: string, finish?: FinishReason): { reply: Reply; rest?: Piece } {
    const parsed = finish === 'length' ? undefined : parseReply(this.syntax, this.req, this.withTags(text), this.prefix);
    // The tags are markup: a reply that is no call is the text the client would have had without tools.
    const reply = parsed?.calls.length ? parsed : { content: text, calls: [] };
    const sent = this.text.slice(0, this.sent);
    // What went out stays out: the rest of the content follows it, if it does follow on from it.
    if (reply.content.length <= sent.length || !reply.content.startsWith(sent)) return { reply };
    // The held log-probabilities are the rest's only when no call took some of the held tokens.
    return { reply, rest: { text: reply.content.slice(sent.length), logprobs: reply.calls.length ? [] : this.held.splice(0) } };
  }

  /** The text with its <|python_tag|> tokens where they came (a tag past the end of a trimmed text ends it). */
  private withTags(text: string): string {
    if (!this.tags.length) return text;
    let out = '';
    let at = 0;
    for (const t of this.tags) {
      const to = Math.min(t, text.length);
      out += text.slice(at, to) + PYTHON_TAG;
      at = to;
    }
    return out + text.slice(at);
  }

  private release(upTo: number): Piece {
    const piece = { text: this.text.slice(this.sent, upTo), logprobs: this.held.splice(0) };
    this.sent = upTo;
    return piece;
  }
}

/**
 * A finished reply's content and calls, each call with an id of its own. With parallel_tool_calls false only the
 * first call is kept, as the grammar of a forced call allows only one. Calls to functions that were not offered,
 * and anything that does not parse, stay text (the syntax's parse sees to that).
 */
export function parseReply(syntax: ToolCallSyntax, req: ToolRequest, text: string, prefix?: string): Reply {
  const parsed = syntax.parse((prefix ?? '') + text, req.tools);
  if (parsed.calls.length === 0) return { content: text, calls: [] };
  const calls = (req.parallel ? parsed.calls : parsed.calls.slice(0, 1)).map((c) => ({ id: newCallId(), name: c.name, arguments: c.arguments }));
  return { content: parsed.content, calls };
}
