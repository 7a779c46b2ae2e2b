import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { regularFileSize } from '../../util/files.js';
import { MAX_FIELD } from '../csv.js';
import { type QaItem, type QaTaskData, type Skipped, skippedLine } from '../types.js';
import { findRoot } from './mcq.js';

export const TRIVIAQA = { title: 'TriviaQA', roots: ['triviaqa', 'triviaqa-rc', 'triviaqa/qa', 'triviaqa-rc/qa', 'qa', '.'] };
/** Our split names to TriviaQA's file names: the Wikipedia domain, questions only (no evidence documents). */
const FILES: Record<string, string> = { val: 'wikipedia-dev.json', dev: 'wikipedia-dev.json', test: 'wikipedia-test-without-answers.json', train: 'wikipedia-train.json' };

export interface QaLoadOptions {
  data: string;
  split: string;
  shots: number;
  limit?: number;
}

/**
 * Items of a TriviaQA release file: {"Data": [{"Question", "QuestionId", "Answer": {"Value", "Aliases",
 * "NormalizedAliases"}}…]}. A question without a question text or without any answer is skipped.
 */
/**
 * The released files are read whole (JSON.parse); the Wikipedia ones are tens of MB. Past this size a
 * file is not one of them, and reading it would take gigabytes.
 */
export const MAX_QA_FILE = 512 << 20;

function readQa(file: string, skipped: Skipped[]): QaItem[] {
  const size = regularFileSize(file, 'TriviaQA JSON file');
  if (size > MAX_QA_FILE) throw new UserError(`${file} is ${(size / (1 << 20)).toFixed(0)} MiB, bigger than any TriviaQA release file (at most ${MAX_QA_FILE >> 20} MiB are read)`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file} is not TriviaQA JSON: ${(e as Error).message}`);
  }
  const data = (doc as { Data?: unknown }).Data;
  if (!Array.isArray(data)) throw new UserError(`${file} has no "Data" list; give TriviaQA's qa/wikipedia-dev.json as released`);
  const items: QaItem[] = [];
  data.forEach((d: any, i: number) => {
    const where = `item ${i} (${typeof d?.QuestionId === 'string' ? d.QuestionId : 'no QuestionId'})`;
    if (typeof d?.Question !== 'string' || !d.Question.trim()) { skipped.push({ file, reason: `${where} has no Question; skipped` }); return; }
    if (d.Question.length > MAX_FIELD) { skipped.push({ file, reason: `${where}: the question is over ${MAX_FIELD.toLocaleString('en-US')} characters, more than any context holds; skipped` }); return; }
    const a = d.Answer ?? {};
    const aliases = [a.Value, ...(Array.isArray(a.Aliases) ? a.Aliases : []), ...(Array.isArray(a.NormalizedAliases) ? a.NormalizedAliases : [])]
      .filter((x): x is string => typeof x === 'string' && x.trim() !== '');
    if (!aliases.length) { skipped.push({ file, reason: `${where} has no answer; skipped` }); return; }
    // JSON has no line numbers worth giving; the index stands in for the line.
    items.push({ id: typeof d.QuestionId === 'string' ? d.QuestionId : String(i), question: d.Question.trim(), aliases: [...new Set(aliases)], file, line: i });
  });
  return items;
}

/**
 * The questions of a split, and the few-shot examples: the first k of the train file when it is there, else
 * the first k of the scored file (which are then not scored).
 */
export function loadTriviaqa(o: QaLoadOptions): QaTaskData {
  const name = FILES[o.split];
  if (!name || o.split === 'train') throw new UserError(`TriviaQA has no "${o.split}" split here; use val (wikipedia-dev.json)`, 2);
  if (o.split === 'test') throw new UserError('TriviaQA\'s test answers are not public; use --split val (wikipedia-dev.json)', 2);
  const root = findRoot(TRIVIAQA, o.data, (r) => existsSync(join(r, name)));
  const skipped: Skipped[] = [];
  let items = readQa(join(root, name), skipped);
  let shots: QaItem[] = [];
  if (o.shots > 0) {
    const train = join(root, FILES.train);
    if (existsSync(train)) shots = readQa(train, []).slice(0, o.shots);
    else { shots = items.slice(0, o.shots); items = items.slice(o.shots); }
    if (shots.length < o.shots) throw new UserError(`TriviaQA: only ${shots.length} examples for --shots ${o.shots}`);
  }
  if (o.limit !== undefined) items = items.slice(0, o.limit);
  if (!items.length) throw new UserError(`no TriviaQA question could be loaded from ${join(root, name)}${skipped.length ? `: ${skipped.length} problem(s), the first: ${skippedLine(skipped[0])}` : ''}`);
  return { kind: 'qa', task: 'triviaqa', split: o.split, shotCount: o.shots, shots, items, skipped };
}
