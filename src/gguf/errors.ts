import { UserError } from '../errors.js';

/** A GGUF file we cannot read or write; the message names the file and what is wrong with it. */
export class GgufError extends UserError {
  override name = 'GgufError';
}
