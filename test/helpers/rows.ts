import { type ReadLimits } from '../../src/data/io/limits.js';
import type { ChunkParser, RawRow } from '../../src/data/io/rawRow.js';
import { readRows } from '../../src/data/io/source.js';

/** Every row a data file reads as, in order. */
export async function allRows(path: string, read?: ReadLimits): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for await (const b of readRows(path, { read })) out.push(...b);
  return out;
}

/** Feed a parser in pieces of `size` characters: rows must not depend on where chunks split. */
export function feed(p: ChunkParser, text: string, size: number): RawRow[] {
  const out: RawRow[] = [];
  for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size), out);
  p.end(out);
  return out;
}
