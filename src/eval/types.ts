/** What every benchmark loader produces and what the runner, scorer and report share. */

export const LETTERS = ['A', 'B', 'C', 'D'] as const;
export type Letter = (typeof LETTERS)[number];

export const TASKS = ['ceval', 'cmmlu', 'mmlu', 'triviaqa'] as const;
export type TaskName = (typeof TASKS)[number];

/** Names as the original README's table heads them. */
export const TASK_TITLES: Record<TaskName, string> = { ceval: 'C-Eval', cmmlu: 'CMMLU', mmlu: 'MMLU', triviaqa: 'TriviaQA-Wiki' };

export interface Subject {
  /** The file-name key, e.g. computer_network. */
  key: string;
  /** The name the official prompt writes (Chinese for C-Eval and CMMLU). */
  name: string;
  category: string;
}

/** Where an item came from, for messages: the file and the line its record starts on. */
export interface Origin {
  file: string;
  line: number;
}

export interface McqItem extends Origin {
  id: string;
  question: string;
  choices: [string, string, string, string];
  answer: Letter;
}

export interface QaItem extends Origin {
  id: string;
  question: string;
  /** Every accepted answer, as released (normalised when scored). */
  aliases: string[];
}

/** A row or file the loader could not use: reported with file and line, and the run goes on. */
export interface Skipped {
  file: string;
  line?: number;
  reason: string;
}

export interface McqSubjectData {
  subject: Subject;
  /** Few-shot examples (the dev split), in file order. */
  shots: McqItem[];
  items: McqItem[];
}

export interface McqTaskData {
  kind: 'mcq';
  task: Exclude<TaskName, 'triviaqa'>;
  split: string;
  /** Few-shot examples per prompt. */
  shots: number;
  subjects: McqSubjectData[];
  skipped: Skipped[];
}

export interface QaTaskData {
  kind: 'qa';
  task: 'triviaqa';
  split: string;
  shotCount: number;
  shots: QaItem[];
  items: QaItem[];
  skipped: Skipped[];
}

export type TaskData = McqTaskData | QaTaskData;

export function skippedLine(s: Skipped): string {
  return `${s.file}${s.line !== undefined ? `:${s.line}` : ''}: ${s.reason}`;
}
