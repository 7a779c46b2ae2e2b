/**
 * One reply from the backends' /v1/chat/completions or /v1/completions, streamed or not, gathered into what the
 * ollama and simple APIs answer with: the text (each piece handed on as it comes), the tool calls (a stream's
 * deltas put together by index), why it ended, the token counts, and the times as the gateway measured them.
 */
import { newCallId, type ToolCall } from '../../chat/tools.js';
import { ApiError, shown } from '../http.js';
import { replyJson, sseEvents } from './backendReply.js';
import type { Upstream } from './types.js';

type Body = Record<string, unknown>;

export interface Completion {
  text: string;
  calls: ToolCall[];
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  /** From sending the request to the end of the reply. */
  totalMs: number;
  /**
   * Until the first token came (streamed), or the backend's own prompt time (llama-server's `timings`); 0 when
   * neither is known: a whole reply says nothing about when its first token was made.
   */
  promptMs: number;
  /** The rest of totalMs. */
  generationMs: number;
}

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A call's arguments as ollama sends them: an object (OpenAI's are a JSON string). */
function callArguments(name: string, args: unknown): Record<string, unknown> {
  if (isObject(args)) return args;
  if (args === undefined || args === null || args === '') return {};
  let parsed: unknown;
  try { parsed = JSON.parse(String(args)); } catch { /* below */ }
  if (!isObject(parsed)) throw new ApiError(502, `a backend called the tool ${shown(name)} with arguments that are not a JSON object: ${shown(args, 120)}`, 'server_error');
  return parsed;
}

/** A stream's tool-call deltas: the first of each index brings its id and name, the rest pieces of its arguments. */
class CallParts {
  private byIndex = new Map<number, { id?: string; name: string; args: string }>();

  add(deltas: unknown) {
    if (!Array.isArray(deltas)) return;
    deltas.forEach((d, i) => {
      if (!isObject(d)) return;
      const index = typeof d.index === 'number' ? d.index : i;
      const call = this.byIndex.get(index) ?? { name: '', args: '' };
      this.byIndex.set(index, call);
      if (typeof d.id === 'string' && d.id) call.id = d.id;
      const f = isObject(d.function) ? d.function : {};
      if (typeof f.name === 'string' && f.name) call.name = f.name;
      if (typeof f.arguments === 'string') call.args += f.arguments;
      else if (isObject(f.arguments)) call.args = JSON.stringify(f.arguments);
    });
  }

  get any(): boolean {
    return this.byIndex.size > 0;
  }

  calls(): ToolCall[] {
    return [...this.byIndex.entries()].sort((a, b) => a[0] - b[0])
      .map(([, c]) => ({ id: c.id ?? newCallId(), name: c.name, arguments: callArguments(c.name, c.args) }));
  }
}

/** A whole reply's calls (OpenAI's message.tool_calls). */
function messageCalls(v: unknown): ToolCall[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).map((c) => {
    const f = isObject(c.function) ? c.function : {};
    const name = typeof f.name === 'string' ? f.name : '';
    return { id: typeof c.id === 'string' && c.id ? c.id : newCallId(), name, arguments: callArguments(name, f.arguments) };
  });
}

const finish = (v: unknown): 'stop' | 'length' => (v === 'length' ? 'length' : 'stop');

/**
 * POST `request` to `path` and gather the reply; `onText` gets each piece of a streamed reply's text as it comes
 * (a request with `"stream": true`), awaited before the next. Undefined when `signal` aborted (the client went away: the backend's request
 * is cancelled with it). A backend's error, before or during the reply, rejects with its ApiError.
 */
export async function complete(up: Upstream, path: string, request: Body, signal: AbortSignal,
  onText?: (text: string) => void | Promise<void>): Promise<Completion | undefined> {
  const t0 = performance.now();
  const chat = path === '/v1/chat/completions';
  try {
    const reply = await up.post(path, request, signal);
    if (request.stream !== true) {
      const data = await replyJson(reply);
      const totalMs = performance.now() - t0;
      const choice = Array.isArray(data.choices) && isObject(data.choices[0]) ? data.choices[0] : {};
      const message = isObject(choice.message) ? choice.message : {};
      const text = chat ? message.content : choice.text;
      const usage = isObject(data.usage) ? data.usage : {};
      // llama-server reports its own prompt and generation times; none of the others do.
      const promptMs = isObject(data.timings) ? Math.min(totalMs, count(data.timings.prompt_ms)) : 0;
      return {
        text: typeof text === 'string' ? text : '',
        calls: chat ? messageCalls(message.tool_calls) : [],
        finishReason: finish(choice.finish_reason),
        promptTokens: count(usage.prompt_tokens),
        completionTokens: count(usage.completion_tokens),
        totalMs, promptMs, generationMs: totalMs - promptMs,
      };
    }
    let text = '';
    let first: number | undefined;
    let finishReason: 'stop' | 'length' = 'stop';
    let usage: Body = {};
    const calls = new CallParts();
    for await (const event of sseEvents(reply, signal)) {
      if (isObject(event.usage)) usage = event.usage;
      const choice = Array.isArray(event.choices) && isObject(event.choices[0]) ? event.choices[0] : undefined;
      if (!choice) continue;
      const delta = chat ? (isObject(choice.delta) ? choice.delta : {}) : choice;
      const piece = typeof delta.content === 'string' ? delta.content : typeof delta.text === 'string' ? delta.text : '';
      if (piece || Array.isArray(delta.tool_calls)) first ??= performance.now();
      if (chat) calls.add(delta.tool_calls);
      if (piece) {
        text += piece;
        // Awaited: a client that reads slowly holds the backend's stream back, not the gateway's memory.
        await onText?.(piece);
      }
      if (choice.finish_reason) finishReason = finish(choice.finish_reason);
    }
    const end = performance.now();
    first ??= end;
    return {
      text, calls: calls.any ? calls.calls() : [], finishReason,
      promptTokens: count(usage.prompt_tokens), completionTokens: count(usage.completion_tokens),
      totalMs: end - t0, promptMs: first - t0, generationMs: end - first,
    };
  } catch (e) {
    if (signal.aborted) return undefined;
    throw e;
  }
}
