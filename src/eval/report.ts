/**
 * Scores from results files: per subject, per category and over the whole benchmark, both as the mean of the
 * subjects' accuracies (macro, what OpenCompass and C-Eval's leaderboard report) and over all questions
 * (micro, what MMLU's evaluate.py prints). A Markdown table with models as rows and benchmarks as columns,
 * like the original README's, and the details below it.
 */
import type { McqRecord, ModelResults, QaRecord, TaskResults } from './results.js';
import { CEVAL_SUBJECTS, CMMLU_CHINA_SPECIFIC, CMMLU_SUBJECTS, MMLU_SUBJECTS } from './subjects.js';
import { type Subject, TASK_TITLES, TASKS, type TaskName } from './types.js';

export interface Score {
  /** Questions scored. */
  n: number;
  correct: number;
  /** correct / n */
  micro: number;
  /** Mean of the subjects' accuracies (equals micro for a single subject). */
  macro: number;
}

export interface McqSummary {
  kind: 'mcq';
  /** Questions whose prompt had fewer shots, to fit the context. */
  cropped: number;
  subjects: Array<{ key: string; name: string; category: string } & Score>;
  categories: Array<{ name: string; subjects: number } & Score>;
  overall: Score & { subjects: number };
}

export interface QaSummary {
  kind: 'qa';
  n: number;
  em: number;
  f1: number;
}

export type TaskSummary = (McqSummary | QaSummary) & { split: string; shots: number; style: string };

const SUBJECTS: Record<Exclude<TaskName, 'triviaqa'>, Subject[]> = { ceval: CEVAL_SUBJECTS, cmmlu: CMMLU_SUBJECTS, mmlu: MMLU_SUBJECTS };

function score(accs: Array<{ n: number; correct: number }>): Score {
  const n = accs.reduce((a, s) => a + s.n, 0);
  const correct = accs.reduce((a, s) => a + s.correct, 0);
  const withItems = accs.filter((s) => s.n > 0);
  return {
    n,
    correct,
    micro: n ? correct / n : 0,
    macro: withItems.length ? withItems.reduce((a, s) => a + s.correct / s.n, 0) / withItems.length : 0,
  };
}

export function summarizeTask(task: TaskName, t: TaskResults): TaskSummary {
  const head = { split: t.split, shots: t.shots, style: t.style };
  if (task === 'triviaqa') {
    const items = Object.values(t.items) as QaRecord[];
    const n = items.length;
    return { ...head, kind: 'qa', n, em: n ? items.filter((i) => i.em).length / n : 0, f1: n ? items.reduce((a, i) => a + i.f1, 0) / n : 0 };
  }
  const known = new Map(SUBJECTS[task].map((s) => [s.key, s]));
  const per = new Map<string, { n: number; correct: number }>();
  for (const r of Object.values(t.items) as McqRecord[]) {
    const s = per.get(r.subject) ?? { n: 0, correct: 0 };
    s.n++;
    if (r.correct) s.correct++;
    per.set(r.subject, s);
  }
  // Official order of subjects, so reports of different runs line up.
  const order = [...per.keys()].sort((a, b) => (indexOf(known, a) - indexOf(known, b)) || a.localeCompare(b));
  const subjects = order.map((key) => {
    const s = known.get(key);
    const c = per.get(key)!;
    return { key, name: s?.name ?? key, category: s?.category ?? 'Other', ...score([c]) };
  });
  const catNames = [...new Set(SUBJECTS[task].map((s) => s.category))];
  const categories = catNames.map((name) => {
    const members = subjects.filter((s) => s.category === name);
    return { name, subjects: members.length, ...score(members) };
  });
  if (task === 'cmmlu') {
    const members = subjects.filter((s) => CMMLU_CHINA_SPECIFIC.has(s.key));
    categories.push({ name: 'China specific', subjects: members.length, ...score(members) });
  }
  const cropped = (Object.values(t.items) as McqRecord[]).filter((r) => r.shots !== undefined).length;
  return { ...head, kind: 'mcq', cropped, subjects, categories: categories.filter((c) => c.subjects > 0), overall: { subjects: subjects.length, ...score(subjects) } };
}

function indexOf(known: Map<string, Subject>, key: string): number {
  const i = [...known.keys()].indexOf(key);
  return i < 0 ? Infinity : i;
}

export function summarize(r: ModelResults): Partial<Record<TaskName, TaskSummary>> {
  const out: Partial<Record<TaskName, TaskSummary>> = {};
  for (const task of TASKS) if (r.tasks[task]) out[task] = summarizeTask(task, r.tasks[task]!);
  return out;
}

const pct = (x: number) => (x * 100).toFixed(1);

/** The headline number of a task: macro accuracy for multiple choice, exact match for TriviaQA. */
export function headline(s: TaskSummary): number {
  return s.kind === 'qa' ? s.em : s.overall.macro;
}

/** The report: the README-style table, then per task the categories and subjects of every model. */
export function markdownReport(models: ModelResults[]): string {
  const sums = models.map((m) => ({ model: m.model, s: summarize(m) }));
  const tasks = TASKS.filter((t) => sums.some((m) => m.s[t]));
  const lines: string[] = [];
  const shotsOf = (t: TaskName) => [...new Set(sums.map((m) => m.s[t]?.shots).filter((x) => x !== undefined))].map((k) => `${k}-shot`).join('/');
  const rows = [
    ['Model', ...tasks.map((t) => TASK_TITLES[t])],
    ['', ...tasks.map(shotsOf)],
    ...sums.map((m) => [m.model, ...tasks.map((t) => { const s = m.s[t]; return s ? pct(headline(s)) : '-'; })]),
  ];
  const widths = rows[0].map((_, c) => Math.max(3, ...rows.map((r) => r[c].length)));
  const center = (x: string, w: number) => x.padStart(x.length + Math.floor((w - x.length) / 2)).padEnd(w);
  const row = (r: string[]) => `| ${r.map((x, c) => (c === 0 ? x.padEnd(widths[0]) : center(x, widths[c]))).join(' | ')} |`;
  lines.push(row(rows[0]));
  lines.push(`|:${'-'.repeat(widths[0] + 1)}|${widths.slice(1).map((w) => `:${'-'.repeat(w)}:`).join('|')}|`);
  for (const r of rows.slice(1)) lines.push(row(r));
  lines.push('');
  lines.push('Accuracy in %, the mean of the subjects\' accuracies (macro); TriviaQA: exact match in %. Per-question (micro) averages and F1 are below.');
  for (const t of tasks) {
    lines.push('', `### ${TASK_TITLES[t]}`);
    const first = sums.find((m) => m.s[t])!.s[t]!;
    lines.push('', `split ${first.split}, ${first.shots}-shot, ${first.style} prompts`);
    if (first.kind === 'qa') {
      lines.push('', '| Model | questions | EM | F1 |', '|:--|--:|--:|--:|');
      for (const m of sums) { const s = m.s[t]; if (s?.kind === 'qa') lines.push(`| ${m.model} | ${s.n} | ${pct(s.em)} | ${pct(s.f1)} |`); }
      continue;
    }
    for (const m of sums) {
      const s = m.s[t];
      if (s?.kind === 'mcq' && s.cropped) lines.push('', `${m.model}: ${s.cropped} question(s) had fewer shots so that the prompt fits the context (see "shots" in its results file).`);
    }
    lines.push('', '| Model | category | subjects | questions | macro | micro |', '|:--|:--|--:|--:|--:|--:|');
    for (const m of sums) {
      const s = m.s[t];
      if (s?.kind !== 'mcq') continue;
      for (const c of s.categories) lines.push(`| ${m.model} | ${c.name} | ${c.subjects} | ${c.n} | ${pct(c.macro)} | ${pct(c.micro)} |`);
      lines.push(`| ${m.model} | **all** | ${s.overall.subjects} | ${s.overall.n} | **${pct(s.overall.macro)}** | ${pct(s.overall.micro)} |`);
    }
    const withSubjects = sums.filter((m) => m.s[t]?.kind === 'mcq');
    const keys = [...new Map(withSubjects.flatMap((m) => (m.s[t] as McqSummary).subjects.map((s) => [s.key, s] as const))).values()];
    lines.push('', `| subject | name | category | ${withSubjects.map((m) => m.model).join(' | ')} |`, `|:--|:--|:--|${withSubjects.map(() => '--:').join('|')}|`);
    for (const k of keys) {
      const cells = withSubjects.map((m) => { const s = (m.s[t] as McqSummary).subjects.find((x) => x.key === k.key); return s ? `${pct(s.micro)} (${s.n})` : '-'; });
      lines.push(`| ${k.key} | ${k.name} | ${k.category} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}
