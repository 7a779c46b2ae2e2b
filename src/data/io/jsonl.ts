import { jsonErrorAt } from './jsonError.js';
import { DEFAULT_LIMITS, LineTooLong, TOO_DEEP, tooDeep } from './limits.js';
import type { ChunkParser, RawRow } from './rawRow.js';

/**
 * Text split into lines as it arrives. A line cut by a chunk boundary is kept as a list of pieces and
 * joined once (`rest + chunk` per chunk re-copies a long line for every chunk), and refused past maxLine.
 */
abstract class LineParser implements ChunkParser {
  private line: number;
  private parts: string[] = [];
  private pending = 0;

  constructor(private readonly maxLine = DEFAULT_LIMITS.maxLine, firstLine = 1) {
    this.line = firstLine - 1;
  }

  push(chunk: string, out: RawRow[]) {
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (this.parts.length) {
      if (nl === -1) { this.pend(chunk); return; }
      this.pend(chunk.slice(0, nl));
      const l = this.parts.join('');
      this.parts = [];
      this.pending = 0;
      this.take(l, out);
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    for (; nl !== -1; nl = chunk.indexOf('\n', start)) {
      if (nl === start) {
        // A run of empty lines is counted in one loop: a gzip of newlines is a billion of them.
        let k = nl + 1;
        while (chunk.charCodeAt(k) === 10) k++;
        this.line += k - nl;
        start = k;
        continue;
      }
      if (nl - start > this.maxLine) throw new LineTooLong(this.line + 1, 'this line', this.maxLine);
      this.take(chunk.slice(start, nl), out);
      start = nl + 1;
    }
    if (start < chunk.length) this.pend(chunk.slice(start));
  }

  end(out: RawRow[]) {
    if (this.parts.length) this.take(this.parts.join(''), out);
    this.parts = [];
    this.pending = 0;
  }

  private pend(s: string) {
    this.pending += s.length;
    if (this.pending > this.maxLine) throw new LineTooLong(this.line + 1, 'this line', this.maxLine);
    this.parts.push(s);
  }

  private take(l: string, out: RawRow[]) {
    const line = ++this.line;
    if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
    this.one(l, line, out);
  }

  protected abstract one(l: string, line: number, out: RawRow[]): void;
}

/** JSON Lines: one value per line; blank lines are skipped (and still counted for line numbers). */
export class JsonlParser extends LineParser {
  protected one(l: string, line: number, out: RawRow[]) {
    if (l.length === 0 || (l.charCodeAt(0) <= 32 && l.trim() === '')) return;
    let value: unknown;
    try {
      value = JSON.parse(l);
    } catch {
      const e = jsonErrorAt(l);
      out.push({ line, column: e.index + 1, reason: `JSON: ${e.reason}`, text: l });
      return;
    }
    out.push(tooDeep(value) ? { line, column: 1, reason: TOO_DEEP, text: l } : { line, value });
  }
}

/** Plain text: each non-blank line is a document, read as {"text": line}. */
export class TextLinesParser extends LineParser {
  protected one(l: string, line: number, out: RawRow[]) {
    if (l.trim() !== '') out.push({ line, value: { text: l } });
  }
}
