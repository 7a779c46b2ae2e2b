/** One entry point per benchmark: its default split and shots, and its loader. */
import { UserError } from '../errors.js';
import { CEVAL, loadCeval } from './loaders/ceval.js';
import { CMMLU, loadCmmlu } from './loaders/cmmlu.js';
import { loadMmlu, MMLU } from './loaders/mmlu.js';
import { loadTriviaqa } from './loaders/triviaqa.js';
import { TASKS, type TaskData, type TaskName } from './types.js';

/** The usual setting of each benchmark (the original README's table: MMLU and C-Eval 5-shot, TriviaQA 8-shot). */
export const TASK_DEFAULTS: Record<TaskName, { split: string; shots: number }> = {
  ceval: { split: 'val', shots: 5 },
  cmmlu: { split: 'test', shots: 5 },
  mmlu: { split: 'test', shots: 5 },
  triviaqa: { split: 'val', shots: 8 },
};

export const MCQ_LAYOUTS = { ceval: CEVAL, cmmlu: CMMLU, mmlu: MMLU };

/** The splits that can be scored (with public answers) per benchmark. */
export const SCORED_SPLITS: Record<TaskName, string[]> = { ceval: ['val', 'dev'], cmmlu: ['test', 'dev'], mmlu: ['test', 'val', 'dev'], triviaqa: ['val'] };

export function parseTasks(spec: string): TaskName[] {
  const names = spec.split(',').map((s) => s.trim().toLowerCase().replace(/-/g, '')).filter(Boolean);
  const bad = names.filter((n) => !(TASKS as readonly string[]).includes(n));
  if (bad.length || !names.length) throw new UserError(`unknown task ${bad.map((b) => `"${b}"`).join(', ') || '""'}; choose from: ${TASKS.join(', ')}`, 2);
  return [...new Set(names)] as TaskName[];
}

export interface TaskLoadOptions {
  data: string;
  split?: string;
  shots?: number;
  subjects?: string[];
  limit?: number;
}

export function loadTask(task: TaskName, o: TaskLoadOptions): TaskData {
  const d = TASK_DEFAULTS[task];
  const common = { data: o.data, split: o.split ?? d.split, shots: o.shots ?? d.shots, limit: o.limit };
  if (task === 'triviaqa') return loadTriviaqa(common);
  // --subjects names subjects of any chosen benchmark; each takes its own.
  const known = new Set(MCQ_LAYOUTS[task].subjects.map((s) => s.key));
  const subjects = o.subjects?.filter((s) => known.has(s));
  if (o.subjects?.length && !subjects?.length) throw new UserError(`none of --subjects ${o.subjects.join(',')} is a ${MCQ_LAYOUTS[task].title} subject`, 2);
  const load = task === 'ceval' ? loadCeval : task === 'cmmlu' ? loadCmmlu : loadMmlu;
  return load({ ...common, subjects });
}
