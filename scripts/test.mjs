// `npm test` after the build: node's test runner over dist/test/ (or the files given), two files at a time (on 2
// cores one file at a time left a core idle: 31 min against 15), with extra arguments passed on
// (`npm test -- --test-name-pattern=x`).
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

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
const dir = mkdtempSync(join(tmpdir(), 'llama3zh-test-'));
process.env.TMPDIR = dir;
// os.tmpdir() reads TEMP on Windows.
process.env.TEMP = process.env.TMP = dir;

function finish(code) {
  try {
    // Processes the tests started may still be ending: retry a moment rather than leave half a folder.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  } catch (e) {
    console.error(`npm test: could not remove its temp folder ${dir}: ${e.message}`);
  }
  process.exit(code);
}

let child;
let stoppedBy;
for (const s of Object.keys(SIGNALS)) {
  process.on(s, () => {
    // Before the runner starts, or a second Ctrl-C: stop now.
    if (!child || stoppedBy) { child?.kill('SIGKILL'); finish(128 + SIGNALS[s]); }
    stoppedBy = s;
    child.kill(s);
  });
}

if (!process.env.CHROMIUM_PATH && !existsSync('/usr/bin/chromium')) {
  try {
    const { default: chromium } = await import('@sparticuz/chromium');
    await chromium.executablePath();
  } catch (e) {
    console.error(`npm test: could not unpack the Chromium that @sparticuz/chromium ships: ${e.message}; run npm install`);
    finish(1);
  }
}

const args = process.argv.slice(2);
// Files or folders given: those; else the whole suite.
const files = args.some((a) => !a.startsWith('-') && /\.js$|\/$/.test(a)) ? [] : ['dist/test/'];
child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...args, ...files], { stdio: 'inherit' });
child.on('error', (e) => { console.error(`npm test: could not start node's test runner: ${e.message}`); finish(1); });
child.on('exit', (code, signal) => {
  const by = stoppedBy ?? signal;
  finish(by && SIGNALS[by] ? 128 + SIGNALS[by] : code ?? 1);
});
