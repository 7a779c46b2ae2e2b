/**
 * How a chat's next reply is produced, apart from the conversation's bookkeeping (session.ts): a model loaded here
 * (localReplier.ts: engine, template, prompt window, tool calls read from the text) or a model behind an
 * OpenAI-compatible server (remote.ts: the messages sent, the server's template, its tool calls). The session
 * keeps one set of turn rules for both.
 */
import type { FinishReason, Timings, Usage } from '../engine/types.js';
import type { Message } from './messages.js';
import type { ChatSettings } from './settings.js';
import type { ToolCall, ToolFunction } from './tools.js';

export interface ReplyRequest {
  /** The chat's system prompt; undefined: none set (a local template's default applies). */
  system: string | undefined;
  /** The conversation so far, ending in the question or the tools' results the reply answers. */
  turns: Message[];
  settings: ChatSettings;
  /** Stop strings the user gave (--stop), on top of the template's own. */
  stops: string[];
  /** Offered to the model; the reply's calls are read only when given. */
  tools?: ToolFunction[];
  signal?: AbortSignal;
  /** The reply's text as it streams; with tools, text that may be a call is never shown. */
  onText?: (d: string) => void;
}

export interface Reply {
  /** All the model wrote ("" when it only called tools remotely, or was interrupted before a word). */
  text: string;
  /** The reply's text: all of it, or, when it calls tools, the text before its calls. */
  content: string;
  /** The tools the reply calls, each with its id (only ever with tools offered). */
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
  /** Oldest rounds left out so that the prompt fits the context (the system prompt never is). */
  droppedToFit: number;
  /** Something the user should hear about this reply (a server's call that could not be read), one line. */
  notice?: string;
}

/** What the REPL's banner, /system, /history, --json and /save say about the model. */
export interface ReplierInfo {
  /** The model's name, for the banner. */
  name: string;
  /** The banner's facts after the name ("template llama3", "context 8192", "http://…"). */
  banner: string[];
  /** What --json and /save record of where the model is: {model: path, template} or {model: name, base_url}. */
  record: Record<string, string>;
  /** Tokens the model's context holds, when known (said when rounds are left out to fit it). */
  contextSize?: number;
  /** The system prompt a conversation without one gets (a local template's default); a server's is not known. */
  defaultSystem?: string;
}

export interface Replier {
  readonly info: ReplierInfo;
  reply(r: ReplyRequest): Promise<Reply>;
  /** Throws a UserError at once when these tools cannot be offered (a local template with no tool format). */
  checkTools(tools: ToolFunction[]): void;
  close(): Promise<void>;
}
