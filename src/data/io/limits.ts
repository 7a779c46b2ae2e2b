import { UserError } from '../../errors.js';
import { MAX_DEPTH } from '../../util/json.js';

/**
 * What the readers refuse, so a damaged or hostile file (a gzip bomb, a quote never closed, a JSON array
 * cut short) ends in one line and a bounded amount of memory instead of a hang or a blow-up.
 */
export interface ReadLimits {
  /**
   * The longest line, CSV record or JSON array element, in bytes (in characters where the text is
   * already decoded: the memory bound holds either way). A gzip of one repeated byte is one endless line.
   */
  maxLine: number;
  /** Read a file that ends early (an array not closed, a quote not closed, gzip cut short) up to that point. */
  allowBroken: boolean;
}

export const DEFAULT_MAX_LINE_MB = 16;
export const DEFAULT_LIMITS: ReadLimits = { maxLine: DEFAULT_MAX_LINE_MB << 20, allowBroken: false };

export { MAX_DEPTH, tooDeep } from '../../util/json.js';

/** A line, record or element over ReadLimits.maxLine; the reader that knows the path makes it a UserError. */
export class LineTooLong extends Error {
  constructor(readonly line: number, readonly what: string, readonly limit: number) {
    super(`${what} is longer than ${limit / (1 << 20)} MiB`);
  }
  forFile(path: string): UserError {
    return new UserError(`${path}:${this.line}: ${this.message}, the limit (a damaged file? if the rows really are this long, raise it with --max-line-mb)`);
  }
}

export const TOO_DEEP = `JSON: nested deeper than ${MAX_DEPTH} levels`;
