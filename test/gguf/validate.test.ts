import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { checkFile, checkModel } from '../../src/gguf/validate.js';
import { writeCorpus, writeSmallModel } from '../helpers/ggufCorpus.js';
import { ValueType } from '../../src/gguf/types.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
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

test('files llama.cpp loads pass: several empty tokens, scores or token types longer than the vocabulary, an adapter with norm vectors', async () => {
  // llama-vocab.cpp names each empty token "[EMPTY_<id>]" and only refuses fewer scores / types than tokens;
  // llama-adapter.cpp skips *_norm.weight tensors of an adapter.
  const tokens = Array.from({ length: 64 }, (_, i) => (i === 10 || i === 11 ? '' : `t${i}`));
  const empties = await writeSmallModel(join(dir, 'empties.gguf'), { set: [kv.strs('tokenizer.ggml.tokens', tokens)] });
  const longer = await writeSmallModel(join(dir, 'longer.gguf'), { set: [kv.i32s('tokenizer.ggml.token_type', new Array(65).fill(1)), { key: 'tokenizer.ggml.scores', type: ValueType.ARRAY, itemType: ValueType.FLOAT32, value: new Array(66).fill(0) }] });
  for (const m of [empties, longer]) for (const skipArrays of [false, true]) checkFile(readGguf(m, { skipArrays }));
  const f32 = (name: string, dims: number[]) => ({ name, dims, type: 0, data: new Uint8Array(4 * dims[0] * (dims[1] ?? 1)) });
  const adapter = join(dir, 'adapter-norm.gguf');
  await writeGguf(adapter, [kv.str('general.architecture', 'llama'), kv.str('general.type', 'adapter'), kv.str('adapter.type', 'lora'), kv.f32('adapter.lora.alpha', 16)],
    [f32('blk.0.attn_q.weight.lora_a', [32, 4]), f32('blk.0.attn_q.weight.lora_b', [4, 32]), f32('blk.0.attn_norm.weight', [32])]);
  checkFile(readGguf(adapter));
});
