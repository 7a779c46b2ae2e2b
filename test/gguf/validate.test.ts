import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { checkFile, checkModel } from '../../src/gguf/validate.js';
import { writeCorpus } from '../helpers/ggufCorpus.js';
import { testModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-validate-'));

test('the corpus base and the synthesized models pass the validator', async () => {
  const { base } = await writeCorpus(dir);
  checkFile(readGguf(base));
  checkModel(readGguf(base, { skipArrays: true }));
  for (const m of [await testModel({ seed: 1 }), await testModel({ reply: '好的', stop: 'eot' })]) checkModel(readGguf(m, { skipArrays: true }));
});

test('every damaged file of the corpus is refused, naming what is wrong, whether arrays are decoded or not', async () => {
  const { files } = await writeCorpus(dir);
  for (const f of files) {
    const bytes = readFileSync(f.path);
    for (const skipArrays of [false, true]) {
      assert.throws(() => checkFile(readGguf(f.path, { skipArrays })), (e: Error) => {
        assert.equal(e.name, 'GgufError', `${f.name}: ${e.stack}`);
        assert.ok(e.message.startsWith(`${f.path}: `), `${f.name}: ${e.message}`);
        assert.match(e.message.slice(f.path.length + 2), f.pattern, f.name);
        assert.doesNotMatch(e.message, /\n/, f.name);
        return true;
      }, f.name);
    }
    assert.ok(readFileSync(f.path).equals(bytes), f.name);
  }
});
