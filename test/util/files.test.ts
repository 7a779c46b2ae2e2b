import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'util-files-'));

/** Run `code` (an ES module) in a child process that imports dist/src as `S`; what it exits or dies by. */
function child(code: string) {
  const src = join(ROOT, 'dist', 'src');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const S = '${src}'; ${code}`], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

test('Ctrl-C during a write removes its temp file and still ends the process by the signal', () => {
  // Before: the process died at once and left .out.jsonl.<pid>.<n>.tmp, as big as the output so far.
  const r = child(`
    const { RowSink } = await import(S + '/data/io/sink.js');
    const sink = new RowSink(${JSON.stringify(join(dir, 'out.jsonl'))});
    for (let i = 0; i < 200000; i++) sink.write({ text: 'x'.repeat(40) });
    setTimeout(() => process.kill(process.pid, 'SIGINT'), 10);
    setTimeout(() => {}, 5000);
  `);
  assert.equal(r.signal, 'SIGINT', r.stderr);
  assert.deepEqual(readdirSync(dir), []);
});

test('a command that handles SIGINT itself keeps doing so; a temp file still open at exit is removed', () => {
  const r = child(`
    const { writeGguf } = await import(S + '/gguf/writer.js');
    process.on('SIGINT', () => { console.error('own handler'); process.exit(3); });
    const data = async (write) => { await write(new Uint8Array(64)); process.kill(process.pid, 'SIGINT'); await new Promise((r) => setTimeout(r, 5000)); await write(new Uint8Array(64)); };
    await writeGguf(${JSON.stringify(join(dir, 'm.gguf'))}, [], [{ name: 'x', dims: [32], type: 0, data }]);
  `);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr.trim(), 'own handler');
  assert.deepEqual(readdirSync(dir), []);
});
