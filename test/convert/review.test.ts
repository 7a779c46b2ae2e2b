import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';

/* Defects found in review of the converter, each pinned by the input that showed it. */

const root = realpathSync(mkdtempSync(join(tmpdir(), 'convert-review-')));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(root, `${name}-${n++}`);
const tiny = (extra: Record<string, unknown> = {}) =>
  writeTinyLlama(fresh('m'), { layers: 1, hidden: 32, heads: 2, kvHeads: 1, ff: 64, dtype: 'bf16', seed: 7, instruct: true, ...extra });

function editConfig(dir: string, patch: Record<string, unknown>) {
  const p = join(dir, 'config.json');
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), ...patch }, null, 2));
}

test('a config value over a GGUF uint32 is one clear line, not an internal error, and nothing is written', async () => {
  const m = tiny();
  editConfig(m.dir, { max_position_embeddings: 5_000_000_000 });
  const out = join(root, `huge-${n++}`);
  const r = await runCli(['convert', m.dir, '--out', join(out + '.gguf')]);
  assert.equal(r.code, 1);
  assertOneLineError(r, /"max_position_embeddings" is 5000000000, over the 4294967295 a GGUF can hold; fix config\.json$/);
  assert.deepEqual(readdirSync(root).filter((f) => f.includes('huge')), []);
});
