import { jsonErrorAt } from './jsonError.js';
import type { ChunkParser, RawRow } from './rawRow.js';

/** JSON Lines: one value per line; blank lines are skipped (and still counted for line numbers). */
export class JsonlParser implements ChunkParser {
  private line = 0;
  private rest = '';

  push(chunk: string, out: RawRow[]) {
    const s = this.rest.length ? this.rest + chunk : chunk;
    let start = 0;
    for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', start)) {
      this.one(s.slice(start, nl), out);
      start = nl + 1;
    }
    this.rest = start < s.length ? s.slice(start) : '';
  }

  end(out: RawRow[]) {
    if (this.rest.length) this.one(this.rest, out);
    this.rest = '';
  }

  private one(l: string, out: RawRow[]) {
    const line = ++this.line;
    if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
    if (l.length === 0 || (l.charCodeAt(0) <= 32 && l.trim() === '')) return;
    try {
      out.push({ line, value: JSON.parse(l) });
    } catch {
      const e = jsonErrorAt(l);
      out.push({ line, column: e.index + 1, reason: `JSON: ${e.reason}`, text: l });
    }
  }
}

/** Plain text: each non-blank line is a document, read as {"text": line}. */
export class TextLinesParser implements ChunkParser {
  private line = 0;
  private rest = '';

  push(chunk: string, out: RawRow[]) {
    const lines = (this.rest + chunk).split('\n');
    this.rest = lines.pop()!;
    for (const l of lines) this.one(l, out);
  }

  end(out: RawRow[]) {
    if (this.rest.length) this.one(this.rest, out);
    this.rest = '';
  }

  private one(l: string, out: RawRow[]) {
    const line = ++this.line;
    if (l.endsWith('\r')) l = l.slice(0, -1);
    if (l.trim() !== '') out.push({ line, value: { text: l } });
  }
}
