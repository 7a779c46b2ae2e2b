import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { before, test } from 'node:test';
import { assertFinalError, assertOneLineError, runCli } from '../helpers/cli.js';
import { letterModel } from '../helpers/evalModels.js';
import { ROOT } from '../helpers/models.js';

const DATA = join(ROOT, 'test', 'fixtures', 'eval');
const dir = mkdtempSync(join(tmpdir(), 'eval-cli-'));
let model: string;
before(async () => { model = await letterModel(); });
const evalCli = (...args: string[]) => runCli(['eval', '-t', '1', '-c', '2048', ...args]);

test('eval: the README table on stdout, skipped rows on stderr, results and report in --out; a second run needs --resume', async () => {
  const out = join(dir, 'run');
  const r = await evalCli('-m', model, '--data', DATA, '--tasks', 'ceval,mmlu', '--subjects', 'computer_network,logic,abstract_algebra', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const name = basename(model, '.gguf');
  const w = name.length;
  assert.equal(r.stdout.split('\n').slice(0, 4).join('\n'), [
    `| ${'Model'.padEnd(w)} | C-Eval |  MMLU  |`,
    `|:${'-'.repeat(w + 1)}|:------:|:------:|`,
    `| ${''.padEnd(w)} | 5-shot | 5-shot |`,
    `| ${name} |  58.3  |  80.0  |`,
  ].join('\n'));
  assert.match(r.stdout, /\| \*\*all\*\* \| 2 \| 7 \| \*\*58\.3\*\* \| 57\.1 \|/);
  assert.match(r.stderr, /^ceval: 2 subjects, 7 questions \(val, 5-shot\); skipped 2:$/m);
  assert.match(r.stderr, /logic_val\.csv:3: 5 fields, expected 7; row skipped$/m);
  assert.match(r.stderr, /logic_val\.csv:4: answer "E" is not one of A, B, C, D; row skipped$/m);
  assert.match(r.stderr, /^mmlu: 1 subject, 5 questions \(test, 5-shot\)$/m);
  assert.match(r.stderr, /: 12 questions in [\d.]+ s \([\d.]+ questions\/s\); results in /);
  assert.equal(readFileSync(join(out, 'report.md'), 'utf8'), r.stdout);
  const results = JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8'));
  assert.equal(Object.keys(results.tasks.ceval.items).length, 7);
  assert.ok(existsSync(join(out, 'summary.json')));

  const again = await evalCli('-m', model, '--data', DATA, '--tasks', 'ceval,mmlu', '--subjects', 'computer_network,logic,abstract_algebra', '--out', out);
  assertFinalError(again, new RegExp(`^llama3-zh eval: .*${name}\\.json already holds results; add --resume to continue that run, or use another --out$`));
  const resumed = await evalCli('-m', model, '--data', DATA, '--tasks', 'ceval,mmlu', '--subjects', 'computer_network,logic,abstract_algebra', '--out', out, '--resume');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /: 0 questions in /);
  assert.equal(resumed.stdout, r.stdout);
});

test('eval: two models make two rows of one table', async () => {
  const second = join(dir, 'second.gguf');
  symlinkSync(model, second);
  const r = await evalCli('-m', model, '-m', second, '--data', DATA, '--tasks', 'mmlu', '--out', join(dir, 'two'));
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.split('\n').slice(3, 5).map((l) => l.split('|').map((c) => c.trim()).filter(Boolean));
  assert.deepEqual(rows, [[basename(model, '.gguf'), '80.0'], ['second', '80.0']]);
  assert.ok(existsSync(join(dir, 'two', 'second.json')));
});

test('eval: bad input is one line and a non-zero exit', async () => {
  assertOneLineError(await runCli(['eval', '--data', DATA]), /^llama3-zh eval: give a model with -m MODEL/);
  assertOneLineError(await runCli(['eval', '-m', 'x.gguf', '--tasks', 'ceval,gsm8k']), /^llama3-zh eval: unknown task "gsm8k"; choose from: ceval, cmmlu, mmlu, triviaqa$/);
  assertOneLineError(await runCli(['eval', '-m', 'x.gguf', '--style', 'fancy']), /^llama3-zh eval: unknown --style "fancy"; choose official or chat$/);
  assertOneLineError(await runCli(['eval', '-m', 'x.gguf', '--shots', '-1']), /^llama3-zh eval: --shots/);
  assertOneLineError(await runCli(['eval', '-m', 'x.gguf', '--data', join(dir, 'none')]), /^llama3-zh eval: no benchmark data under .*none; unpack C-Eval/);
  assertOneLineError(await runCli(['eval', '-m', 'x.gguf', '--data', join(dir, 'none'), '--tasks', 'mmlu']), /^llama3-zh eval: no MMLU data under .*none \(looked in /);
  assertOneLineError(await runCli(['eval', '--base-url', 'http://127.0.0.1:1']), /^llama3-zh eval: --base-url needs --name/);
  assertOneLineError(await runCli(['eval', '--data', DATA, '--tasks', 'cmmlu', '--split', 'val', '-m', 'x.gguf']), /^llama3-zh eval: CMMLU has no "val" split; choose one of: test, dev$/);
  assertOneLineError(await runCli(['eval', '-m', 'a.gguf', '-m', 'b.gguf', '--name', 'x']), /^llama3-zh eval: --name names one model/);
  const clash = await runCli(['eval', '-m', '/one/m.gguf', '-m', '/two/m.gguf', '--data', DATA, '--tasks', 'mmlu', '--out', join(dir, 'clash')]);
  assertFinalError(clash, /^llama3-zh eval: -m \/one\/m\.gguf and -m \/two\/m\.gguf would both write .*m\.json; rename one of the files$/);
  // A results file that cannot be written is refused before the run, not after its last question.
  const loop = join(dir, 'loop');
  mkdirSync(loop, { recursive: true });
  symlinkSync('m.json', join(loop, 'm.json'));
  const looped = await runCli(['eval', '--base-url', 'http://127.0.0.1:1/v1', '--name', 'm', '--data', DATA, '--tasks', 'mmlu', '--out', loop]);
  assertFinalError(looped, /^llama3-zh eval: cannot write .*m\.json: /);
  // A server that is not there: the data loads, then one error line.
  const port = await new Promise<number>((res) => { const s = createServer(); s.listen(0, () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const r = await runCli(['eval', '--base-url', `http://127.0.0.1:${port}/v1`, '--name', 'm', '--data', DATA, '--tasks', 'mmlu', '--out', join(dir, 'remote')]);
  assertFinalError(r, new RegExp(`^llama3-zh eval: cannot reach http://127\\.0\\.0\\.1:${port}/v1: connection refused`));
});

test('eval against a llama.cpp-style server: its logprobs shape is read, a prompt over its context drops shots, one that never fits is skipped', async () => {
  const { createServer: createHttp } = await import('node:http');
  // Like llama.cpp's server: /v1/completions logprobs in the chat shape; 400 exceed_context_size_error for long prompts.
  const server = createHttp((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const { prompt } = JSON.parse(body) as { prompt: string };
      const tooLong = (prompt.match(/答案：/g) ?? []).length > 2 || prompt.includes('IPv4');
      if (tooLong) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 400, message: 'the request exceeds the available context size, try increasing it', type: 'exceed_context_size_error' } }));
        return;
      }
      const top = [{ id: 33, token: 'B', logprob: -0.1 }, { id: 32, token: 'A', logprob: -3 }, { id: 34, token: 'C', logprob: -4 }, { id: 35, token: 'D', logprob: -5 }];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, text: 'B', logprobs: { content: [{ id: 33, token: 'B', logprob: -0.1, top_logprobs: top }] } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const out = join(dir, 'llamacpp');
    const r = await runCli(['eval', '--base-url', `http://127.0.0.1:${port}/v1`, '--name', 'lcpp', '--data', DATA, '--tasks', 'ceval', '--subjects', 'computer_network', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(readFileSync(join(out, 'lcpp.json'), 'utf8'));
    const items = Object.values(res.tasks.ceval.items) as { id: string; prediction: string; shots?: number }[];
    // Every scored question got B from the chat-shaped logprobs, with one shot (two 答案： in all fit).
    assert.ok(items.length >= 1);
    assert.ok(items.every((x) => x.prediction === 'B' && x.shots === 1), JSON.stringify(items));
    // The IPv4 question never fits: skipped, said so, not scored.
    assert.ok(!items.some((x) => x.id === '1'));
    assert.ok(res.tasks.ceval.skipped.some((s: { line?: number; reason: string }) => s.line === 3 && /too long for the context even with no shots/.test(s.reason)), JSON.stringify(res.tasks.ceval.skipped));
  } finally {
    server.close();
  }
});
