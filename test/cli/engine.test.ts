import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';

const nlc = join(ROOT, 'node_modules', 'node-llama-cpp');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

test('engine status --json names the binary, the CPU library llama.cpp chose and what it can do', async () => {
  const r = await runCli(['engine', 'status', '--cpu', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  // Read independently: node-llama-cpp's own package files.
  assert.equal(info.nodeLlamaCpp, JSON.parse(readFileSync(join(nlc, 'package.json'), 'utf8')).version);
  const release = JSON.parse(readFileSync(join(nlc, 'llama', 'llama.cpp.info.json'), 'utf8'));
  assert.equal(info.llamaCpp, `${release.llamaCppGithubRepo} ${release.tag}`);
  assert.equal(info.build, 'prebuilt');
  assert.equal(info.gpu, 'none');
  assert.equal(info.threads, availableParallelism());
  assert.ok(info.mathCores >= 1);
  assert.equal(info.openmp, info.features.includes('OPENMP'));
  if (linuxX64) {
    const dir = join(ROOT, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
    assert.equal(info.binary, join(dir, 'llama-addon.node'));
    assert.deepEqual(info.cpuBackendsShipped, readdirSync(dir).filter((f) => /^libggml-cpu.*\.so$/.test(f)).sort());
    assert.ok(info.cpuBackendsShipped.includes(info.cpuBackend), info.cpuBackend);
    assert.ok(info.features.includes('SSE3'), info.features.join(' '));
    // A CPU with AVX2 must not get the baseline libraries: that would mean its instruction sets went undetected.
    const flags = readFileSync('/proc/cpuinfo', 'utf8');
    if (/\bavx2\b/.test(flags)) {
      assert.ok(!['libggml-cpu-x64.so', 'libggml-cpu-sse42.so'].includes(info.cpuBackend), info.cpuBackend);
      assert.ok(info.features.includes('AVX2'));
    }
    assert.equal(info.repack !== undefined, info.features.includes('AMX_INT8') || info.features.includes('REPACK'));
  }
});

test('engine status prints one line a fact; bad subcommands are one-line errors', async () => {
  const r = await runCli(['engine', 'status', '--cpu']);
  assert.equal(r.code, 0, r.stderr);
  const keys = r.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/)[0]);
  assert.deepEqual(keys, ['llama.cpp', 'binary', 'GPU', 'CPU library', 'CPU features', 'threads', 'thread pool', 'repacking', 'memory']);
  assert.match(r.stdout, /^GPU +none: the CPU runs every layer$/m);
  assert.match(r.stdout, new RegExp(`^threads +${availableParallelism()} by default \\(-t N\\)`, 'm'));
  assertOneLineError(await runCli(['engine', 'stats']), /unknown subcommand 'stats'; llama3-zh engine status/);
  assertOneLineError(await runCli(['engine', 'status', 'extra']), /engine status takes no arguments \(got 'extra'\)/);
  assertOneLineError(await runCli(['engine', 'status', '--gpu']), /unknown option --gpu; see 'llama3-zh engine --help'/);
  const help = await runCli(['engine', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^llama3-zh engine status \[--json\] \[--cpu\]/);
});
