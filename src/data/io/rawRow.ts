/**
 * One row as a file holds it: its parsed JSON value, or why it could not be parsed. `line` is the
 * 1-based line where the row starts; `column` (1-based, in characters) where a parse error is.
 */
export interface RawRow {
  line: number;
  value?: unknown;
  /** Set when the row is broken; `text` then holds what the file had. */
  reason?: string;
  column?: number;
  text?: string;
  /** The file ends inside this row (an array or a quote never closed): the file is cut short, not just this row. */
  truncated?: true;
}

/** A parser of one container fed with decoded text as it arrives. */
export interface ChunkParser {
  push(chunk: string, out: RawRow[]): void;
  end(out: RawRow[]): void;
}
