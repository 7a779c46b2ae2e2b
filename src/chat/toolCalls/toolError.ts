import { UserError } from '../../errors.js';

/**
 * A bad tool definition: `field` says which one and where ("tools[1].function.name"), as OpenAI's 400s name it in
 * `param`; the server answers 400 with it, the CLI prints the message as one line.
 */
export class ToolError extends UserError {
  override name = 'ToolError';
  constructor(readonly field: string, message: string) {
    super(`${field} ${message}`);
  }
}
