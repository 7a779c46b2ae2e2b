import { UserError } from '../errors.js';
import type { Sampling } from '../engine/types.js';
import { parseNumber } from '../util/numbers.js';

/** Generation settings of a chat. Defaults are the llama3-Chinese-chat Python demo's. */
export interface ChatSettings extends Sampling {
  maxTokens: number;
  /** Rounds of history kept (a round = a question and its answer); the newest are kept. */
  historyRounds: number;
}

export const DEMO_DEFAULTS: ChatSettings = {
  maxTokens: 500,
  temperature: 0.6,
  topP: 0.9,
  topK: 50,
  minP: 0,
  repeatPenalty: 1.1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repeatLastN: 64,
  historyRounds: 6,
};

/** Setting names as users type them (/set KEY VALUE, flags), with their ranges. */
export const SETTING_KEYS: Record<string, { key: keyof ChatSettings; min: number; max: number; int?: boolean }> = {
  max_tokens: { key: 'maxTokens', min: 1, max: 1 << 20, int: true },
  temperature: { key: 'temperature', min: 0, max: 5 },
  top_p: { key: 'topP', min: 0, max: 1 },
  top_k: { key: 'topK', min: 0, max: 1 << 20, int: true },
  min_p: { key: 'minP', min: 0, max: 1 },
  repeat_penalty: { key: 'repeatPenalty', min: 0.01, max: 10 },
  presence_penalty: { key: 'presencePenalty', min: -2, max: 2 },
  frequency_penalty: { key: 'frequencyPenalty', min: -2, max: 2 },
  repeat_last_n: { key: 'repeatLastN', min: 0, max: 1 << 20, int: true },
  seed: { key: 'seed', min: 0, max: 2 ** 32 - 1, int: true },
  history: { key: 'historyRounds', min: 1, max: 1000, int: true },
};

export function applySetting(s: ChatSettings, name: string, value: string): void {
  const def = SETTING_KEYS[name.replace(/-/g, '_')];
  if (!def) throw new UserError(`unknown setting "${name}"; settings: ${Object.keys(SETTING_KEYS).join(', ')}`);
  (s as unknown as Record<string, number>)[def.key] = parseNumber(name, value, def);
}

export function describeSettings(s: ChatSettings): string {
  return Object.entries(SETTING_KEYS)
    .map(([name, d]) => `${name}=${s[d.key] ?? 'random'}`)
    .join(' ');
}
