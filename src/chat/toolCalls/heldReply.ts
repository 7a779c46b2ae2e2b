import type { Engine, FinishReason } from '../../engine/types.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from '../tools.js';
import { LLAMA3_JSON, PYTHON_TAG } from './llama3Syntax.js';

/**
 * Llama 3.1's <|python_tag|> as one token of this vocabulary, where replies are read with Meta's JSON syntax (the one
 * that knows the tag). It is a control token, so the reply's text has no trace of it: HeldReply.token marks where it
 * came, as llama.cpp keeps it for its Llama 3.x parser (a built-in call comes after it; code_interpreter's call is
 * nothing but the code after it).
 */
export function pythonTagId(engine: Pick<Engine, 'tokenize'>, syntax: ToolCallSyntax): number | undefined {
  if (syntax.name !== LLAMA3_JSON.name) return undefined;
  const ids = engine.tokenize(PYTHON_TAG, true);
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * A reply streamed while tools are offered, for the terminal chat and every server API alike: its text goes out as it
 * comes until the syntax says it may be a call, then it is held, and goes out after all when it turns out not to be
 * one, so a call is never shown as the raw JSON it is written in (ollama's server holds replies back the same way).
 * Only the text not yet out is asked about (what went out held no start of a call), and held text again only once it
 * has grown by an eighth: each question reads all of it, and a reply that shows a call's start early and then goes
 * on in prose stays held to its end (8,000 tokens of it, asked at every token, blocked the server's event loop for
 * 10.8 s). From a <|python_tag|> on, the reply is a call or, at its end, text; a forced call (a `prefix`: the prompt
 * was continued with the call's opening) is all call. A reply cut short (max tokens, an abort) is text: it may be
 * half a call, or the first of several.
 */
export class HeldReply {
  private text = '';
  private sent = 0;
  /** How much text was unsent when the syntax last said it may be a call (0: it said no, and all went out). */
  private heldAt = 0;
  /** Where in the text <|python_tag|> tokens came. */
  private tags: number[] = [];

  /** `tag`: the <|python_tag|> token (pythonTagId), when this model's replies may have one. */
  constructor(private syntax: ToolCallSyntax, private tools: ToolFunction[], private tag?: number, private prefix?: string) {}

  /** Each generated token, before its text. */
  token(t: number): void {
    if (this.tag !== undefined && t === this.tag) this.tags.push(this.text.length);
  }

  /** A streamed piece in; the text that may go out now ('' while it is held). */
  push(delta: string): string {
    this.text += delta;
    if (this.prefix !== undefined || this.tags.length) return '';
    const unsent = this.text.length - this.sent;
    if (this.heldAt > 0 && unsent < this.heldAt + Math.max(1, this.heldAt >> 3)) return '';
    if (this.syntax.mayBeCall(this.text.slice(this.sent), this.tools)) {
      this.heldAt = unsent;
      return '';
    }
    this.heldAt = 0;
    const out = this.text.slice(this.sent);
    this.sent = this.text.length;
    return out;
  }

  /** The finished reply (its whole text, and why it ended): its content and calls, and the content not out yet. */
  end(text: string, finish?: FinishReason): ParsedReply & { rest: string } {
    const parsed = finish === 'length' || finish === 'abort' ? undefined : this.syntax.parse((this.prefix ?? '') + this.withTags(text), this.tools);
    // The tags are markup: a reply that is no call is the text it would have been without tools.
    const reply = parsed?.calls.length ? parsed : { content: text, calls: [] };
    const sent = this.text.slice(0, this.sent);
    // What went out stays out: the rest of the content follows it, if it does follow on from it.
    return { ...reply, rest: reply.content.startsWith(sent) ? reply.content.slice(sent.length) : '' };
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
}
