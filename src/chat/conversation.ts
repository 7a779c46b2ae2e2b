import type { Engine } from '../engine/types.js';
import { checkFits } from '../engine/errors.js';
import type { Message } from './messages.js';
import type { ChatTemplate } from './templates.js';
import { chatTokens } from './tokens.js';
import type { ToolFunction } from './tools.js';

export { promptTokens } from './tokens.js';

export interface BuiltPrompt {
  tokens: number[];
  /** The messages that made it in (system first, then the newest turns). */
  messages: Message[];
  /** Whole rounds left out, oldest first: by the round window or to fit the context. */
  droppedRounds: number;
  droppedToFit: number;
}

export interface WindowOptions {
  /** Keep at most this many rounds (a round = a user turn and its answer); the current question counts. */
  maxRounds: number;
  /** Tokens to leave free for the answer. */
  reserve: number;
  /** Tools offered to the model, written into every prompt tried (they count against the context too). */
  tools?: ToolFunction[];
}

/**
 * Split turns into rounds, each starting at a user message. An assistant's tool calls and the tools' results that
 * answer them come after the question they serve, so they always share its round: trimming drops them together and
 * never leaves a result without its call (OpenAI refuses such a history; a template would render a dangling result).
 */
export function rounds(turns: Message[]): Message[][] {
  const out: Message[][] = [];
  for (const m of turns) {
    if (m.role === 'user' || out.length === 0) out.push([m]);
    else out[out.length - 1].push(m);
  }
  return out;
}

/** The newest `maxRounds` rounds of `turns` (the current question's among them), and how many older ones that leaves out. */
export function roundWindow(turns: Message[], maxRounds: number): { kept: Message[][]; dropped: number } {
  const all = rounds(turns);
  const kept = all.slice(-Math.max(1, maxRounds));
  return { kept, dropped: all.length - kept.length };
}

/**
 * Build the prompt for the next answer: the system prompt always, then the newest rounds that fit both the
 * round window and the context (less `reserve` for the answer). Oldest rounds go first; the system prompt and
 * the current question never do — if those alone do not fit, that is a ContextOverflowError with the numbers.
 */
export function buildPrompt(engine: Engine, template: ChatTemplate, system: string | undefined, turns: Message[], o: WindowOptions): BuiltPrompt {
  const window = roundWindow(turns, o.maxRounds);
  let keep = window.kept;
  const byWindow = window.dropped;
  const head: Message[] = system ? [{ role: 'system', content: system }] : [];
  const ctx = engine.info.contextSize;
  const budget = ctx - Math.min(o.reserve, Math.floor(ctx / 2));
  let droppedToFit = 0;
  for (;;) {
    const messages = [...head, ...keep.flat()];
    const tokens = chatTokens(engine, template, messages, true, o.tools);
    if (tokens.length <= budget || keep.length <= 1) {
      checkFits(engine.info, tokens.length);
      return { tokens, messages, droppedRounds: byWindow + droppedToFit, droppedToFit };
    }
    keep = keep.slice(1);
    droppedToFit++;
  }
}
