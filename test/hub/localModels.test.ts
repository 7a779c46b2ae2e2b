import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isPartialName, listLocalModels } from '../../src/hub/localModels.js';

function store(files: Record<string, number>): string {
  const root = mkdtempSync(join(tmpdir(), 'llama3-zh-store-'));
  for (const [rel, size] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), Buffer.alloc(size, 7));
  }
  return root;
}

test('lists GGUF files, model folders and unfinished downloads in the owner/name layout', () => {
  const root = store({
    'shareAI/llama3.1-8b-instruct-dpo-zh/x.gguf': 10,
    'org/hf-model/config.json': 2,
    'org/hf-model/model.safetensors': 100,
    'org/hf-model/.gitattributes': 1, // comes with every hub repo: part of the folder, not a partial file
    'org/hf-model/model-00002.safetensors.part': 5,
    'org/hf-model/gguf/q8.gguf': 30, // listed on its own, not counted in the folder
    'org/hf-model/.hidden-cache/blob': 999, // a dot-folder: not entered
    'org/half/.x.gguf.tmp': 4, // a dot-file: a partial download
    'loose.gguf': 3,
    'owner/stray.gguf': 6, // not in an owner/name folder: no repo
  });
  assert.deepEqual(listLocalModels(root), [
    { path: join(root, 'loose.gguf'), file: 'loose.gguf', kind: 'gguf', bytes: 3 },
    { path: join(root, 'org/half/.x.gguf.tmp'), repo: 'org/half', file: '.x.gguf.tmp', kind: 'partial', bytes: 4 },
    { path: join(root, 'org/hf-model'), repo: 'org/hf-model', kind: 'hf-folder', bytes: 103 },
    { path: join(root, 'org/hf-model/gguf/q8.gguf'), repo: 'org/hf-model', file: 'gguf/q8.gguf', kind: 'gguf', bytes: 30 },
    { path: join(root, 'org/hf-model/model-00002.safetensors.part'), repo: 'org/hf-model', file: 'model-00002.safetensors.part', kind: 'partial', bytes: 5 },
    { path: join(root, 'owner/stray.gguf'), file: 'owner/stray.gguf', kind: 'gguf', bytes: 6 },
    { path: join(root, 'shareAI/llama3.1-8b-instruct-dpo-zh/x.gguf'), repo: 'shareAI/llama3.1-8b-instruct-dpo-zh', file: 'x.gguf', kind: 'gguf', bytes: 10 },
  ]);
});

test('a missing store is empty; a symlink loop is walked once', () => {
  assert.deepEqual(listLocalModels(join(tmpdir(), 'llama3-zh-no-such-store')), []);
  const root = store({ 'a/b/m.gguf': 1 });
  symlinkSync(join(root, 'a'), join(root, 'a', 'b', 'loop'));
  symlinkSync(join(root, 'missing'), join(root, 'a', 'b', 'dangling.gguf'));
  assert.deepEqual(listLocalModels(root), [{ path: join(root, 'a/b/m.gguf'), repo: 'a/b', file: 'm.gguf', kind: 'gguf', bytes: 1 }]);
});

test('partial names', () => {
  assert.equal(isPartialName('model.safetensors.part'), true);
  assert.equal(isPartialName('.x.gguf.12345.tmp'), true);
  assert.equal(isPartialName('.gitattributes'), false);
  assert.equal(isPartialName('x.gguf'), false);
  assert.equal(isPartialName('part'), false);
});
