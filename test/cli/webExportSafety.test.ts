import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { routedModel } from '../helpers/server.js';

/** --force must never delete the model being exported, nor the folder the user stands in. */

let tmp: string;
let model: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'llama3zh-review19-'));
  model = await routedModel();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('web export . --model ./a.gguf --force in the models folder refuses, and the model and the other files stay', async () => {
  const models = join(tmp, 'models');
  mkdirSync(models);
  copyFileSync(model, join(models, 'a.gguf'));
  writeFileSync(join(models, 'b.gguf'), 'another model of mine');
  const r = await runCli(['web', 'export', '.', '--model', './a.gguf', '--force'], { cwd: models });
  const left = ['a.gguf', 'b.gguf'].filter((f) => existsSync(join(models, f)));
  assert.deepEqual(left, ['a.gguf', 'b.gguf'], `the user's models were deleted (exit ${r.code})`);
  assertOneLineError(r, /model|folder/);
});

test('web export DIR --force where DIR holds the model (given by its full path) keeps the model', async () => {
  const store = join(tmp, 'store');
  mkdirSync(store);
  copyFileSync(model, join(store, 'mine.gguf'));
  const r = await runCli(['web', 'export', store, '--model', join(store, 'mine.gguf'), '--force']);
  assert.ok(existsSync(join(store, 'mine.gguf')), `the source model was deleted by the export (exit ${r.code})`);
  assert.equal(readFileSync(join(store, 'mine.gguf')).length, readFileSync(model).length);
});
