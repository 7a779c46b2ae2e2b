// `npm test` after the build: node's test runner over dist/test/, two files at a time (on 2 cores one file at a
// time left a core idle: 31 min against 16), with extra arguments passed on (`npm test -- --test-name-pattern=x`).
//
// The run gets a temp folder of its own (TMPDIR), removed when it ends, however it ends: the tests write GBs of
// models, checkpoints and stores there, and a test that fails or is interrupted before its cleanup must not leave
// them in the system's temp folder run after run.
//
// Chromium for the page's tests, where the machine has none, is unpacked from @sparticuz/chromium into the temp
// folder on first use; it is unpacked here, once, because two test files starting at once would both write it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'llama3zh-test-'));
const clean = () => rmSync(dir, { recursive: true, force: true });
process.env.TMPDIR = dir;

if (!process.env.CHROMIUM_PATH && !existsSync('/usr/bin/chromium')) {
  try {
    const { default: chromium } = await import('@sparticuz/chromium');
    await chromium.executablePath();
  } catch (e) {
    clean();
    console.error(`npm test: could not unpack the Chromium that @sparticuz/chromium ships: ${e.message}; run npm install`);
    process.exit(1);
  }
}

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...process.argv.slice(2), 'dist/test/'], { stdio: 'inherit' });
// Ctrl-C reaches the runner too (same process group); the folder goes once it has stopped.
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
let stoppedBy;
for (const s of Object.keys(SIGNALS)) process.on(s, () => { stoppedBy = s; child.kill(s); });
child.on('exit', (code, signal) => {
  clean();
  const by = stoppedBy ?? signal;
  process.exit(by && SIGNALS[by] ? 128 + SIGNALS[by] : code ?? 1);
});
