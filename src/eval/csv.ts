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

/** All records of a CSV text. An unterminated quote is an error at the line where its field starts. */
export function parseCsv(text: string): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let i = 0;
  let atFieldStart = true;
  const n = text.length;
  const endRecord = () => {
    fields.push(field);
    // A blank line is no record.
    if (!(fields.length === 1 && fields[0] === '')) out.push({ fields, line: start });
    fields = [];
    field = '';
    atFieldStart = true;
  };
  while (i < n) {
    const c = text[i];
    if (atFieldStart && c === '"') {
      const quoteLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new CsvError('a quoted field is never closed', quoteLine);
        const d = text[i];
        if (d === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        if (d === '\n') line++;
        field += d;
        i++;
      }
      atFieldStart = false;
      continue;
    }
    if (c === ',') { fields.push(field); field = ''; atFieldStart = true; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { i++; continue; }
    if (c === '\n') { endRecord(); line++; i++; start = line; continue; }
    field += c;
    atFieldStart = false;
    i++;
  }
  if (field !== '' || fields.length) endRecord();
  return out;
}
