import { UserError } from '../errors.js';

/** The prompt does not fit: say how big it is and what the limit is (never a bare "context overflow"). */
export class ContextOverflowError extends UserError {
  override name = 'ContextOverflowError';
  constructor(readonly promptTokens: number, readonly contextSize: number, trainContextSize?: number) {
    const more = trainContextSize && trainContextSize > contextSize ? ` (the model was trained for ${trainContextSize})` : '';
    super(`the prompt is ${promptTokens} tokens but the context holds ${contextSize}; shorten the prompt or raise --ctx-size${more}`);
  }
}
