import type { GenerateResult } from '../engine/types.js';
import { buildPrompt } from './conversation.js';
import type { Message } from './messages.js';
import type { ChatModel } from './model.js';
import type { ChatSettings } from './settings.js';

export interface Answer extends GenerateResult {
  /** Oldest rounds left out so that the prompt fits the context (the system prompt never is). */
  droppedToFit: number;
}

/** A multi-turn conversation with one model: the state behind `llama3-zh chat`. */
export class ChatSession {
  turns: Message[] = [];

  constructor(readonly model: ChatModel, public settings: ChatSettings, public system: string | undefined, private extraStops: string[] = []) {}

  async ask(question: string, io: { onText?: (d: string) => void; signal?: AbortSignal } = {}): Promise<Answer> {
    const { engine, template } = this.model;
    const s = this.settings;
    const turns: Message[] = [...this.turns, { role: 'user', content: question }];
    const built = buildPrompt(engine, template, this.system ?? template.defaultSystem, turns, {
      maxRounds: s.historyRounds,
      reserve: s.maxTokens,
    });
    const result = await engine.generate({
      prompt: built.tokens,
      maxTokens: s.maxTokens,
      sampling: s,
      stopTokens: this.model.stopTokens,
      stopStrings: [...this.model.stopStrings, ...this.extraStops],
      signal: io.signal,
      onText: io.onText,
    });
    // Keep an interrupted answer too (as ollama does): the next question may refer to it.
    if (result.text || result.finishReason !== 'abort') {
      this.turns = [...turns, { role: 'assistant', content: result.text }];
    } else {
      this.turns = turns.slice(0, -1);
    }
    return { ...result, droppedToFit: built.droppedToFit };
  }

  reset() {
    this.turns = [];
  }
}
