/**
 * The two things eval asks of a model: the log-probabilities of a few one-token answers after a prompt, and
 * a greedy completion. A local engine answers both in-process; a remote OpenAI-compatible server answers
 * them through /v1/completions (remote.ts).
 */
import { promptOf, type ChatModel } from '../chat/model.js';
import type { ChatTemplate } from '../chat/templates.js';
import { UserError } from '../errors.js';
import type { RenderedPrompt } from './prompts.js';

export interface EvalModel {
  /** Shown in reports; also names the results file. */
  name: string;
  /** For the chat style. */
  template?: ChatTemplate;
  /**
   * Natural-log probabilities of each of `answers` (one token each, e.g. "A" or " A") as the next token.
   * With `reuseCache` false, the prompt is evaluated in full even when a prefix is cached.
   */
  answerLogprobs(prompt: RenderedPrompt, answers: string[], o?: { reuseCache?: boolean }): Promise<number[]>;
  /** Greedy continuation up to the first newline (or `maxTokens`). */
  complete(prompt: RenderedPrompt, maxTokens: number): Promise<string>;
  close(): Promise<void>;
}

export function localModel(name: string, m: ChatModel): EvalModel {
  const { engine } = m;
  const answerIds = new Map<string, number>();
  const idOf = (text: string) => {
    let id = answerIds.get(text);
    if (id === undefined) {
      const t = engine.tokenize(text);
      if (t.length !== 1) throw new UserError(`${name}: the answer ${JSON.stringify(text)} is ${t.length} tokens in this model's vocabulary; letter scoring needs one token`);
      id = t[0];
      answerIds.set(text, id);
    }
    return id;
  };
  const tokens = (p: RenderedPrompt) => promptOf(m, p.messages ? { messages: p.messages } : { text: p.text });
  return {
    name,
    template: m.template,
    answerLogprobs: (p, answers, o) => engine.nextTokenLogprobs(tokens(p), answers.map(idOf), o),
    async complete(p, maxTokens) {
      const r = await engine.generate({ prompt: tokens(p), maxTokens, stopStrings: ['\n', ...m.stopStrings], stopTokens: m.stopTokens });
      return r.text;
    },
    close: () => engine.close(),
  };
}
