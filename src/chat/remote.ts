/**
 * Replies from a model behind an OpenAI-compatible server (`chat --base-url`): the conversation goes as OpenAI's
 * messages to POST /v1/chat/completions, streamed, and the server applies its own chat template and reads the
 * model's tool calls itself. The round window is the session's as locally; a conversation longer than the
 * server's context is found out by its 400, and then the oldest round goes and the request is sent again.
 */
import { ContextOverflowError } from '../engine/errors.js';
import type { FinishReason } from '../engine/types.js';
import { UserError } from '../errors.js';
import { sseData } from '../util/sse.js';
import { roundWindow } from './conversation.js';
import { messagesJson } from './messageJson.js';
import type { Message } from './messages.js';
import { type Endpoint, failure, networkReason, notOpenAi, saysContextOverflow, send, shownBase } from './openaiHttp.js';
import type { Replier, ReplierInfo, Reply, ReplyRequest } from './replier.js';
import { chooseModel, listModels, type RemoteModel } from './remoteModels.js';
import type { ChatSettings } from './settings.js';
import { newCallId, type ToolCall } from './tools.js';

export interface RemoteOptions extends Endpoint {
  /** --model NAME; default: the server's only (or first) model. */
  model?: string;
}

/**
 * The chat's settings as request fields: OpenAI's, vLLM's extras (top_k, min_p, repetition_penalty, which SGLang and
 * llama3-zh serve read too) and llama-server's names for the repetition penalty (repeat_penalty, repeat_last_n).
 * Settings at their "off" value are left out, so a server without an extra still takes a chat that does not use it.
 */
export function samplingFields(s: ChatSettings): Record<string, unknown> {
  return {
    max_tokens: s.maxTokens,
    temperature: s.temperature,
    top_p: s.topP,
    ...(s.topK > 0 ? { top_k: s.topK } : {}),
    ...(s.minP > 0 ? { min_p: s.minP } : {}),
    ...(s.repeatPenalty !== 1 ? { repetition_penalty: s.repeatPenalty, repeat_penalty: s.repeatPenalty, repeat_last_n: s.repeatLastN } : {}),
    ...(s.presencePenalty ? { presence_penalty: s.presencePenalty } : {}),
    ...(s.frequencyPenalty ? { frequency_penalty: s.frequencyPenalty } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
  };
}

/** Ask the server which models it has, pick one, and give the replier for it (and what to tell the user). */
export async function openRemote(o: RemoteOptions): Promise<{ replier: Replier; notice?: string }> {
  const ep: Endpoint = { base: o.base, apiKey: o.apiKey, keyFrom: o.keyFrom };
  const { model, notice } = chooseModel(ep, await listModels(ep, o.model), o.model);
  return { replier: remoteReplier(ep, model), notice };
}

export function remoteReplier(ep: Endpoint, model: RemoteModel): Replier {
  const base = shownBase(ep.base);
  const info: ReplierInfo = {
    name: model.id,
    banner: [base, ...(model.contextSize ? [`context ${model.contextSize}`] : [])],
    record: { model: model.id, base_url: base },
    contextSize: model.contextSize,
  };

  async function reply(r: ReplyRequest): Promise<Reply> {
    let { kept } = roundWindow(r.turns, r.settings.historyRounds);
    const head: Message[] = r.system ? [{ role: 'system', content: r.system }] : [];
    for (let droppedToFit = 0; ; droppedToFit++) {
      const body = {
        model: model.id,
        messages: messagesJson([...head, ...kept.flat()]),
        stream: true,
        stream_options: { include_usage: true },
        ...samplingFields(r.settings),
        ...(r.stops.length ? { stop: r.stops } : {}),
        ...(r.tools?.length ? { tools: r.tools.map((f) => ({ type: 'function', function: f })) } : {}),
      };
      try {
        return { ...(await streamReply(ep, body, r)), droppedToFit };
      } catch (e) {
        // The question's own round always goes: if it alone is too long, that is the server's error.
        if (!(e instanceof ContextOverflowError) || kept.length <= 1) throw e;
        kept = kept.slice(1);
      }
    }
  }

  return { info, reply, checkTools() {}, close: async () => {} };
}

const isAbort = (e: unknown) => (e as Error)?.name === 'AbortError';

/** A call as it streams: OpenAI sends its id and name first, then its arguments in pieces, all under its index. */
interface PartCall { id?: string; name: string; args: string }

/** One streamed completion, read to its end (or until the signal aborts it: the text so far is the reply). */
async function streamReply(ep: Endpoint, body: Record<string, unknown>, r: ReplyRequest): Promise<Omit<Reply, 'droppedToFit'>> {
  const what = 'POST /v1/chat/completions';
  const base = shownBase(ep.base);
  const t0 = performance.now();
  let first: number | undefined;
  let last = t0;
  let text = '';
  let chunks = 0;
  const calls = new Map<number, PartCall>();
  let finish: string | undefined;
  let usage: any;
  let aborted = false;
  const got = () => { last = performance.now(); first ??= last; chunks++; };

  try {
    const res = await send(ep, 'chat/completions', { method: 'POST', body, signal: r.signal });
    if (!res.ok) throw await failure(ep, what, res);
    const type = res.headers.get('content-type') ?? '';
    if (/^application\/json/.test(type)) {
      // A server that ignores "stream" answers the whole completion at once: as good an answer, in one piece.
      const raw = await res.text();
      let json: any;
      try { json = JSON.parse(raw); } catch { throw notOpenAi(ep, what, res, raw); }
      const choice = json?.choices?.[0];
      if (!choice?.message) throw notOpenAi(ep, what, res, raw);
      const m = choice.message;
      if (typeof m.content === 'string' && m.content) {
        got();
        text = m.content;
        r.onText?.(m.content);
      }
      (Array.isArray(m.tool_calls) ? m.tool_calls : []).forEach((tc: any, i: number) => {
        got();
        const args = tc?.function?.arguments;
        calls.set(i, { id: typeof tc?.id === 'string' ? tc.id : undefined, name: String(tc?.function?.name ?? ''), args: typeof args === 'string' ? args : JSON.stringify(args ?? {}) });
      });
      finish = typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop';
      usage = json.usage;
    } else if (!/^text\/event-stream/.test(type)) {
      throw notOpenAi(ep, what, res, await res.text());
    } else for await (const data of sseData(res.body!)) {
      if (data === '[DONE]') break;
      let chunk: any;
      try { chunk = JSON.parse(data); } catch { throw notOpenAi(ep, `${what}'s stream`, res, data); }
      // An error once the stream has begun comes as an event (vLLM, llama-server, llama3-zh).
      if (chunk?.error) {
        const m = chunk.error.message ?? chunk.error;
        const message = typeof m === 'string' ? m : JSON.stringify(m);
        // llama-server says a conversation is over its context this way, after its 200: leave a round out, as for a 400.
        if (first === undefined && saysContextOverflow(400, message, chunk.error.type, chunk.error.code)) {
          throw new ContextOverflowError(`${base} cannot take the conversation: ${message}`);
        }
        throw new UserError(`${base} stopped the answer with an error: ${message}`);
      }
      if (chunk?.usage) usage = chunk.usage;
      const choice = chunk?.choices?.[0];
      if (!choice) continue;
      const d = choice.delta ?? {};
      if (typeof d.content === 'string' && d.content) {
        got();
        text += d.content;
        r.onText?.(d.content);
      }
      if (Array.isArray(d.tool_calls)) {
        for (const tc of d.tool_calls) {
          got();
          const i = typeof tc.index === 'number' ? tc.index : calls.size;
          const c = calls.get(i) ?? { name: '', args: '' };
          if (typeof tc.id === 'string' && tc.id) c.id = tc.id;
          if (typeof tc.function?.name === 'string') c.name += tc.function.name;
          if (typeof tc.function?.arguments === 'string') c.args += tc.function.arguments;
          calls.set(i, c);
        }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (!isAbort(e) && !r.signal?.aborted) throw new UserError(`the connection to ${base} was lost mid-answer: ${networkReason(e)}`);
    aborted = true;
  }
  if (!aborted && finish === undefined) throw new UserError(`the connection to ${base} was lost mid-answer: the stream ended before the answer did`);

  const finishReason: FinishReason = aborted ? 'abort' : finish === 'length' ? 'length' : 'stop';
  // A reply cut short may hold half a call: only a finished reply's calls are calls.
  const read = r.tools?.length && finishReason === 'stop' ? finishCalls(calls) : { calls: [], broken: [] };
  const toolCalls = read.calls;
  const promptTokens = typeof usage?.prompt_tokens === 'number' ? usage.prompt_tokens : 0;
  const completionTokens = typeof usage?.completion_tokens === 'number' ? usage.completion_tokens : chunks;
  const cachedTokens = typeof usage?.prompt_tokens_details?.cached_tokens === 'number' ? usage.prompt_tokens_details.cached_tokens : 0;
  // Time to the first token is the prompt's time; the tokens after it came between the first chunk and the last.
  const promptMs = (first ?? performance.now()) - t0;
  const generationMs = first === undefined ? 0 : last - first;
  return {
    text,
    content: text,
    toolCalls,
    ...(read.broken.length ? { notice: `(${base} sent a call the chat cannot read, left out: ${read.broken.join('; ')})` } : {}),
    finishReason,
    usage: { promptTokens, completionTokens, cachedTokens },
    timings: {
      promptMs,
      generationMs,
      promptTokensPerSecond: promptMs > 0 ? ((promptTokens - cachedTokens) / promptMs) * 1000 : 0,
      generationTokensPerSecond: generationMs > 0 && completionTokens > 1 ? ((completionTokens - 1) / generationMs) * 1000 : 0,
    },
  };
}

/**
 * The streamed calls, in index order, their arguments parsed (OpenAI sends them as a JSON string). Models write
 * arguments that are not JSON at times (OpenAI's documentation warns of it): such a call is left out, said, and the
 * reply's words are kept, as the local chat keeps text that is no call.
 */
function finishCalls(calls: Map<number, PartCall>): { calls: ToolCall[]; broken: string[] } {
  const out: ToolCall[] = [];
  const broken: string[] = [];
  for (const [, c] of [...calls.entries()].sort(([a], [b]) => a - b)) {
    let args: unknown;
    try { args = c.args.trim() ? JSON.parse(c.args) : {}; } catch { args = undefined; }
    if (!c.name || args === null || typeof args !== 'object' || Array.isArray(args)) {
      broken.push(`function ${JSON.stringify(c.name)} with arguments ${JSON.stringify(c.args.slice(0, 80))}`);
      continue;
    }
    out.push({ id: c.id ?? newCallId(), name: c.name, arguments: args as Record<string, unknown> });
  }
  return { calls: out, broken };
}
