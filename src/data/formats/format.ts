import type { DataRecord } from '../record.js';

export const FORMAT_NAMES = ['firefly', 'sharegpt', 'alpaca', 'openai', 'preference', 'text'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** Called by a writer when it keeps the row but loses part of it (a system prompt, the rejected answer…). */
export type NoteLoss = (what: string) => void;

/** Passes each distinct loss on once: losses are counted in rows, and one row may lose the same thing twice. */
export function perRow(lost: NoteLoss): NoteLoss {
  let seen: Set<string> | undefined;
  return (what) => {
    if (seen?.has(what)) return;
    (seen ??= new Set()).add(what);
    lost(what);
  };
}

export interface Format {
  name: FormatName;
  /** One line for --help. */
  about: string;
  /** The top-level keys it writes, in order (CSV columns). */
  fields: string[];
  /** Other keys it reads (aliases); any key outside these and `fields` is not carried into a record. */
  alsoReads?: string[];
  /** Does this row look like this format? Decided on keys only: cheap, and run on the first rows. */
  looksLike(o: Record<string, unknown>): boolean;
  /** Row → record; throws RowError saying what is wrong. */
  read(o: unknown): DataRecord;
  /**
   * For data check, which hands valid rows on unchanged: why a row `read` accepts cannot be used as it is (a
   * shape read leniently that the format's trainers reject); undefined when it can.
   */
  checkAsIs?(o: Record<string, unknown>): string | undefined;
  /** Record → row; throws Unrepresentable when this format cannot hold the record at all. */
  write(r: DataRecord, lost: NoteLoss): Record<string, unknown>;
}
