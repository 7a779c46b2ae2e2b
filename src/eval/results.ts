/**
 * The results file of one model: every item's prediction and probabilities, per task, with the settings the
 * run used. It is written as the run goes (atomically), so an interrupted run keeps what it did and
 * `--resume` continues where it stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { regularFileSize, writeFileAtomic } from '../util/files.js';
import { tooDeep } from '../util/json.js';
import type { Style } from './prompts.js';
import type { Letter, Skipped, TaskName } from './types.js';

export interface McqRecord {
  subject: string;
  id: string;
  answer: Letter;
  prediction: Letter;
  /** Log-probabilities of A, B, C, D as the next token (over the whole vocabulary). */
  logprobs: number[];
  correct: boolean;
  /** Set when the prompt did not fit the context with all the shots: the shots it had. */
  shots?: number;
}

export interface QaRecord {
  id: string;
  prediction: string;
  em: boolean;
  f1: number;
}

export interface TaskResults {
  split: string;
  shots: number;
  style: Style;
  /** The answer texts scored after the prompt (e.g. "A" or " A"). */
  answers?: string[];
  /** Keyed by subject/id (multiple choice) or id (TriviaQA). */
  items: Record<string, McqRecord | QaRecord>;
  skipped: Skipped[];
}

export interface ModelResults {
  version: 1;
  model: string;
  tasks: Partial<Record<TaskName, TaskResults>>;
}

export const itemKey = (subject: string | undefined, id: string) => (subject === undefined ? id : `${subject}/${id}`);

export function readResults(file: string): ModelResults | undefined {
  if (!existsSync(file)) return undefined;
  // A FIFO would block the read; a folder or device is no results file (and is not replaced either).
  regularFileSize(file, 'results file');
  let r: ModelResults;
  try {
    r = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file} is not a results file of llama3-zh eval (${(e as Error).message}); move it away or use another --out`);
  }
  if (r?.version !== 1 || typeof r.tasks !== 'object' || r.tasks === null || tooDeep(r)) {
    throw new UserError(`${file} is not a results file of llama3-zh eval; move it away or use another --out`);
  }
  return r;
}

export function writeResults(file: string, r: ModelResults) {
  writeFileAtomic(file, JSON.stringify(r, null, 1) + '\n');
}

/** The stored results of a task, if they were made with the same settings; else a one-line error. */
export function resumable(file: string, r: ModelResults, task: TaskName, want: Omit<TaskResults, 'items' | 'skipped'>): TaskResults | undefined {
  const t = r.tasks[task];
  if (!t) return undefined;
  for (const k of ['split', 'shots', 'style'] as const) {
    if (t[k] !== want[k]) {
      throw new UserError(`${file} holds ${task} results made with --${k} ${t[k]}, not ${want[k]}; run with the same flags, or use another --out`);
    }
  }
  return t;
}

/** A results file name for a model name: safe on every file system. */
export function resultsFileName(model: string): string {
  return `${model.replace(/[^\p{L}\p{N}._-]+/gu, '_').replace(/^[._]+/, '').slice(0, 100) || 'model'}.json`;
}
