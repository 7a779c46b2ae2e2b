import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { RunningServer } from '../../src/server/start.js';
import { ROOT } from '../helpers/models.js';
import { rawHttp, statuses, testServer } from '../helpers/server.js';
import { appendLog, lfLine, writeRunFolder } from '../helpers/trainLog.js';

/**
 * The fuzz suite's rules (fuzz.test.ts) on the routes that exist only with --train-dir: random run ids, since
 * values, log tokens, methods and headers, many tabs at once, while the log grows, is replaced and turns into
 * things a log should not be. No 5xx, no stack or path in an answer, and the server still answers exactly.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 1515);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.round(n * SCALE);
const root = mkdtempSync(join(tmpdir(), 'llama3-zh-train-fuzz-'));
const good = join(root, 'good');
const odd = join(root, 'odd');
let log: string;
let srv: RunningServer;
let step = 0;

before(async () => {
  ({ log } = writeRunFolder(good));
  writeRunFolder(odd);
  execFileSync('mkfifo', [join(odd, 'output', 'trainer_log.jsonl')]);
  execFileSync('mkfifo', [join(odd, 'train.log')]);
  mkdirSync(join(root, 'zero'));
  symlinkSync('/dev/zero', join(root, 'zero', 'lf.yaml'));
  for (let i = 0; i < 30; i++) appendLog(log, lfLine(++step, 10_000, { loss: 2 - step / 10_000, lr: 1e-4 }));
  srv = await testServer({ parallel: 1, trainDirs: [good, odd, join(root, 'missing'), join(root, 'zero', 'lf.yaml')] });
});
after(async () => {
  await srv?.close();
  rmSync(root, { recursive: true, force: true });
});

function assertClean(text: string, what: string) {
  assert.doesNotMatch(text, /\n\s+at |\bat \S+ \(|node:internal|\.[cm]?[jt]s:\d+/, `${what}: a stack trace in ${text}`);
  // A run id that is a path of ours is the client's own text, echoed in "no training run …": not a leak.
  const echoed = what.includes(encodeURIComponent(root)) || what.includes(root);
  assert.ok(!text.includes(ROOT) && (echoed || !text.includes(root)) && !text.includes('node_modules'), `${what}: a path in ${text}`);
}

/** The server still knows every run and its exact lines. */
async function assertAlive() {
  const res = await fetch(`${srv.url}/api/train`);
  assert.equal(res.status, 200);
  const json = await res.json() as { runs: { id: string; lines: number }[] };
  assert.deepEqual(json.runs.map((r) => r.id), ['good', 'odd', 'missing', 'zero-lf.yaml']);
  const page = await (await fetch(`${srv.url}/api/train/log?run=good`)).json() as { total: number; lines: { current_steps: number }[] };
  assert.equal(page.total, step);
  assert.equal(page.lines.at(-1)?.current_steps, step);
}

const text = fc.string({ unit: fc.constantFrom('a', 'g', 'o', 'd', '-', '.', '/', '%', '%zz', '%00', '..', '猫', ' ', '&', '=', '#', '+', '9', '0'), maxLength: 10 });
const runId = fc.oneof(fc.constantFrom('good', 'odd', 'missing', 'zero-lf.yaml', 'GOOD', '', '../good', good, 'good\u0000'), text);
const since = fc.oneof(fc.constantFrom('0', '1', '29', '30', '31', '999999999999999', '-1', '1e3', '0x10', ' 1', '1.0', 'NaN', ''), fc.nat().map(String), text);
const token = fc.oneof(fc.constantFrom('', 'x.0', 'deadbeef.0', '.', 'a'.repeat(2000)), text);
const query = fc.record({ run: fc.option(runId), since: fc.option(since), log: fc.option(token), extra: fc.option(text) }).map((q) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== null) p.append(k === 'extra' ? v.slice(0, 4) || 'x' : k, v);
  return `/api/train/log?${p}`;
});
const method = fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH');
const header = fc.tuple(fc.constantFrom('Authorization', 'Origin', 'Accept', 'If-None-Match', 'Range', 'X-Any'), fc.constantFrom('', 'Bearer x', 'http://evil.example', '*/*', 'bytes=0-1', '"x"'));

test('random queries, methods and headers on /api/train and /api/train/log, many at once, while the log grows and is replaced', { timeout: 120_000 * SCALE }, async () => {
  let round = 0;
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(method, fc.oneof(query, fc.constant('/api/train'), text.map((t) => `/api/train/${t}`)), fc.array(header, { maxLength: 2 })), { minLength: 1, maxLength: 12 }), async (batch) => {
    if (++round % 10 === 0) {
      // LLaMA-Factory starts the run over (overwrite_output_dir): the log is deleted and a new one grows.
      rmSync(log);
      step = 0;
    }
    for (let i = 0; i < 3; i++) appendLog(log, lfLine(++step, 10_000, { loss: 2 - step / 10_000, lr: 1e-4 }));
    await Promise.all(batch.map(async ([m, path, headers]) => {
      const what = `${m} ${path}`;
      const res = await fetch(srv.url + path, { method: m, headers: Object.fromEntries(headers), body: m === 'GET' || m === 'HEAD' ? undefined : '{}' });
      const body = await res.text();
      assert.ok(res.status < 500, `${what}: HTTP ${res.status} ${body}`);
      if (m === 'HEAD') return;
      assert.ok(body.length > 0, `${what}: empty body`);
      assertClean(body, what);
      if (res.status >= 400) {
        const json = JSON.parse(body);
        const message: string = typeof json.error === 'string' ? json.error : json.error.message;
        assert.ok(message && !message.includes('\n'), `${what}: ${body}`);
      } else if (path.startsWith('/api/train/log')) {
        const json = JSON.parse(body);
        assert.ok(json.lines.length <= 1000 && json.next === json.since + json.lines.length && json.next <= json.total, `${what}: ${body.slice(0, 300)}`);
      }
    }));
    await assertAlive();
  }), { seed: SEED, numRuns: runs(60), endOnFailure: true });
});

test('raw request targets and headers on the train routes', { timeout: 60_000 * SCALE }, async () => {
  const target = fc.oneof(query, fc.constantFrom('/api/train?', '/api/train/log?run=good&since=%zz', '/api/train/log?run=%ff%fe', '/api/train/log?run=good&run=odd', '/api/train//log', '/api/train/log?' + 'since=1&'.repeat(500)));
  await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'HEAD', 'OPTIONS'), target, fc.array(header, { maxLength: 3 }), async (m, t, headers) => {
    const lines = [`${m} ${t} HTTP/1.1`, 'Host: 127.0.0.1', ...headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
    const raw = await rawHttp(srv.url, `${lines.join('\r\n')}\r\n\r\n`, 1500);
    for (const s of statuses(raw)) assert.ok(s < 500, `${JSON.stringify(lines)} got ${s}: ${raw}`);
    assertClean(raw.replace(/^[\s\S]*?\r\n\r\n/, ''), JSON.stringify(lines));
  }), { seed: SEED, numRuns: runs(60), endOnFailure: true });
  await assertAlive();
});
