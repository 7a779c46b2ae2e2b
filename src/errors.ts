/**
 * An error caused by what the user gave us (a path, a flag, a file). The CLI prints its message as one
 * line and exits non-zero, without a stack trace; the server maps it to HTTP 400.
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
