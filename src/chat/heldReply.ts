import type { ToolCallSyntax } from './tools.js';

/**
 * A reply streamed while tools are offered: its text goes out as it comes until the syntax says it may be a call,
 * and from then on it is held until the reply ends (ollama's server and ours hold replies back the same way, so a
 * call is never shown as the raw JSON it is written in). Only the text not yet sent is asked about: what went out
 * held no start of a call.
 */
export class HeldReply {
  private text = '';
  private sent = 0;

  constructor(private syntax: ToolCallSyntax) {}

  /** A streamed piece in; the text that may be shown now ('' while it is held). */
  push(delta: string): string {
    this.text += delta;
    if (this.syntax.mayBeCall(this.text.slice(this.sent))) return '';
    const out = this.text.slice(this.sent);
    this.sent = this.text.length;
    return out;
  }

  /** Once the reply is read (its content without its calls): the part of the content not shown yet. */
  rest(content: string): string {
    const shown = this.text.slice(0, this.sent);
    return content.startsWith(shown) ? content.slice(shown.length) : '';
  }
}
