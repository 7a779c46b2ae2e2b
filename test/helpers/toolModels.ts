import { readFileSync } from 'node:fs';
import type { SynthOptions } from '../../src/synth/model.js';
import { testModel } from './models.js';

/**
 * A scripted model that calls a tool: by default its reply is a Llama-3 JSON call of get_weather, and when the
 * conversation holds the tool's result ("snow") it answers with FINAL. No token repeats in its replies (what
 * `gguf synth --reply` needs until scripted models can say anything).
 */
export const CALL = '{"name": "get_weather","parameters":{"city":"Beijing"}}';
export const CALL_ARGS = { city: 'Beijing' };
/** The tool's result that routes the model to its final answer. */
export const RESULT = 'snow';
export const FINAL = '北京今天有雪，气温零下三度。';
/** A word that makes the model write text before its call. */
export const PREAMBLE_WORD = 'weekday';
export const PREAMBLE = 'Let me check.';

export const WEATHER = {
  name: 'get_weather',
  description: 'The weather of a city now',
  parameters: { type: 'object', properties: { city: { type: 'string', description: 'The city' } }, required: ['city'] },
};
export const TIME = { name: 'get_time', description: 'The time now', parameters: { type: 'object', properties: {} } };
/** OpenAI's (and ollama's) shape of a tools list. */
export const openaiTools = (...fs: Array<typeof WEATHER | typeof TIME>) => fs.map((f) => ({ type: 'function' as const, function: f }));

export function weatherModel(): Promise<string> {
  return testModel({ reply: CALL, routes: [{ when: RESULT, reply: FINAL }, { when: PREAMBLE_WORD, reply: PREAMBLE + CALL }] });
}

/**
 * Whether scripted models can have a second-choice reply (SynthOptions.fallback, P1 of issue 16): said where a
 * grammar forbids the first choice. Until the synthesizer has it, the tests that need it are skipped.
 */
export const HAS_FALLBACK = readFileSync(new URL('../../src/synth/model.js', import.meta.url), 'utf8').includes('fallback');
/** Scripted replies may repeat tokens (the same change of the synthesizer as the fallback). */
export const ANY_TEXT = HAS_FALLBACK;

/** Two calls in one reply, as LLaMA-Factory's llama3 format writes parallel calls: a list (its tokens repeat). */
export const TWO_CALLS = '[{"name": "get_weather", "parameters": {"city": "Beijing"}}, {"name": "get_time", "parameters": {}}]';

/** A model whose reply makes two calls (needs ANY_TEXT). */
export function parallelModel(): Promise<string> {
  return testModel({ reply: TWO_CALLS });
}

/** A model that answers in text (FINAL) and would write CALL only where the text is not allowed (a forced call's grammar). */
export function textModel(): Promise<string> {
  return testModel({ reply: FINAL, ...({ fallback: CALL } as Partial<SynthOptions>) });
}
