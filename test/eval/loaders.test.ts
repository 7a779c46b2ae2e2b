import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CEVAL_SUBJECTS, CMMLU_CHINA_SPECIFIC, CMMLU_SUBJECTS, MMLU_SUBJECTS } from '../../src/eval/subjects.js';
import { loadTask } from '../../src/eval/tasks.js';
import type { McqTaskData, QaTaskData } from '../../src/eval/types.js';
import { ROOT } from '../helpers/models.js';

const DATA = join(ROOT, 'test', 'fixtures', 'eval');
const count = (xs: { category: string }[]) => xs.reduce<Record<string, number>>((a, s) => ({ ...a, [s.category]: (a[s.category] ?? 0) + 1 }), {});

test('the official subject lists: 52 C-Eval subjects in 4 categories, 67 CMMLU, 57 MMLU', () => {
  assert.equal(CEVAL_SUBJECTS.length, 52);
  assert.deepEqual(count(CEVAL_SUBJECTS), { STEM: 20, 'Social Science': 10, Humanities: 11, Other: 11 });
  assert.deepEqual(CEVAL_SUBJECTS.find((s) => s.key === 'mao_zedong_thought'), { key: 'mao_zedong_thought', name: '毛泽东思想和中国特色社会主义理论体系概论', category: 'Social Science' });
  assert.equal(CMMLU_SUBJECTS.length, 67);
  assert.deepEqual(count(CMMLU_SUBJECTS), { Other: 15, STEM: 17, 'Social Science': 22, Humanities: 13 });
  assert.equal(CMMLU_CHINA_SPECIFIC.size, 15);
  assert.deepEqual(CMMLU_SUBJECTS.find((s) => s.key === 'agronomy'), { key: 'agronomy', name: '农学', category: 'Other' });
  assert.equal(MMLU_SUBJECTS.length, 57);
  assert.deepEqual(count(MMLU_SUBJECTS), { STEM: 18, Humanities: 13, 'Social Sciences': 12, Other: 14 });
  assert.equal(MMLU_SUBJECTS.find((s) => s.key === 'high_school_us_history')?.name, 'high school us history');
  for (const list of [CEVAL_SUBJECTS, CMMLU_SUBJECTS, MMLU_SUBJECTS]) assert.equal(new Set(list.map((s) => s.key)).size, list.length);
});

test('C-Eval: val items with a multi-line question; a short row and an answer E are skipped with file and line', () => {
  const d = loadTask('ceval', { data: DATA, subjects: ['computer_network', 'logic'] }) as McqTaskData;
  assert.equal(d.split, 'val');
  assert.equal(d.shots, 5);
  assert.deepEqual(d.subjects.map((s) => [s.subject.key, s.shots.map((x) => x.answer).join(''), s.items.map((x) => x.answer).join('')]), [
    ['computer_network', 'ACDBA', 'BABC'],
    ['logic', 'BBBBA', 'BBD'],
  ]);
  const cn = d.subjects[0];
  assert.deepEqual(cn.items[2], {
    id: '2', question: '下列协议中，\n属于传输层的是____。', choices: ['IP', 'TCP', 'ARP', 'ICMP'], answer: 'B',
    file: join(DATA, 'ceval', 'val', 'computer_network_val.csv'), line: 4,
  });
  assert.equal(cn.items[3].line, 6);
  const logic = join(DATA, 'ceval', 'val', 'logic_val.csv');
  assert.deepEqual(d.skipped, [
    { file: logic, line: 3, reason: '5 fields, expected 7; row skipped' },
    { file: logic, line: 4, reason: 'answer "E" is not one of A, B, C, D; row skipped' },
  ]);
});

test('a named subject without a file is reported and the others run; without --subjects, absent ones make one line', () => {
  const d = loadTask('ceval', { data: DATA, subjects: ['law', 'logic'], shots: 0 }) as McqTaskData;
  assert.deepEqual(d.subjects.map((s) => [s.subject.key, s.shots.length]), [['logic', 0]]);
  assert.deepEqual(d.skipped[0], { file: join(DATA, 'ceval', 'val', 'law_val.csv'), reason: 'missing file; subject skipped' });
  const all = loadTask('ceval', { data: DATA }) as McqTaskData;
  assert.deepEqual(all.subjects.map((s) => s.subject.key), ['computer_network', 'logic']);
  assert.equal(all.skipped[0].reason, '50 of 52 subjects have no file here (operating_system, computer_architecture, college_programming, …); not run');
});

test('CMMLU (header ",Question,…,Answer") and MMLU (no header) load with ids and limits', () => {
  const c = loadTask('cmmlu', { data: DATA, subjects: ['agronomy'], limit: 3 }) as McqTaskData;
  assert.equal(c.split, 'test');
  assert.deepEqual(c.subjects[0].items.map((i) => [i.id, i.answer, i.line]), [['0', 'B', 2], ['1', 'A', 3], ['2', 'D', 4]]);
  assert.equal(c.subjects[0].items[0].question, '玉米是____作物。');
  const m = loadTask('mmlu', { data: DATA }) as McqTaskData;
  assert.deepEqual(m.subjects[0].items.map((i) => [i.id, i.answer, i.line]), [['0', 'A', 1], ['1', 'A', 2], ['2', 'A', 3], ['3', 'A', 4], ['4', 'C', 5]]);
  assert.equal(m.subjects[0].shots[3].question, 'Find the characteristic of the ring 2Z.');
});

test('bad layouts: a wrong header, too few shots, an unclosed quote; unknown subjects and splits are one-line errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eval-data-'));
  cpSync(join(DATA, 'ceval'), join(dir, 'ceval'), { recursive: true });
  writeFileSync(join(dir, 'ceval', 'val', 'logic_val.csv'), 'id,question,A,B,C\n0,q,a,b,c\n');
  writeFileSync(join(dir, 'ceval', 'dev', 'computer_network_dev.csv'), 'id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n1,"q\n');
  const d = () => loadTask('ceval', { data: dir, subjects: ['computer_network', 'logic'] });
  assert.throws(d, /^UserError: no C-Eval subject could be loaded from .*ceval\/val: 2 problem\(s\), the first: .*computer_network_dev\.csv:3: a quoted field is never closed; file skipped$/);
  writeFileSync(join(dir, 'ceval', 'dev', 'computer_network_dev.csv'), 'id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n');
  writeFileSync(join(dir, 'ceval', 'dev', 'logic_dev.csv'), 'id,question,A,B,C,D,answer\n0,q,a,b,c,d,A\n1,q,a,b,c,d,B\n');
  cpSync(join(DATA, 'ceval', 'val', 'logic_val.csv'), join(dir, 'ceval', 'val', 'logic_val.csv'));
  writeFileSync(join(dir, 'ceval', 'val', 'computer_network_val.csv'), 'id,question,A,B,C\n0,q,a,b,c\n');
  const two = loadTask('ceval', { data: dir, subjects: ['computer_network', 'logic'], shots: 2 }) as McqTaskData;
  assert.deepEqual(two.subjects.map((s) => [s.subject.key, s.shots.map((x) => x.answer).join('')]), [['logic', 'AB']]);
  assert.deepEqual(two.skipped.map((s) => `${s.file.slice(dir.length)}:${s.line}: ${s.reason}`).slice(0, 1), [
    '/ceval/val/computer_network_val.csv:1: the header has no column d, answer (got "id,question,A,B,C"); file skipped',
  ]);
  assert.throws(() => loadTask('ceval', { data: dir, subjects: ['logic'], shots: 3 }), /logic_dev\.csv: 2 examples, fewer than --shots 3; subject skipped$/);
  assert.throws(() => loadTask('ceval', { data: join(dir, 'nowhere') }), /^UserError: no C-Eval data under .*nowhere \(looked in/);
  assert.throws(() => loadTask('ceval', { data: DATA, subjects: ['astrology'] }), /none of --subjects astrology is a C-Eval subject/);
  assert.throws(() => loadTask('cmmlu', { data: DATA, split: 'val' }), /CMMLU has no "val" split; choose one of: test, dev/);
  assert.throws(() => loadTask('triviaqa', { data: DATA, split: 'test' }), /test answers are not public/);
  assert.throws(() => loadTask('ceval', { data: DATA, split: 'test' }), /C-Eval's test answers are not public .*; score --split val$/);
});

test('TriviaQA: questions with their aliases; without a train file the first k questions are the shots', () => {
  const d = loadTask('triviaqa', { data: DATA, shots: 3 }) as QaTaskData;
  assert.deepEqual(d.shots.map((s) => s.id), ['tc_100', 'tc_101', 'tc_102']);
  assert.equal(d.items.length, 7);
  assert.deepEqual(d.items[0], { id: 'tc_1', question: 'Which city is the capital of France?', aliases: ['Paris', 'Paris, France', 'paris', 'paris, france'], file: join(DATA, 'triviaqa', 'wikipedia-dev.json'), line: 3 });
});
