import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ChatModel } from '../../src/chat/model.js';
import { openModel } from '../../src/cli/modelFlags.js';
import { type EvalModel, localModel } from '../../src/eval/model.js';
import { mcqPrompt } from '../../src/eval/prompts.js';
import { remoteModel } from '../../src/eval/remote.js';
import { summarize } from '../../src/eval/report.js';
import type { McqRecord, ModelResults, QaRecord } from '../../src/eval/results.js';
import { runEval } from '../../src/eval/runner.js';
import { UserError } from '../../src/errors.js';
import { loadTask } from '../../src/eval/tasks.js';
import type { McqTaskData, TaskData } from '../../src/eval/types.js';
import { letterModel, parisModel } from '../helpers/evalModels.js';
import { ROOT } from '../helpers/models.js';
import { testServer } from '../helpers/server.js';

const DATA = join(ROOT, 'test', 'fixtures', 'eval');
const out = mkdtempSync(join(tmpdir(), 'eval-run-'));
let n = 0;
const file = () => join(out, `r${n++}.json`);
let open: ChatModel;
let model: EvalModel;

before(async () => {
  open = await openModel({ model: await letterModel(), threads: '1', 'ctx-size': '2048' });
  model = localModel('letters', open);
});
after(() => model.close());

const mcq = (): TaskData[] => [
  loadTask('ceval', { data: DATA, subjects: ['computer_network', 'logic'] }),
  loadTask('cmmlu', { data: DATA }),
  loadTask('mmlu', { data: DATA }),
];
const acc = (r: ModelResults) => Object.fromEntries(Object.entries(summarize(r)).map(([t, s]) => [t, s.kind === 'mcq' ? [s.overall.correct, s.overall.n, s.subjects.map((x) => `${x.key} ${x.correct}/${x.n}`)] : []]));

test('a model that answers B after 答案： and " A" after Answer: scores exactly the share of those answers', async () => {
  const f = file();
  const r = await runEval({ model, tasks: mcq(), style: 'official', file: f });
  assert.deepEqual([r.ran, r.done, r.total, r.interrupted], [17, 17, 17, false]);
  assert.deepEqual(acc(r.results), {
    // computer_network answers B A B C, logic B B D (two bad rows skipped), agronomy B A D B A, abstract_algebra A A A A C
    ceval: [4, 7, ['computer_network 2/4', 'logic 2/3']],
    cmmlu: [2, 5, ['agronomy 2/5']],
    mmlu: [4, 5, ['abstract_algebra 4/5']],
  });
  const saved = JSON.parse(readFileSync(f, 'utf8')) as ModelResults;
  assert.deepEqual(saved.tasks.ceval!.answers, ['A', 'B', 'C', 'D']);
  assert.deepEqual(saved.tasks.mmlu!.answers, [' A', ' B', ' C', ' D']);
  const one = saved.tasks.ceval!.items['computer_network/1'] as McqRecord;
  assert.deepEqual([one.answer, one.prediction, one.correct], ['A', 'B', false]);
  // The scripted logit is 40 against 0: B is certain, the others are e^-40 each.
  assert.ok(Math.abs(one.logprobs[1]) < 1e-6 && one.logprobs.every((x, i) => i === 1 || Math.abs(x + 40) < 0.1), String(one.logprobs));
  assert.equal(saved.tasks.ceval!.skipped.length, 2);
});

test('a prompt longer than the context drops shots from the end, as MMLU\'s evaluate.py does, and says so per item', async () => {
  const small = localModel('small', await openModel({ model: await letterModel(), threads: '1', 'ctx-size': '256' }));
  try {
    const r = await runEval({ model: small, tasks: [loadTask('ceval', { data: DATA, subjects: ['computer_network'] })], style: 'official', file: file() });
    const items = Object.values(r.results.tasks.ceval!.items) as McqRecord[];
    assert.deepEqual(items.map((i) => i.prediction).join(''), 'BBBB');
    assert.ok(items.every((i) => i.shots !== undefined && i.shots < 5 && i.shots >= 3), JSON.stringify(items.map((i) => i.shots)));
  } finally {
    await small.close();
  }
});

test('a task where no question could be scored fails and says why, instead of a score of 0.0', async () => {
  const data = mkdtempSync(join(tmpdir(), 'eval-long-'));
  mkdirSync(join(data, 'ceval', 'val'), { recursive: true });
  writeFileSync(join(data, 'ceval', 'val', 'logic_val.csv'), `id,question,A,B,C,D,answer\n0,${'逻辑'.repeat(400)},a,b,c,d,A\n`);
  const small = localModel('small', await openModel({ model: await letterModel(), threads: '1', 'ctx-size': '256' }));
  const f = file();
  try {
    await assert.rejects(runEval({ model: small, tasks: [loadTask('ceval', { data, subjects: ['logic'], shots: 0 })], style: 'official', file: f }), (e: unknown) =>
      e instanceof UserError && /^ceval: no question could be scored, so there is no score \(1 skipped; the first: .*logic_val\.csv:2: too long for the context even with no shots \(.*\)\)$/.test(e.message));
    // What was done (nothing, and why) is still in the results file.
    assert.match(JSON.parse(readFileSync(f, 'utf8')).tasks.ceval.skipped[0].reason, /^too long for the context even with no shots/);
  } finally {
    await small.close();
  }
});

test('chat style: the answer after the assistant header (C) is scored', async () => {
  const r = await runEval({ model, tasks: [loadTask('ceval', { data: DATA, subjects: ['computer_network', 'logic'] })], style: 'chat', file: file() });
  assert.deepEqual(acc(r.results), { ceval: [1, 7, ['computer_network 1/4', 'logic 0/3']] });
});

test('the shared few-shot prefix stays in the KV cache: the next question evaluates only its own tokens', async () => {
  const d = loadTask('ceval', { data: DATA, subjects: ['computer_network'] }) as McqTaskData;
  const s = d.subjects[0];
  const [p1, p2] = [0, 1].map((i) => mcqPrompt('ceval', 'official', s.subject, s.shots, s.items[i]));
  assert.equal(p1.sharedPrefix, p2.sharedPrefix);
  const tokens = (t: string) => [open.engine.info.bosId!, ...open.engine.tokenize(t)];
  await model.answerLogprobs(p1, ['A', 'B', 'C', 'D']);
  const shared = tokens(p1.sharedPrefix).length;
  const r = await open.engine.generate({ prompt: tokens(p2.text), maxTokens: 1 });
  assert.ok(r.usage.cachedTokens >= shared - 1 && shared > 200, `cached ${r.usage.cachedTokens} of a ${shared}-token prefix`);
  // Without reuse, the same numbers.
  const a = await model.answerLogprobs(p2, ['A', 'B', 'C', 'D']);
  const b = await model.answerLogprobs(p2, ['A', 'B', 'C', 'D'], { reuseCache: false });
  assert.ok(a.every((x, i) => Math.abs(x - b[i]) < 1e-3), `${a} vs ${b}`);
});

test('Ctrl-C keeps what is done; --resume runs only the rest; other settings are refused', async () => {
  const f = file();
  const ac = new AbortController();
  let updates = 0;
  const progress = { start() {}, update() { if (++updates === 5) ac.abort(); }, done() {} };
  const first = await runEval({ model, tasks: mcq(), style: 'official', file: f, signal: ac.signal, progress });
  assert.deepEqual([first.ran, first.done, first.total, first.interrupted], [5, 5, 17, true]);
  assert.equal(Object.keys((JSON.parse(readFileSync(f, 'utf8')) as ModelResults).tasks.ceval!.items).length, 5);
  await assert.rejects(runEval({ model, tasks: mcq(), style: 'official', file: f }), /already holds results; add --resume/);
  const rest = await runEval({ model, tasks: mcq(), style: 'official', file: f, resume: true });
  assert.deepEqual([rest.ran, rest.done, rest.total, rest.interrupted], [12, 17, 17, false]);
  assert.deepEqual(acc(rest.results).ceval, [4, 7, ['computer_network 2/4', 'logic 2/3']]);
  await assert.rejects(runEval({ model, tasks: mcq(), style: 'chat', file: f, resume: true }), /holds ceval results made with --style official, not chat; run with the same flags, or use another --out/);
});

test('TriviaQA: greedy answers to the end of the line, EM and F1 after normalisation', async () => {
  const m = localModel('paris', await openModel({ model: await parisModel(), threads: '1', 'ctx-size': '1024' }));
  try {
    const r = await runEval({ model: m, tasks: [loadTask('triviaqa', { data: DATA, shots: 3 })], style: 'official', file: file() });
    const items = r.results.tasks.triviaqa!.items as Record<string, QaRecord>;
    assert.deepEqual(Object.values(items).map((i) => [i.id, i.prediction, i.em, Math.round(i.f1 * 1000) / 1000]), [
      ['tc_1', 'Paris', true, 1], ['tc_2', 'Paris', false, 0], ['tc_3', 'Paris', true, 1], ['tc_4', 'Paris', false, 0.667],
      ['tc_5', 'Paris', false, 0], ['tc_6', 'Paris', false, 0.5], ['tc_7', 'Paris', false, 0],
    ]);
    const s = summarize(r.results).triviaqa!;
    assert.deepEqual(s.kind === 'qa' && [s.n, s.em], [7, 2 / 7]);
  } finally {
    await m.close();
  }
});

test('a remote OpenAI-compatible server (llama3-zh serve) scores the same as the engine in-process', async () => {
  const server = await testServer({ model: await letterModel(), ctx: 2048, parallel: 1, name: 'letters' });
  try {
    const m = remoteModel({ baseUrl: server.url, name: 'letters' });
    const r = await runEval({ model: m, tasks: mcq(), style: 'official', file: file() });
    assert.deepEqual(acc(r.results), {
      ceval: [4, 7, ['computer_network 2/4', 'logic 2/3']], cmmlu: [2, 5, ['agronomy 2/5']], mmlu: [4, 5, ['abstract_algebra 4/5']],
    });
  } finally {
    await server.close();
  }
});
