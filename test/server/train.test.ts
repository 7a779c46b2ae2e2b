import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MAX_LOG_LINES } from '../../src/server/routes/train.js';
import type { RunningServer } from '../../src/server/start.js';
import { testServer } from '../helpers/server.js';
import { appendLog, lfLine, writeRunFolder } from '../helpers/trainLog.js';

/** `serve --train-dir`: the training view's endpoints on a real server, over run folders written by hand. */

const root = mkdtempSync(join(tmpdir(), 'llama3-zh-train-web-'));
const dpo = join(root, 'DPO run');
const later = join(root, 'later');
let srv: RunningServer;
let log: string;

before(async () => {
  ({ log } = writeRunFolder(dpo));
  appendLog(log, lfLine(10, 40, { loss: 0.6931, accuracy: 0.5, lr: 5e-6, epoch: 0.25 }) + lfLine(20, 40, { loss: 0.52, accuracy: 0.75, lr: 4.5e-6, epoch: 0.5 }));
  srv = await testServer({ trainDirs: [dpo, later, join(dpo, 'train.yaml')] });
});
after(async () => {
  await srv?.close();
  rmSync(root, { recursive: true, force: true });
});

const get = async (path: string) => {
  const res = await fetch(srv.url + path);
  return { status: res.status, json: await res.json() as any };
};

test('GET /api/train lists the watched runs: names, recipe and model from llama3-zh.json, status, the latest numbers', async () => {
  const { status, json } = await get('/api/train');
  assert.equal(status, 200);
  assert.deepEqual(json.runs.map((r: any) => [r.id, r.name, r.status, r.note, r.lines]), [
    ['dpo-run', 'DPO run', 'running', undefined, 2],
    ['later', 'later', 'waiting', 'no run folder yet', 0],
  ], 'DIR and DIR/train.yaml are the same run, listed once');
  const r = json.runs[0];
  assert.deepEqual([r.recipe, r.model, r.stage, r.finetuningType, r.template], ['dpo-zh', 'shenzhi-wang/Llama3-8B-Chinese-Chat', 'dpo', 'lora', 'llama3']);
  assert.deepEqual(r.latest, { loss: 0.52, accuracy: 0.75, lr: 4.5e-6, epoch: 0.5 });
  assert.deepEqual(r.last, { current_steps: 20, total_steps: 40, loss: 0.52, accuracy: 0.75, lr: 4.5e-6, epoch: 0.5, percentage: 50, elapsed_time: '0:00:40', remaining_time: '0:00:40' });
  assert.ok(!JSON.stringify(json).includes(root), 'no server paths go to clients');
});

test('GET /api/train/log pages through new lines; torn and foreign lines are skipped, a torn one arrives once whole', async () => {
  const first = await get('/api/train/log?run=dpo-run');
  assert.equal(first.status, 200);
  assert.deepEqual([first.json.since, first.json.next, first.json.total, first.json.more, first.json.reset], [0, 2, 2, false, false]);
  assert.deepEqual(first.json.lines.map((l: any) => l.loss), [0.6931, 0.52]);
  const token = first.json.run.log;
  const whole = lfLine(30, 40, { loss: 0.41, accuracy: 0.875, lr: 2e-6, epoch: 0.75 });
  // A warning another process printed into the file, a JSON line that is not an entry, and half of a line.
  appendLog(log, 'UserWarning: something\n{"foo": 1}\n' + whole.slice(0, 20));
  const torn = await get(`/api/train/log?run=dpo-run&since=2&log=${token}`);
  assert.deepEqual([torn.json.since, torn.json.next, torn.json.lines.length, torn.json.reset], [2, 2, 0, false]);
  appendLog(log, whole.slice(20) + lfLine(30, 40, { eval_loss: 0.45, epoch: 0.75 }));
  const next = await get(`/api/train/log?run=dpo-run&since=2&log=${token}`);
  assert.deepEqual(next.json.lines, [
    { current_steps: 30, total_steps: 40, loss: 0.41, accuracy: 0.875, lr: 2e-6, epoch: 0.75, percentage: 75, elapsed_time: '0:01:00', remaining_time: '0:00:20' },
    { current_steps: 30, total_steps: 40, eval_loss: 0.45, epoch: 0.75, percentage: 75, elapsed_time: '0:01:00', remaining_time: '0:00:20' },
  ]);
  assert.deepEqual([next.json.next, next.json.run.log], [4, token]);
  assert.deepEqual(next.json.run.latest, { loss: 0.41, eval_loss: 0.45, accuracy: 0.875, lr: 2e-6, epoch: 0.75 });
});

test('a log that is replaced or shrinks starts over: the old token (or a since past the end) gets reset and line 0', async () => {
  const before = (await get('/api/train/log?run=dpo-run')).json;
  assert.equal(before.total, 4);
  // overwrite_output_dir: LLaMA-Factory deletes trainer_log.jsonl and the new run writes a new one.
  writeFileSync(log + '.new', lfLine(10, 80, { loss: 2.5, lr: 1e-4, epoch: 0.1 }));
  renameSync(log + '.new', log);
  const replaced = (await get(`/api/train/log?run=dpo-run&since=4&log=${before.run.log}`)).json;
  assert.deepEqual([replaced.reset, replaced.since, replaced.next, replaced.total], [true, 0, 1, 1]);
  assert.deepEqual(replaced.lines.map((l: any) => [l.current_steps, l.total_steps, l.loss]), [[10, 80, 2.5]]);
  assert.notEqual(replaced.run.log, before.run.log);
  // The same file cut shorter, then written again.
  appendLog(log, lfLine(20, 80, { loss: 2.1 }) + lfLine(30, 80, { loss: 1.9 }));
  const three = (await get(`/api/train/log?run=dpo-run&since=1&log=${replaced.run.log}`)).json;
  assert.deepEqual([three.reset, three.next], [false, 3]);
  truncateSync(log, 0);
  appendLog(log, lfLine(10, 20, { loss: 3.3 }));
  const shrunk = (await get(`/api/train/log?run=dpo-run&since=3&log=${three.run.log}`)).json;
  assert.deepEqual([shrunk.reset, shrunk.total, shrunk.lines[0].loss], [true, 1, 3.3]);
  // A client without the token, ahead of the log (a restarted server): from 0, too.
  const ahead = (await get('/api/train/log?run=dpo-run&since=999999')).json;
  assert.deepEqual([ahead.reset, ahead.since, ahead.next], [true, 0, 1]);
});

test('bad input: unknown run ids, paths for ids, since that is not a count, other methods — exact errors, the server goes on', async () => {
  const cases: [string, number, string][] = [
    ['/api/train/log', 400, 'give the run: /api/train/log?run=ID (GET /api/train lists the ids)'],
    ['/api/train/log?run=nope', 404, 'no training run "nope"; GET /api/train lists the ids'],
    [`/api/train/log?run=${encodeURIComponent('../../etc/passwd')}`, 404, 'no training run "../../etc/passwd"; GET /api/train lists the ids'],
    [`/api/train/log?run=${encodeURIComponent(dpo)}`, 404, `no training run ${JSON.stringify(dpo)}; GET /api/train lists the ids`],
    ['/api/train/log?run=dpo-run&since=-1', 400, 'since must be a whole number of lines already read (0 or more), not "-1"'],
    ['/api/train/log?run=dpo-run&since=abc', 400, 'since must be a whole number of lines already read (0 or more), not "abc"'],
    ['/api/train/log?run=dpo-run&since=1.5', 400, 'since must be a whole number of lines already read (0 or more), not "1.5"'],
    ['/api/train/log?run=dpo-run&since=1e3', 400, 'since must be a whole number of lines already read (0 or more), not "1e3"'],
    ['/api/train/log?run=dpo-run&since=99999999999999999999', 400, 'since must be a whole number of lines already read (0 or more), not "99999999999999999999"'],
  ];
  for (const [path, status, message] of cases) {
    const r = await get(path);
    assert.deepEqual([r.status, r.json.error?.message], [status, message], path);
  }
  const post = await fetch(srv.url + '/api/train', { method: 'POST', body: '{}' });
  assert.deepEqual([post.status, post.headers.get('allow')], [405, 'GET']);
  assert.equal((await get('/api/train')).status, 200);
});

test('answers are bounded: a long log comes MAX_LOG_LINES at a time, with more: true until the end', async () => {
  let text = '';
  for (let s = 1; s <= 2500; s++) text += lfLine(s, 2500, { loss: 3 - s / 1000, lr: 1e-4 });
  writeFileSync(log, text);
  const got: number[] = [];
  let since = 0;
  let token = '';
  for (let i = 0; i < 4; i++) {
    const r = (await get(`/api/train/log?run=dpo-run&since=${since}${token ? `&log=${token}` : ''}`)).json;
    if (i === 0) token = r.run.log;
    got.push(r.lines.length);
    since = r.next;
    if (!r.more) break;
  }
  assert.equal(MAX_LOG_LINES, 1000);
  assert.deepEqual(got, [1000, 1000, 500]);
  assert.equal(since, 2500);
});

test('status: finished once train_results.json is newer than the log, failed when train.log ends in a traceback, waiting until the folder appears', async () => {
  writeFileSync(join(dpo, 'train.log'), '[INFO] step 1\nTraceback (most recent call last):\n  File "x.py"\ntorch.OutOfMemoryError: CUDA out of memory.\n');
  const status = async () => (await get('/api/train')).json.runs.map((r: any) => r.status);
  assert.deepEqual(await status(), ['failed', 'waiting']);
  writeFileSync(join(dpo, 'output', 'train_results.json'), '{"epoch": 1.0, "train_loss": 0.5}');
  assert.deepEqual(await status(), ['finished', 'waiting']);
  // The cluster job creates the second folder later: it is picked up without a restart.
  writeRunFolder(later, { recipe: 'sft-base-zh', stage: 'sft' });
  const runs = (await get('/api/train')).json.runs;
  assert.deepEqual(runs.map((r: any) => [r.id, r.status, r.note, r.recipe]), [['dpo-run', 'finished', undefined, 'dpo-zh'], ['later', 'waiting', undefined, 'sft-base-zh']]);
  appendLog(join(later, 'output', 'trainer_log.jsonl'), lfLine(10, 100, { loss: 1.7 }));
  assert.equal((await get('/api/train/log?run=later')).json.lines[0].loss, 1.7);
  assert.equal((await get('/api/train')).json.runs[1].status, 'running');
  // A train.yaml that is damaged while the server watches: waiting again, with a note, and the server goes on.
  writeFileSync(join(later, 'train.yaml'), '- a list\n');
  assert.deepEqual((await get('/api/train')).json.runs.map((r: any) => [r.status, r.note]), [['finished', undefined], ['waiting', 'train.yaml cannot be read']]);
});

test('with --api-key the endpoints need the key; a log that is a folder is a note, not a crash', async () => {
  const odd = join(root, 'odd');
  writeRunFolder(odd);
  mkdirSync(join(odd, 'output', 'trainer_log.jsonl'));
  const keyed = await testServer({ apiKey: 'k-1', trainDirs: [odd] });
  try {
    assert.equal((await fetch(keyed.url + '/api/train')).status, 401);
    const r = await fetch(keyed.url + '/api/train/log?run=odd', { headers: { authorization: 'Bearer k-1' } });
    const json = await r.json() as any;
    assert.deepEqual([r.status, json.run.note, json.lines], [200, 'trainer_log.jsonl cannot be read (EISDIR)', []]);
  } finally {
    await keyed.close();
  }
});

test('without --train-dir the endpoints do not exist', async () => {
  const plain = await testServer();
  try {
    const r = await fetch(plain.url + '/api/train');
    assert.equal(r.status, 404);
  } finally {
    await plain.close();
  }
});
