/**
 * Where the page's answers come from: the server's OpenAI API, or llama.cpp running in this browser. The page
 * builds one OpenAI chat request and reads OpenAI stream chunks from either.
 */

export interface PageModel { id: string; contextSize: number; demo?: boolean }

/** One OpenAI chat.completion.chunk (or an error event), as the page reads it. */
export interface ChatChunk {
  choices?: Array<{ delta?: { content?: string | null; tool_calls?: unknown[] }; finish_reason?: string | null }>;
  usage?: { completion_tokens: number } | null;
  error?: { message: string };
}

export interface Backend {
  readonly kind: 'server' | 'browser';
  models(): Promise<PageModel[]>;
  /** Tokens of the prompt these messages make, or 0 when this backend cannot count them. */
  countTokens(model: string, messages: Array<Record<string, unknown>>): Promise<number>;
  /** The answer's chunks; aborting `signal` stops the generation. Throws ContextFull when the prompt does not fit. */
  stream(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<ChatChunk>;
}

/**
 * The prompt is longer than the context: the page drops the oldest round and asks again. Told by name, not by
 * class: the browser engine is a bundle of its own (local.js), with its own copy of this class.
 */
export class ContextFull extends Error {
  override name = 'ContextFull';
}

export const isContextFull = (e: unknown) => (e as Error | null)?.name === 'ContextFull';
