import { UserError } from '../errors.js';
import type { Message } from './messages.js';
import type { Replier, Reply } from './replier.js';
import type { ChatSettings } from './settings.js';
import type { ToolCall, ToolFunction } from './tools.js';

/** A reply as the session gives it back (replier.ts Reply: its text, its calls, usage and timings). */
export type Answer = Reply;

export interface AskIO {
  /** The reply's text as it streams; with tools, text that may be a call is held back and never shown. */
  onText?: (d: string) => void;
  signal?: AbortSignal;
}

/** Where the last assistant turn is (-1: none). */
function lastAssistant(turns: Message[]): number {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === 'assistant') return i;
  return -1;
}

/**
 * A multi-turn conversation with one model, loaded here or behind a server (the Replier): the state behind
 * `llama3-zh chat`. With tools, a reply that calls
 * them is kept as an assistant turn with its calls (OpenAI's assistant message with tool_calls); whoever plays the
 * tool gives each call's result (answerCalls), which become tool turns, and the model goes on from them, as an
 * OpenAI client's tool loop does.
 */
export class ChatSession {
  turns: Message[] = [];

  constructor(
    readonly replier: Replier,
    public settings: ChatSettings,
    public system: string | undefined,
    private extraStops: string[] = [],
    /** Offered to the model in the template's tool format; its replies are read for calls only when set. */
    public tools?: ToolFunction[],
  ) {}

  /** A new question. Calls still waiting for their results are dropped first (cancelCalls). */
  async ask(question: string, io: AskIO = {}): Promise<Answer> {
    this.cancelCalls();
    return this.reply([...this.turns, { role: 'user', content: question }], this.turns, io);
  }

  /** The last reply's calls that have no result yet, in order. */
  pendingCalls(): ToolCall[] {
    const at = lastAssistant(this.turns);
    const calls = this.turns[at]?.toolCalls ?? [];
    const answered = new Set(this.turns.slice(at + 1).map((m) => m.toolCallId));
    return calls.filter((c) => !answered.has(c.id));
  }

  /** The tool's result for each pending call, in their order; the model answers from them (and may call again). */
  async answerCalls(results: string[], io: AskIO = {}): Promise<Answer> {
    const calls = this.pendingCalls();
    if (!calls.length) throw new UserError('no tool call is waiting for a result');
    if (results.length !== calls.length) throw new UserError(`${calls.length} tool call${calls.length > 1 ? 's are' : ' is'} waiting for a result, not ${results.length}`);
    const turns: Message[] = [...this.turns, ...calls.map((c, i): Message => ({ role: 'tool', content: results[i], toolCallId: c.id, name: c.name }))];
    // An interrupted answer that said nothing keeps the results: they were given.
    return this.reply(turns, turns, io);
  }

  /**
   * Give up the pending calls: they leave the conversation (a call without its result is a history OpenAI refuses),
   * and so does a question that then has no answer at all, as when an answer is interrupted before its first word.
   */
  cancelCalls(): void {
    const pending = new Set(this.pendingCalls().map((c) => c.id));
    if (!pending.size) return;
    const at = lastAssistant(this.turns);
    const m = this.turns[at];
    const left = m.toolCalls!.filter((c) => !pending.has(c.id));
    const kept: Message[] = left.length ? [{ ...m, toolCalls: left }] : m.content ? [{ role: 'assistant', content: m.content }] : [];
    const turns = [...this.turns.slice(0, at), ...kept, ...this.turns.slice(at + 1)];
    if (!kept.length && at === this.turns.length - 1 && turns.at(-1)?.role === 'user') turns.pop();
    this.turns = turns;
  }

  reset() {
    this.turns = [];
  }

  /** Generate the next reply after `turns`; `ifSilent` is the conversation when it is interrupted before any text. */
  private async reply(turns: Message[], ifSilent: Message[], io: AskIO): Promise<Answer> {
    const tools = this.tools?.length ? this.tools : undefined;
    const a = await this.replier.reply({ system: this.system, turns, settings: this.settings, stops: this.extraStops, tools, signal: io.signal, onText: io.onText });
    // Keep an interrupted answer too (as ollama does): the next question may refer to it.
    if (a.text || a.toolCalls.length || a.finishReason !== 'abort') {
      this.turns = [...turns, { role: 'assistant', content: a.content, ...(a.toolCalls.length ? { toolCalls: a.toolCalls } : {}) }];
    } else {
      this.turns = ifSilent;
    }
    return a;
  }
}
