/**
 * What the gateway's ollama and simple routes send the backends: a request read by ../ollamaFields.ts (or
 * ../simpleFields.ts) written as an OpenAI request, with vLLM's sampling extras (top_k, min_p, repetition_penalty),
 * which llama-server, SGLang and llama3-zh take too.
 */
import type { Message } from '../../chat/messages.js';
import type { ToolRequest } from '../../chat/tools.js';
import type { OutputFormat } from '../../engine/types.js';
import type { OllamaOptions } from '../ollamaFields.js';

type Body = Record<string, unknown>;

/** Messages in OpenAI's shape: a call's arguments as a JSON string, each tool result naming its call's id. */
export function openaiMessages(messages: Message[]): Body[] {
  return messages.map((m) => {
    if (m.role === 'tool') return { role: 'tool', content: m.content, tool_call_id: m.toolCallId, ...(m.name ? { name: m.name } : {}) };
    if (m.role === 'assistant' && m.toolCalls?.length) {
      return {
        role: 'assistant', content: m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })),
      };
    }
    return { role: m.role, content: m.content };
  });
}

/**
 * ollama's options as OpenAI's fields. Every sampling value is sent, ollama's defaults included: a backend's own
 * defaults are OpenAI's (temperature 1, no top_k), and the reply would not be the one ollama's defaults give.
 * No num_predict means no limit: chat completions have none unless asked (`noLimit` says how a request says so).
 */
export function samplingFields(o: OllamaOptions, noLimit: Body = {}): Body {
  const s = o.sampling;
  return {
    temperature: s.temperature,
    top_p: s.topP,
    // ollama's top_k 0 is "off", which vLLM before 0.8 spells -1 only (llama-server and llama3-zh take either).
    top_k: s.topK === 0 ? -1 : s.topK,
    min_p: s.minP,
    repetition_penalty: s.repeatPenalty,
    presence_penalty: s.presencePenalty,
    frequency_penalty: s.frequencyPenalty,
    // llama-server's name; vLLM has no such window (its penalties look at the whole text), so only when asked.
    ...(o.repeatLastNGiven ? { repeat_last_n: s.repeatLastN } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(o.stop.length ? { stop: o.stop } : {}),
    ...(o.maxTokens !== undefined ? { max_tokens: o.maxTokens } : noLimit),
  };
}

/** ollama's `format` as OpenAI's response_format. */
export function responseFormat(f: OutputFormat | undefined): Body {
  if (!f) return {};
  if (f.type === 'json') return { response_format: { type: 'json_object' } };
  return { response_format: { type: 'json_schema', json_schema: { name: 'format', schema: f.schema } } };
}

/** The request's tools as OpenAI's list (read and checked already: ../toolFields.ts). */
export function openaiTools(t: ToolRequest | undefined): Body {
  if (!t) return {};
  return { tools: t.tools.map((f) => ({ type: 'function', function: { name: f.name, ...(f.description !== undefined ? { description: f.description } : {}), parameters: f.parameters } })) };
}

/** A streamed request, with the usage chunk at its end (ollama's last piece has the counts). */
export const streamFields = (stream: boolean): Body => (stream ? { stream: true, stream_options: { include_usage: true } } : { stream: false });
