import type { Engine, FinishReason } from '../../engine/types.js';
import type { ParsedReply, ToolCallSyntax, ToolFunction } from '../tools.js';
import { LLAMA3_JSON, PYTHON_TAG } from './llama3Syntax.js';

/**
 * A reply streamed while tools are offered, read the way the server reads one (server/tools.ts ReplyTools, whose
 * rules this follows for the terminal chat): its text is shown as it comes until the syntax says it may be a call,
 * then held until the reply ends, so a call is never shown as the raw JSON it is written in (ollama's server holds
 * replies back the same way). Only the text not yet shown is asked about, and held text again only once it has
 * grown by an eighth: each question reads all of it. From a <|python_tag|> on, the reply is a call or, at its end,
 * text; a reply cut short (max tokens, Ctrl-C) is text, as it may be half a call.
 */
export class HeldReply {
  private text = '';
  private sent = 0;
  private heldAt = 0;
  /** Where in the text <|python_tag|> tokens came: a control token, so the text has no trace of it. */
  private tags: number[] = [];
  private tag: number | undefined;

  constructor(engine: Engine, private syntax: ToolCallSyntax, private tools: ToolFunction[]) {
    // As llama.cpp keeps it for its Llama 3.x parser: a built-in call comes after it, code_interpreter's is the code.
    const ids = syntax.name === LLAMA3_JSON.name ? engine.tokenize(PYTHON_TAG, true) : [];
    this.tag = ids.length === 1 ? ids[0] : undefined;
  }

  /** Each generated token, before its text. */
  token(t: number): void {
    if (this.tag !== undefined && t === this.tag) this.tags.push(this.text.length);
  }

  /** A streamed piece in; the text that may be shown now ('' while it is held). */
  push(delta: string): string {
    this.text += delta;
    if (this.tags.length) return '';
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

  /** The finished reply: its content and calls, and the part of the content not shown yet. */
  end(text: string, finish: FinishReason): ParsedReply & { rest: string } {
    const parsed = finish === 'stop' ? this.syntax.parse(this.withTags(text), this.tools) : undefined;
    // The tags are markup: a reply that is no call is the text it would have been without tools.
    const reply = parsed?.calls.length ? parsed : { content: text, calls: [] };
    const shown = this.text.slice(0, this.sent);
    return { ...reply, rest: reply.content.startsWith(shown) ? reply.content.slice(shown.length) : '' };
  }

  private withTags(text: string): string {
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
