import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { checkAdapter, checkFile, checkModel } from '../../src/gguf/validate.js';
import { writeCorpus, writeSmallModel } from '../helpers/ggufCorpus.js';
import { ValueType } from '../../src/gguf/types.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
import { redirectLora, testModel } from '../helpers/models.js';

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

test('an adapter is checked against the model it is loaded on, as llama-adapter.cpp does, and for what it does not check', async () => {
  const model = readGguf(await testModel({ seed: 1 }), { skipArrays: true }); // llama, 64 wide
  checkAdapter(readGguf(await redirectLora(64, 0, 5, 10)), model);
  const f32 = (name: string, dims: number[]) => ({ name, dims, type: 0, data: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)) });
  const adapter = async (name: string, arch: string, tensors: ReturnType<typeof f32>[]) => {
    const path = join(dir, `fit-${name}.gguf`);
    await writeGguf(path, [kv.str('general.architecture', arch), kv.str('general.type', 'adapter'), kv.str('adapter.type', 'lora')], tensors);
    return readGguf(path);
  };
  const q = 'blk.0.attn_q.weight';
  for (const [name, arch, tensors, pattern] of [
    ['3d', 'llama', [f32(`${q}.lora_a`, [64, 4, 2]), f32(`${q}.lora_b`, [4, 64, 2])], /its tensors for blk\.0\.attn_q\.weight have shapes \[64,4,2\] and \[4,64,2\], which do not fit the model's \[64,64\]/],
    ['narrow', 'llama', [f32(`${q}.lora_a`, [32, 4]), f32(`${q}.lora_b`, [4, 32])], /have shapes \[32,4\] and \[4,32\], which do not fit the model's \[64,64\]/],
    ['rank', 'llama', [f32(`${q}.lora_a`, [64, 4]), f32(`${q}.lora_b`, [3, 64])], /have shapes \[64,4\] and \[3,64\], which do not fit/],
    ['absent', 'llama', [f32('blk.9.attn_q.weight.lora_a', [64, 4]), f32('blk.9.attn_q.weight.lora_b', [4, 64])], /it changes tensor blk\.9\.attn_q\.weight, which the model does not have/],
    ['arch', 'qwen2', [f32(`${q}.lora_a`, [64, 4]), f32(`${q}.lora_b`, [4, 64])], /it is an adapter for "qwen2", but the model is "llama"/],
  ] as const) {
    const a = await adapter(name, arch, [...tensors]);
    checkAdapter(a);
    assert.throws(() => checkAdapter(a, model), (e: Error) => {
      assert.match(e.message, pattern, name);
      assert.ok(e.message.endsWith(`. It was made for another model; give an adapter trained for ${model.path}`), e.message);
      return true;
    }, name);
  }
});
