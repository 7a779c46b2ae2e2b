import type { GenerateResult } from '../engine/types.js';
import { UserError } from '../errors.js';
import { buildPrompt } from './conversation.js';
import { HeldReply, pythonTagId } from './toolCalls/heldReply.js';
import type { Message } from './messages.js';
import type { ChatModel } from './model.js';
import type { ChatSettings } from './settings.js';
import { newCallId, type ToolCall, type ToolFunction, toolSyntaxFor } from './tools.js';

export interface Answer extends GenerateResult {
  /** Oldest rounds left out so that the prompt fits the context (the system prompt never is). */
  droppedToFit: number;
  /** The reply's text: all of it, or, when it calls tools, the text before its calls. */
  content: string;
  /** The tools the reply calls (only ever with tools offered): their results go to answerCalls. */
  toolCalls: ToolCall[];
}

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
 * A multi-turn conversation with one model: the state behind `llama3-zh chat`. With tools, a reply that calls
 * them is kept as an assistant turn with its calls (OpenAI's assistant message with tool_calls); whoever plays the
 * tool gives each call's result (answerCalls), which become tool turns, and the model goes on from them, as an
 * OpenAI client's tool loop does.
 */
export class ChatSession {
  turns: Message[] = [];

  constructor(
    readonly model: ChatModel,
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
    const { engine, template } = this.model;
    const s = this.settings;
    const tools = this.tools?.length ? this.tools : undefined;
    const built = buildPrompt(engine, template, this.system ?? template.defaultSystem, turns, {
      maxRounds: s.historyRounds,
      reserve: s.maxTokens,
      tools,
    });
    const syntax = toolSyntaxFor(template);
    const held = tools && new HeldReply(syntax, tools, pythonTagId(engine, syntax));
    const show = io.onText;
    const result = await engine.generate({
      prompt: built.tokens,
      maxTokens: s.maxTokens,
      sampling: s,
      stopTokens: this.model.stopTokens,
      stopStrings: [...this.model.stopStrings, ...this.extraStops],
      signal: io.signal,
      onToken: held ? (t) => held.token(t) : undefined,
      onText: held ? (d) => { const out = held.push(d); if (out) show?.(out); } : show,
    });
    // Nothing is parsed without tools (as the server does), nor in a reply cut short: half a call is text.
    const read = held?.end(result.text, result.finishReason);
    if (read?.rest) show?.(read.rest);
    const toolCalls = (read?.calls ?? []).map((c) => ({ id: newCallId(), name: c.name, arguments: c.arguments }));
    const content = read ? read.content : result.text;
    // Keep an interrupted answer too (as ollama does): the next question may refer to it.
    if (result.text || result.finishReason !== 'abort') {
      this.turns = [...turns, { role: 'assistant', content, ...(toolCalls.length ? { toolCalls } : {}) }];
    } else {
      this.turns = ifSilent;
    }
    return { ...result, droppedToFit: built.droppedToFit, content, toolCalls };
  }
}
