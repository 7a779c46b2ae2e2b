import { createHash } from 'node:crypto';
import type { ReadLimits } from './io/limits.js';
import { RowSink, withSinks } from './io/sink.js';
import { readRows } from './io/source.js';
import { Problems } from './dataset.js';
import { minhash, NearDuplicates, PERMS } from './minhash.js';

/** Keys that label a row rather than say something: two rows that differ only there are duplicates. */
const META_KEYS = new Set(['id', 'conversation_id', 'category', 'dataset', 'source', 'from', 'role', 'tool_call_id']);

/** The text of a row: its strings in order, metadata left out. */
export function rowText(v: unknown, key?: string, out: string[] = []): string[] {
  if (typeof v === 'string') { if (key === undefined || !META_KEYS.has(key)) out.push(v); }
  else if (Array.isArray(v)) for (const x of v) rowText(x, undefined, out);
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) rowText(x, k, out);
  return out;
}

/** JSON text in a canonical layout (numbers as values: 1.0 and 1 are one); text that is not JSON as it is. */
function canonical(s: unknown): string {
  if (typeof s !== 'string') return JSON.stringify(s) ?? '';
  try { return JSON.stringify(JSON.parse(s)); } catch { return s; }
}

/**
 * The tool calls and tool definitions of a row as canonical JSON (ShareGPT's function_call values and tools;
 * OpenAI's tool_calls, without their ids, and tools). Exact duplicates compare these as JSON, not as
 * normalised text: normalising drops punctuation, so move(dx=-5) and move(dx=5) — different calls, and the
 * call is what the model learns — would be one row.
 */
export function toolTexts(v: unknown, key?: string, out: string[] = []): string[] {
  if (Array.isArray(v)) {
    if (key === 'tool_calls') {
      for (const tc of v) {
        const fn = typeof tc === 'object' && tc !== null ? (tc as Record<string, unknown>).function : undefined;
        const f = typeof fn === 'object' && fn !== null ? fn as Record<string, unknown> : {};
        out.push(JSON.stringify([f.name ?? null, typeof f.arguments === 'string' ? canonical(f.arguments) : f.arguments ?? null]));
      }
    } else if (key === 'tools') out.push(canonical(v));
    else for (const x of v) toolTexts(x, undefined, out);
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (o.from === 'function_call' && typeof o.value === 'string') out.push(canonical(o.value));
    for (const [k, x] of Object.entries(o)) if (k !== 'value' || o.from !== 'function_call') toolTexts(x, k, out);
  } else if (key === 'tools' && typeof v === 'string') out.push(canonical(v));
  return out;
}

/** What "the same" means for exact duplicates: NFKC (full-width → half-width), lower case, no spaces or punctuation. */
export function normalise(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/[\s\p{P}]+/gu, '');
}

export interface DedupeReport {
  rows: number;
  kept: number;
  exact: number;
  near: number;
  rejected: Problems;
  bands: number;
  rowsPerBand: number;
  /** The first few removals, for the report. */
  examples: { line: number; of: number; kind: 'exact' | 'near'; similarity?: number }[];
}

export interface DedupeOptions { near: boolean; threshold: number; shingle: number; removed?: string; read?: ReadLimits }

/**
 * Keep the first of each group of duplicate rows: exact duplicates after normalising, then (unless
 * near is off) rows whose MinHash-estimated Jaccard similarity over character shingles reaches the
 * threshold. One pass; rows are copied unchanged.
 */
export async function dedupeFile(input: string, output: string, o: DedupeOptions): Promise<DedupeReport> {
  const sink = new RowSink(output);
  const removed = o.removed ? new RowSink(o.removed) : undefined;
  const seen = new Map<string, number>();
  const near = new NearDuplicates(o.threshold);
  const sig = new Uint32Array(PERMS);
  const report: DedupeReport = { rows: 0, kept: 0, exact: 0, near: 0, rejected: new Problems(), bands: near.bands, rowsPerBand: near.rows, examples: [] };
  const drop = (line: number, of: number, kind: 'exact' | 'near', value: unknown, similarity?: number) => {
    if (kind === 'exact') report.exact++; else report.near++;
    if (report.examples.length < 10) report.examples.push({ line, of, kind, ...(similarity !== undefined ? { similarity } : {}) });
    removed?.write({ line, duplicate_of: of, kind, ...(similarity !== undefined ? { similarity } : {}), row: value });
  };
  await withSinks([sink, removed].filter((s) => s !== undefined), async () => {
    for await (const batch of readRows(input, { read: o.read })) {
      report.rows += batch.length;
      for (const r of batch) {
        if (report.rejected.addIfBroken(r)) continue;
        const text = normalise(rowText(r.value).join('\n'));
        // 16 bytes of SHA-1 as the key: 1e-29 odds of a false match, and 24 bytes a row instead of the text.
        const key = createHash('sha1').update(text).update('\0').update(toolTexts(r.value).join('\n')).digest('base64').slice(0, 22);
        const first = seen.get(key);
        if (first !== undefined) { drop(r.line, first, 'exact', r.value); continue; }
        if (o.near) {
          const hit = near.check(minhash(text, o.shingle, sig), r.line);
          if (hit) { drop(r.line, hit.of, 'near', r.value, hit.similarity); continue; }
        }
        seen.set(key, r.line); // only kept rows: a duplicate always points at a row in the output
        sink.write(r.value as Record<string, unknown>);
      }
    }
    report.kept = sink.count;
  });
  return report;
}
