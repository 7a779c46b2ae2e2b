import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownReport, summarize } from '../../src/eval/report.js';
import type { McqRecord, ModelResults } from '../../src/eval/results.js';

const rec = (subject: string, id: number, correct: boolean): McqRecord =>
  ({ subject, id: String(id), answer: 'A', prediction: correct ? 'A' : 'B', logprobs: [0, 0, 0, 0], correct });
const items = (subject: string, right: number, n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${subject}/${i}`, rec(subject, i, i < right)]));

const a: ModelResults = {
  version: 1, model: 'A',
  tasks: {
    ceval: { split: 'val', shots: 5, style: 'official', items: { ...items('logic', 1, 4), ...items('computer_network', 3, 4), ...items('law', 2, 2) }, skipped: [] },
    triviaqa: { split: 'val', shots: 8, style: 'official', items: { q1: { id: 'q1', prediction: 'x', em: true, f1: 1 }, q2: { id: 'q2', prediction: 'y', em: false, f1: 0.5 } }, skipped: [] },
  },
};
const b: ModelResults = { version: 1, model: 'B-longer-name', tasks: { ceval: { split: 'val', shots: 5, style: 'official', items: items('logic', 2, 4), skipped: [] } } };

test('per subject, per category and overall, macro (mean over subjects) and micro (over questions)', () => {
  const s = summarize(a).ceval!;
  assert.equal(s.kind, 'mcq');
  if (s.kind !== 'mcq') return;
  assert.deepEqual(s.subjects.map((x) => [x.key, x.name, x.category, x.n, x.correct]), [
    ['computer_network', '计算机网络', 'STEM', 4, 3], ['logic', '逻辑学', 'Humanities', 4, 1], ['law', '法学', 'Humanities', 2, 2],
  ]);
  assert.deepEqual(s.categories.map((c) => [c.name, c.subjects, c.n, c.micro, c.macro]), [['STEM', 1, 4, 0.75, 0.75], ['Humanities', 2, 6, 0.5, 0.625]]);
  assert.deepEqual([s.overall.n, s.overall.correct, s.overall.micro, s.overall.macro], [10, 6, 0.6, (0.75 + 0.25 + 1) / 3]);
  const t = summarize(a).triviaqa!;
  assert.deepEqual(t.kind === 'qa' && [t.n, t.em, t.f1], [2, 0.5, 0.75]);
});

test('the Markdown table: models as rows, benchmarks as columns, shots under the names', () => {
  const md = markdownReport([a, b]);
  assert.equal(md.split('\n').slice(0, 5).join('\n'), [
    '| Model         | C-Eval | TriviaQA-Wiki |',
    '|:--------------|:------:|:-------------:|',
    '|               | 5-shot |    8-shot     |',
    '| A             |  66.7  |     50.0      |',
    '| B-longer-name |  50.0  |       -       |',
  ].join('\n'));
  assert.match(md, /^\| A \| \*\*all\*\* \| 3 \| 10 \| \*\*66\.7\*\* \| 60\.0 \|$/m);
  assert.match(md, /^\| logic \| 逻辑学 \| Humanities \| 25\.0 \(4\) \| 50\.0 \(4\) \|$/m);
  assert.match(md, /^\| law \| 法学 \| Humanities \| 100\.0 \(2\) \| - \|$/m);
  assert.match(md, /^\| A \| 2 \| 50\.0 \| 75\.0 \|$/m);
});

test('questions that had fewer shots to fit the context are counted in the report', () => {
  const items = { 'logic/0': { ...rec('logic', 0, true), shots: 3 }, 'logic/1': rec('logic', 1, true) };
  const c: ModelResults = { version: 1, model: 'C', tasks: { ceval: { split: 'val', shots: 5, style: 'official', items, skipped: [] } } };
  const s = summarize(c).ceval!;
  assert.equal(s.kind === 'mcq' && s.cropped, 1);
  assert.match(markdownReport([c]), /^C: 1 question\(s\) had fewer shots so that the prompt fits the context/m);
  assert.doesNotMatch(markdownReport([a]), /fewer shots/);
});
