import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertOneLineError, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';
import { routedModel } from '../helpers/server.js';
import { appendLog, lfLine, writeRunFolder } from '../helpers/trainLog.js';

/** `llama3-zh serve --train-dir DIR` as a user starts it: the flag reaches the server and the banner says where to look. */

const root = mkdtempSync(join(tmpdir(), 'llama3-zh-serve-train-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('serve --train-dir DIR (repeatable) prints the training view\'s address and serves GET /api/train', async () => {
  const dir = join(root, 'sft');
  const { log } = writeRunFolder(dir, { recipe: 'sft-base-zh', stage: 'sft' });
  appendLog(log, lfLine(10, 100, { loss: 1.9, lr: 1e-4, epoch: 0.1 }));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'serve', await routedModel(), '--port', '0', '-t', '1', '-c', '512',
    '--train-dir', dir, '--train-dir', join(root, 'next')], { env: { ...process.env, LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('close', r));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d) => {
        stderr += d;
        const m = /training view: (http:\/\/[\d.]+:\d+)\/#train/.exec(stderr);
        if (m) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    assert.ok(stderr.includes(`training view: ${url}/#train (${dir}, ${join(root, 'next')})`));
    const runs = (await (await fetch(`${url}/api/train`)).json() as any).runs;
    assert.deepEqual(runs.map((r: any) => [r.id, r.recipe, r.status, r.lines]), [['sft', 'sft-base-zh', 'running', 1], ['next', undefined, 'waiting', 0]]);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0);
});

test('serve --train-dir with an empty value is a one-line error before anything loads', async () => {
  const r = await runCli(['serve', '--train-dir', '']);
  assertOneLineError(r, /^llama3-zh serve: --train-dir takes a run folder \(the DIR of `train init --out DIR`\)$/);
  assert.equal(r.code, 2);
});
