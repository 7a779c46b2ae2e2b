/**
 * Runs a model over loaded benchmarks: one forward pass per multiple-choice question (the four letters'
 * next-token log-probabilities), greedy generation for TriviaQA. Questions of a subject run in a row, so the
 * shared header and shots stay in the KV cache and each question evaluates only its own tokens. Results go
 * to the results file as the run goes; an abort (Ctrl-C) saves what is done.
 */
import type { EvalModel } from './model.js';
import { letterPrefix, mcqPrompt, qaPrompt, type Style } from './prompts.js';
import { itemKey, type McqRecord, type ModelResults, type QaRecord, readResults, resumable, type TaskResults, writeResults } from './results.js';
import { argmaxLetter, bestF1, cleanGeneratedAnswer, exactMatch } from './scoring.js';
import { ContextOverflowError } from '../engine/errors.js';
import { UserError } from '../errors.js';
import { LETTERS, skippedLine, type TaskData } from './types.js';

export interface Progress {
  start(total: number, already?: number): void;
  update(done: number): void;
  done(): void;
}

export interface RunOptions {
  model: EvalModel;
  tasks: TaskData[];
  style: Style;
  /** The results file of this model. */
  file: string;
  resume?: boolean;
  /** False: evaluate every prompt in full (for the benchmark that measures what prefix reuse brings). */
  reuseCache?: boolean;
  /** TriviaQA answers are short; generation stops at a newline or here. */
  maxAnswerTokens?: number;
  signal?: AbortSignal;
  progress?: Progress;
}

export interface RunSummary {
  results: ModelResults;
  /** Items done in this run, and in all (with resumed ones). */
  ran: number;
  done: number;
  total: number;
  interrupted: boolean;
  seconds: number;
}

const SAVE_EVERY_MS = 2000;

export async function runEval(o: RunOptions): Promise<RunSummary> {
  const existing = readResults(o.file);
  if (existing && !o.resume) throw new UserError(`${o.file} already holds results; add --resume to continue that run, or use another --out`);
  const results: ModelResults = existing ?? { version: 1, model: o.model.name, tasks: {} };
  results.model = o.model.name;

  // Settings and resumed items per task first, so the progress bar knows the whole amount.
  const plans = o.tasks.map((data) => {
    const want = { split: data.split, shots: data.kind === 'mcq' ? data.shots : data.shotCount, style: o.style };
    const stored = resumable(o.file, results, data.task, want);
    const answers = data.kind === 'mcq' ? LETTERS.map((l) => letterPrefix(data.task, o.style) + l) : undefined;
    const t: TaskResults = stored ?? { ...want, answers, items: {}, skipped: [] };
    t.skipped = data.skipped;
    results.tasks[data.task] = t;
    return { data, t };
  });
  let total = 0;
  let done = 0;
  for (const { data, t } of plans) {
    const keys = data.kind === 'mcq' ? data.subjects.flatMap((s) => s.items.map((i) => itemKey(s.subject.key, i.id))) : data.items.map((i) => i.id);
    total += keys.length;
    done += keys.filter((k) => k in t.items).length;
  }
  const t0 = performance.now();
  let ran = 0;
  let lastSave = t0;
  const save = (force = false) => {
    const now = performance.now();
    if (force || now - lastSave >= SAVE_EVERY_MS) { writeResults(o.file, results); lastSave = now; }
  };
  save(true);
  o.progress?.start(total, done);
  const stopped = () => o.signal?.aborted === true;
  const step = () => { ran++; done++; o.progress?.update(done); save(); };

  try {
    for (const { data, t } of plans) {
      if (data.kind === 'mcq') {
        for (const s of data.subjects) {
          for (const item of s.items) {
            const key = itemKey(s.subject.key, item.id);
            if (key in t.items) continue;
            if (stopped()) break;
            // Like MMLU's evaluate.py: a prompt too long for the context drops shots from the end until it fits.
            let k = s.shots.length;
            let logprobs: number[] | undefined;
            for (;;) {
              try {
                const prompt = mcqPrompt(data.task, o.style, s.subject, s.shots.slice(0, k), item, o.model.template);
                logprobs = await o.model.answerLogprobs(prompt, t.answers!, { reuseCache: o.reuseCache });
                break;
              } catch (e) {
                if (!(e instanceof ContextOverflowError)) throw e;
                if (k === 0) {
                  // Too long even with no shots: this question is skipped and said so; the run goes on.
                  t.skipped.push({ file: item.file, line: item.line, reason: `too long for the context even with no shots (${e.message})` });
                  break;
                }
                k--;
              }
            }
            if (logprobs === undefined) { step(); continue; }
            const prediction = argmaxLetter(logprobs);
            const rec: McqRecord = { subject: s.subject.key, id: item.id, answer: item.answer, prediction, logprobs, correct: prediction === item.answer };
            if (k < s.shots.length) rec.shots = k;
            t.items[key] = rec;
            step();
          }
        }
      } else {
        for (const item of data.items) {
          if (item.id in t.items) continue;
          if (stopped()) break;
          const text = await o.model.complete(qaPrompt(o.style, data.shots, item, o.model.template), o.maxAnswerTokens ?? 32);
          const prediction = cleanGeneratedAnswer(text);
          t.items[item.id] = { id: item.id, prediction, em: exactMatch(prediction, item.aliases), f1: bestF1(prediction, item.aliases) } satisfies QaRecord;
          step();
        }
      }
    }
  } finally {
    save(true);
    o.progress?.done();
  }
  const interrupted = done < total;
  // A task with no scored question would be reported as a score of 0.0: say there was nothing to score.
  const empty = interrupted ? undefined : plans.find(({ t }) => Object.keys(t.items).length === 0);
  if (empty) {
    const first = empty.t.skipped.find((s) => s.line !== undefined) ?? empty.t.skipped[0];
    throw new UserError(`${empty.data.task}: no question could be scored, so there is no score${first ? ` (${empty.t.skipped.length} skipped; the first: ${skippedLine(first)})` : ''}`);
  }
  return { results, ran, done, total, interrupted, seconds: (performance.now() - t0) / 1000 };
}
