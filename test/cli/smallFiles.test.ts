import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'small-files-'));

test('config.json, a template file or a messages file that is a FIFO or a device is refused at once', { timeout: 120_000 }, async () => {
  // Before: readFileSync blocked on the FIFO for ever, and read /dev/zero past 5 GB.
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const folders = { fifo: join(dir, 'hf-fifo'), zero: join(dir, 'hf-zero') };
  mkdirSync(folders.fifo);
  mkdirSync(folders.zero);
  symlinkSync(fifo, join(folders.fifo, 'config.json'));
  symlinkSync('/dev/zero', join(folders.zero, 'config.json'));
  const messages = join(dir, 'messages.json');
  writeFileSync(messages, '[{"role":"user","content":"hi"}]');
  const refused = (what: string) => new RegExp(`is not a regular file \\(a pipe, socket or device\\); give a ${what} on disk$`);
  for (const folder of Object.values(folders)) {
    assertOneLineError(await runCli(['estimate', folder]), refused('config\\.json'));
    assertOneLineError(await runCli(['extend-context', folder, '--ctx', '16384']), refused('config\\.json'));
  }
  for (const bad of [fifo, '/dev/zero']) {
    assertOneLineError(await runCli(['template', 'render', '--messages', bad, '--template', 'llama3']), refused('messages file'));
    assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--template-file', bad]), refused('template file'));
  }
});

test('a symbolic link loop or a path through a file is named as such, without the syscall Node names', async () => {
  const loop = join(dir, 'loop.jsonl');
  symlinkSync(join(dir, 'loop2'), loop);
  symlinkSync(loop, join(dir, 'loop2'));
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  // Before: "cannot read …: ELOOP: too many symbolic links encountered, stat '…'".
  assertOneLineError(await runCli(['data', 'stats', loop]), /^llama3-zh data: cannot read \S+loop\.jsonl: its symbolic links form a loop$/);
  assertOneLineError(await runCli(['gguf', 'inspect', loop]), /^llama3-zh gguf: cannot read \S+loop\.jsonl: its symbolic links form a loop$/);
  assertOneLineError(await runCli(['data', 'stats', join(file, 'x.jsonl')]), /^llama3-zh data: cannot read \S+plain\/x\.jsonl: a part of its path is not a folder$/);
});
