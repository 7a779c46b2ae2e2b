/** RFC 4180 CSV, as pandas writes it: quoted fields may hold commas, quotes ("") and newlines. */

export interface CsvRecord {
  fields: string[];
  /** 1-based line the record starts on, for messages. */
  line: number;
}

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
 * a field longer than `maxField` characters. Fields are sliced out of the text, never built a character
 * at a time (which took a 20 MB question past 3 GB).
 */
export function parseCsv(text: string, maxField = MAX_FIELD): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let line = 1;
  let start = 1;
  let i = 0;
  const n = text.length;
  const tooLong = (len: number, at: number) => {
    if (len > maxField) throw new CsvError(`a field longer than ${maxField.toLocaleString('en-US')} characters (a quote not closed?)`, at);
  };
  while (i < n) {
    let field: string;
    if (text.charCodeAt(i) === 34) {
      const quoteLine = line;
      const parts: string[] = [];
      let len = 0;
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) {
          tooLong(n - i + len, quoteLine);
          throw new CsvError('a quoted field is never closed', quoteLine);
        }
        for (let k = text.indexOf('\n', i); k !== -1 && k < q; k = text.indexOf('\n', k + 1)) line++;
        parts.push(text.slice(i, q));
        len += q - i;
        tooLong(len, quoteLine);
        if (text.charCodeAt(q + 1) === 34) { parts.push('"'); len++; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      // Text after the closing quote belongs to the field, as pandas reads it.
      let j = i;
      while (j < n && text.charCodeAt(j) !== 44 && text.charCodeAt(j) !== 10) j++;
      parts.push(text.slice(i, j));
      field = parts.join('');
      i = j;
    } else {
      let j = i;
      while (j < n && text.charCodeAt(j) !== 44 && text.charCodeAt(j) !== 10) j++;
      tooLong(j - i, line);
      field = text.slice(i, j);
      i = j;
    }
    if (field.charCodeAt(field.length - 1) === 13 && text.charCodeAt(i) === 10) field = field.slice(0, -1);
    fields.push(field);
    if (i < n && text.charCodeAt(i) === 44) {
      i++;
      if (i === n) { fields.push(''); break; }
      continue;
    }
    // End of the record (a newline, or the end of the text). A blank line is no record.
    if (!(fields.length === 1 && fields[0] === '')) out.push({ fields, line: start });
    fields = [];
    if (i < n) { i++; line++; start = line; }
  }
  if (fields.length) out.push({ fields, line: start });
  return out;
}
