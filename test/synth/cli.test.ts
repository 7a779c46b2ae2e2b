import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { CALL, PARALLEL } from './replies.js';

const dir = mkdtempSync(join(tmpdir(), 'synth-cli-'));

test('gguf synth with --fallback and a --route to parallel calls: chat says each exactly', async () => {
  const out = join(dir, 'call.gguf');
  const r = await runCli(['gguf', 'synth', '--out', out, '--reply', '我不知道。', '--fallback', CALL, '--route', `猫=${PARALLEL}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^wrote .*call\.gguf: tiny \(1 layer × \d+\), f16, scripted \(\d+ programmed positions, \d+ context offsets, 1 routes\) in \d+\.\d s$/m);
  const chat = async (q: string) => (await runCli(['chat', '-m', out, '-p', q, '--temperature', '0', '-t', '1'])).stdout.trim();
  assert.equal(await chat('你好'), '我不知道。');
  assert.equal(await chat('北京和上海的猫'), PARALLEL);
  assertOneLineError(await runCli(['gguf', 'synth', '--out', join(dir, 'x.gguf'), '--fallback', 'x']), /--fallback needs --reply \(it applies to scripted models\)/);
  assertOneLineError(await runCli(['gguf', 'synth', '--out', join(dir, 'x.gguf'), '--reply', 'ha ha ha', '--preset', '1b']),
    /a scripted model whose replies repeat tokens \(or that has a fallback\) is made with --preset tiny only/);
});
