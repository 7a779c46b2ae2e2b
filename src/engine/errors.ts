import { UserError } from '../errors.js';
import type { ModelInfo } from './types.js';

/**
 * The prompt does not fit the context. Its message says how big the prompt is and what the limit is (never a
 * bare "context overflow"); from a remote server, which gives no numbers, it is that server's own words.
 */
export class ContextOverflowError extends UserError {
  override name = 'ContextOverflowError';
  constructor(message: string, readonly promptTokens?: number, readonly contextSize?: number) {
    super(message);
  }
}

/**
 * The one rule for whether a prompt fits: it must leave at least one place in the context for the reply.
 * The error to give when it does not, else undefined.
 */
export function contextOverflow(info: Pick<ModelInfo, 'contextSize' | 'trainContextSize'>, promptTokens: number): ContextOverflowError | undefined {
  const { contextSize, trainContextSize } = info;
  if (promptTokens < contextSize) return undefined;
  const more = trainContextSize && trainContextSize > contextSize ? ` (the model was trained for ${trainContextSize})` : '';
  return new ContextOverflowError(
    `the prompt is ${promptTokens} tokens but the context holds ${contextSize}; shorten the prompt or raise --ctx-size${more}`,
    promptTokens, contextSize,
  );
}

/** Throws contextOverflow's error when the prompt does not fit. */
export function checkFits(info: Pick<ModelInfo, 'contextSize' | 'trainContextSize'>, promptTokens: number): void {
  const e = contextOverflow(info, promptTokens);
  if (e) throw e;
}
