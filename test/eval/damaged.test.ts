import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CsvError, parseCsv } from '../../src/eval/csv.js';
import { readResults } from '../../src/eval/results.js';
import { loadTask } from '../../src/eval/tasks.js';
import type { McqTaskData } from '../../src/eval/types.js';
import { UserError } from '../../src/errors.js';

const HEAD = 'id,question,A,B,C,D,answer\n';
const GOOD = `${HEAD}0,一加一,1,2,3,4,B\n`;

/** A C-Eval val folder with these files (name → content, or a function that makes the file). */
function ceval(files: Record<string, string | ((path: string) => void)>): string {
  const data = mkdtempSync(join(tmpdir(), 'eval-damaged-'));
  const val = join(data, 'ceval', 'val');
  mkdirSync(val, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    const p = join(val, `${name}_val.csv`);
    if (typeof body === 'string') writeFileSync(p, body); else body(p);
  }
  return data;
}

const load = (data: string) => loadTask('ceval', { data, shots: 0 }) as McqTaskData;
const fails = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

test('a subject whose rows are all unscorable (answers E and AB, 3 columns) is skipped, and with nothing else to run it is an error, not a score of 0', () => {
  const garbage = `${HEAD}0,q,a,b,c,d,E\n1,q,a,b,c,d,AB\n2,q,a\n`;
  const data = ceval({ logic: garbage, computer_network: GOOD });
  const d = load(data);
  assert.deepEqual(d.subjects.map((s) => s.subject.key), ['computer_network']);
  assert.deepEqual(d.skipped.slice(-4).map((s) => [s.line, s.reason]), [
    [2, 'answer "E" is not one of A, B, C, D; row skipped'],
    [3, 'answer "AB" is not one of A, B, C, D; row skipped'],
    [4, '3 fields, expected 7; row skipped'],
    [undefined, 'no question with an answer A, B, C or D; subject skipped'],
  ]);
  assert.throws(() => load(ceval({ logic: garbage })), fails(/^no C-Eval subject could be loaded from .*: 5 problem\(s\), the first: .*logic_val\.csv: no question with an answer A, B, C or D; subject skipped$/));
});

test('the first error names the broken file, not the 51 subjects that are not there', () => {
  const data = ceval({ logic: `${HEAD}0,"never closed,a,b,c,d,A\n1,q,a,b,c,d,B\n` });
  assert.throws(() => load(data), fails(/^no C-Eval subject could be loaded from .*: 2 problem\(s\), the first: .*logic_val\.csv:2: a quoted field is never closed; file skipped$/));
});

test('a FIFO, a link to /dev/zero, a file far too big or a field of megabytes is skipped at once, never read whole', () => {
  const data = ceval({
    computer_network: GOOD,
    logic: (p) => execFileSync('mkfifo', [p]),
    operating_system: (p) => symlinkSync('/dev/zero', p),
    computer_architecture: (p) => { writeFileSync(p, ''); truncateSync(p, 17 << 20); },
    college_programming: `${HEAD}0,"${'问'.repeat((1 << 20) + 1)}",a,b,c,d,A\n`,
  });
  const d = load(data);
  assert.deepEqual(d.subjects.map((s) => s.subject.key), ['computer_network']);
  const why = Object.fromEntries(d.skipped.filter((s) => s.file.endsWith('.csv')).map((s) => [s.file.split('/').pop(), `${s.line ?? ''} ${s.reason}`]));
  assert.deepEqual(why, {
    'logic_val.csv': ' not a regular file (a folder, pipe or device); file skipped',
    'operating_system_val.csv': ' not a regular file (a folder, pipe or device); file skipped',
    'computer_architecture_val.csv': ' 17 MiB, far bigger than any subject file (at most 16 MiB read); file skipped',
    'college_programming_val.csv': '2 a field longer than 1,048,576 characters (a quote not closed?); file skipped',
  });
});

test('the CSV reader slices fields out of the text and stops at the field limit, at the line the field starts', () => {
  assert.deepEqual(parseCsv('a,"b ""q"" \r\nc",d\r\ne,f\n', 100), [{ fields: ['a', 'b "q" \r\nc', 'd'], line: 1 }, { fields: ['e', 'f'], line: 3 }]);
  assert.throws(() => parseCsv(`a,b\nc,${'x'.repeat(101)}\n`, 100), (e: unknown) => e instanceof CsvError && e.line === 2 && e.message === 'a field longer than 100 characters (a quote not closed?)');
  assert.throws(() => parseCsv(`a,b\n\n"${'y\n'.repeat(60)}`, 100), (e: unknown) => e instanceof CsvError && e.line === 3 && /longer than 100 characters/.test(e.message));
});

test('MMLU (no header) and CMMLU layouts: rows that cannot be scored leave nothing to score, and the error says which file', () => {
  const data = mkdtempSync(join(tmpdir(), 'eval-layouts-'));
  mkdirSync(join(data, 'mmlu', 'test'), { recursive: true });
  writeFileSync(join(data, 'mmlu', 'test', 'anatomy_test.csv'), 'q,a,b,c,d,E\nq,a,b\n');
  assert.throws(() => loadTask('mmlu', { data, shots: 0 }), fails(/^no MMLU subject could be loaded from .*: 4 problem\(s\), the first: .*anatomy_test\.csv: no question with an answer A, B, C or D; subject skipped$/));
  mkdirSync(join(data, 'cmmlu', 'test'), { recursive: true });
  writeFileSync(join(data, 'cmmlu', 'test', 'agronomy.csv'), ',Question,A,B,C,D,Answer\n0,"农学,a,b,c,d,A\n');
  assert.throws(() => loadTask('cmmlu', { data, shots: 0 }), fails(/^no CMMLU subject could be loaded from .*: 2 problem\(s\), the first: .*agronomy\.csv:2: a quoted field is never closed; file skipped$/));
});

test('TriviaQA: a FIFO is refused; a file with no usable question says why', () => {
  const data = mkdtempSync(join(tmpdir(), 'eval-tqa-'));
  mkdirSync(join(data, 'triviaqa'));
  const f = join(data, 'triviaqa', 'wikipedia-dev.json');
  execFileSync('mkfifo', [f]);
  assert.throws(() => loadTask('triviaqa', { data, shots: 0 }), fails(/wikipedia-dev\.json is not a regular file \(a pipe, socket or device\); give a TriviaQA JSON file on disk$/));
  const g = join(mkdtempSync(join(tmpdir(), 'eval-tqa-')), 'triviaqa');
  mkdirSync(g);
  writeFileSync(join(g, 'wikipedia-dev.json'), JSON.stringify({ Data: [{ QuestionId: 'q1', Question: '  ', Answer: { Value: 'x' } }] }));
  assert.throws(() => loadTask('triviaqa', { data: join(g, '..'), shots: 0 }), fails(/^no TriviaQA question could be loaded from .*: 1 problem\(s\), the first: .*wikipedia-dev\.json: item 0 \(q1\) has no Question; skipped$/));
});

test('a results file that is a FIFO, or nested past 1,000 levels, is refused, not read or written back', () => {
  const out = mkdtempSync(join(tmpdir(), 'eval-res-'));
  execFileSync('mkfifo', [join(out, 'm.json')]);
  assert.throws(() => readResults(join(out, 'm.json')), fails(/m\.json is not a regular file/));
  writeFileSync(join(out, 'd.json'), `{"version": 1, "tasks": {"ceval": ${'['.repeat(5000)}${']'.repeat(5000)}}}`);
  assert.throws(() => readResults(join(out, 'd.json')), fails(/d\.json is not a results file of llama3-zh eval; move it away or use another --out$/));
});
