/** RFC 4180 CSV, as pandas writes it, through the one tokenizer in util/csv.ts. */
import { type CsvRecord, CsvTokenizer, CsvTooLong } from '../util/csv.js';

export type { CsvRecord };

export class CsvError extends Error {
  constructor(message: string, readonly line: number) {
    super(message);
  }
}

/**
 * No question or choice of C-Eval, CMMLU or MMLU comes near this; a field past it is a damaged file (an
 * unclosed quote swallows the rest of it), not a question any model's context could hold.
 */
export const MAX_FIELD = 1 << 20;

/**
 * All records of a CSV text. An unterminated quote is an error at the line where its field starts; so is
 * a field longer than `maxField` characters.
 */
export function parseCsv(text: string, maxField = MAX_FIELD): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const tokenizer = new CsvTokenizer({ maxField });
  const out: CsvRecord[] = [];
  try {
    tokenizer.push(text, out);
  } catch (e) {
    if (e instanceof CsvTooLong) throw new CsvError(`a field longer than ${maxField.toLocaleString('en-US')} characters (a quote not closed?)`, e.line);
    throw e;
  }
  const open = tokenizer.end(out);
  if (open) throw new CsvError('a quoted field is never closed', open.line);
  // A line that is one empty field ("") holds nothing a loader could read: no record, like a blank line.
  return out.filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
}
