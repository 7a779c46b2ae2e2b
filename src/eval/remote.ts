/**
 * A model behind an OpenAI-compatible server (vLLM, llama.cpp's server, llama3-zh serve), through
 * /v1/completions: the letters' log-probabilities from `top_logprobs` of a one-token completion (greedy,
 * echo off), and TriviaQA answers from a greedy completion that stops at a newline. A letter the server does
 * not list among its top tokens gets -100, as MMLU's evaluate.py gives it.
 */
import { apiBase, saysContextOverflow, send, shownBase } from '../chat/openaiHttp.js';
import { ContextOverflowError } from '../engine/errors.js';
import { UserError } from '../errors.js';
import type { EvalModel } from './model.js';

const MISSING = -100;

export interface RemoteOptions {
  baseUrl: string;
  name: string;
  apiKey?: string;
  /** Alternatives per position the server is asked for (OpenAI allows 5; vLLM and llama.cpp up to 20). */
  topLogprobs?: number;
}

export function remoteModel(o: RemoteOptions): EvalModel {
  // The chat's API root, request and reasons (openaiHttp.ts): http(s) only, a URL's password never shown.
  const ep = { base: apiBase(o.baseUrl), apiKey: o.apiKey };
  const url = `${shownBase(ep.base)}/completions`;
  const post = async (body: object): Promise<any> => {
    const res = await send(ep, 'completions', { method: 'POST', body: { model: o.name, temperature: 0, echo: false, ...body } });
    const text = await res.text();
    let json: any;
    try { json = JSON.parse(text); } catch { json = undefined; }
    const message = json?.error?.message ?? (typeof json?.error === 'string' ? json.error : undefined) ?? text.slice(0, 200).replace(/\s+/g, ' ');
    // A prompt longer than the server's context (vLLM, llama.cpp's server, llama3-zh serve each say so their way):
    // the runner drops shots until it fits, as it does in-process.
    if (saysContextOverflow(res.status, message, json?.error?.type, json?.error?.code)) {
      throw new ContextOverflowError(`${url} answered ${res.status}: ${message}`);
    }
    if (!res.ok) throw new UserError(`${url} answered ${res.status}: ${message}`);
    if (!json?.choices?.[0]) throw new UserError(`${url} did not answer like an OpenAI completions API (no choices)`);
    return json.choices[0];
  };
  return {
    name: o.name,
    async answerLogprobs(p, answers) {
      const c = await post({ prompt: p.text, max_tokens: 1, logprobs: o.topLogprobs ?? 20 });
      const lp = c.logprobs;
      // OpenAI's legacy shape (vLLM, llama3-zh serve): top_logprobs is a list (one per token) of {token: logprob};
      // llama.cpp's server answers in the chat shape: content[0].top_logprobs is a list of {token, logprob}.
      let top: Record<string, number> | undefined = Array.isArray(lp?.top_logprobs) ? lp.top_logprobs[0] : undefined;
      const chatShape = Array.isArray(lp?.content) ? lp.content[0]?.top_logprobs : undefined;
      if (!top && Array.isArray(chatShape)) {
        top = {};
        for (const e of chatShape as { token?: unknown; logprob?: unknown }[]) {
          if (typeof e.token === 'string' && typeof e.logprob === 'number' && !(e.token in top)) top[e.token] = e.logprob;
        }
      }
      if (!top) throw new UserError(`${url} gave no top_logprobs; the server must support "logprobs" on /v1/completions`);
      return answers.map((a) => (typeof top[a] === 'number' ? top[a] : MISSING));
    },
    async complete(p, maxTokens) {
      const c = await post({ prompt: p.text, max_tokens: maxTokens, stop: ['\n'] });
      return typeof c.text === 'string' ? c.text : '';
    },
    close: async () => {},
  };
}
