/**
 * Tool calling on the server, for every API alike: the prompt that offers the tools, the grammar a forced call is
 * written under, the calls read out of a finished reply, and, while streaming, the text held back because it may
 * still turn out to be a call (ollama's server holds a reply back the same way until its tool parser decides).
 * The template's ToolCallSyntax says how this model writes calls; nothing is parsed when no tools were offered.
 */
import { HeldReply, pythonTagId } from '../chat/toolCalls/heldReply.js';
import type { Message } from '../chat/messages.js';
import { type ChatModel, promptOf } from '../chat/model.js';
import { newCallId, type ParsedReply, type RequiredCall, type ToolCall, type ToolRequest, toolSyntaxFor } from '../chat/tools.js';
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

/** The <|python_tag|> token of this model, where its replies may have one (chat/toolCalls/heldReply.ts pythonTagId). */
export function pythonTag(model: ChatModel): number | undefined {
  return pythonTagId(model.engine, toolSyntaxFor(model.template));
}

/**
 * One choice's reply as it is decoded: the chat layer's HeldReply (what goes out and when), with the
 * log-probabilities of the tokens held back, which go out with their text, and ids for the calls.
 */
export class ReplyTools {
  private held: TokenLogprob[] = [];
  private reply: HeldReply;

  /** `tag`: the <|python_tag|> token (pythonTag), when this model's replies may have one. */
  constructor(model: ChatModel, private req: ToolRequest, tag?: number) {
    this.reply = new HeldReply(toolSyntaxFor(model.template), req.tools, tag, forcedCall(model, req)?.prefix);
  }

  /** Each generated token, before its text. */
  token(t: number): void {
    this.reply.token(t);
  }

  /** A streamed delta in; the content that may go out now, if any. */
  push(delta: string, logprobs: TokenLogprob[]): Piece | undefined {
    this.held.push(...logprobs);
    const text = this.reply.push(delta);
    return text ? { text, logprobs: this.held.splice(0) } : undefined;
  }

  /** The finished reply (its whole text, and why it ended), and the content not sent yet. */
  end(text: string, finish?: FinishReason): { reply: Reply; rest?: Piece } {
    const r = this.reply.end(text, finish);
    const reply = { content: r.content, calls: withIds(this.req, r.calls) };
    if (!r.rest) return { reply };
    // The held log-probabilities are the rest's only when no call took some of the held tokens.
    return { reply, rest: { text: r.rest, logprobs: r.calls.length ? [] : this.held.splice(0) } };
  }
}

/**
 * Each call with an id of its own. With parallel_tool_calls false only the first call is kept, as the grammar of a
 * forced call allows only one. Calls to functions that were not offered, and anything that does not parse, stayed
 * text (the syntax's parse sees to that).
 */
function withIds(req: ToolRequest, calls: ParsedReply['calls']): ToolCall[] {
  return (req.parallel ? calls : calls.slice(0, 1)).map((c) => ({ id: newCallId(), name: c.name, arguments: c.arguments }));
}
