import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import llama3js from 'llama3-tokenizer-js';
import { LLAMA3_JINJA } from '../../src/chat/officialTemplates.js';
import { CHKTXT } from '../../src/convert/preTokenizers.js';
import { byteLevelRoundTrip, preTokenizerHash, pythonListStr, tokenizerMetadata, type TokenizerInfo } from '../../src/convert/tokenizer.js';
import { loadEngine } from '../../src/engine/load.js';
import { encode as llama3Encode, llama3TokenizerKVs } from '../../src/gguf/llama3Vocab.js';
import { type KV, TensorType } from '../../src/gguf/types.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
import { LLAMA31_JINJA_PATH, writeLlama3Tokenizer } from '../helpers/hfTokenizer.js';

const LLAMA_BPE_HASH = '0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5';
const ZH = '我想在apple工作1314151天～';

let root: string;
/** Meta-Llama-3-8B-Instruct's tokenizer folder, and what we make of it. */
let instructDir: string;
let instruct: TokenizerInfo;

const get = (info: TokenizerInfo, key: string) => info.kvs.find((m) => m.key === key)?.value;
const keys = (info: TokenizerInfo) => info.kvs.map((m) => m.key);
const folder = (name: string) => join(root, name);
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const jsTokenizer = (dir: string) => new Tokenizer(readJson(join(dir, 'tokenizer.json')), readJson(join(dir, 'tokenizer_config.json')));

/** A copy of the instruct folder with tokenizer.json and tokenizer_config.json edited. */
function variant(name: string, edit: { tokenizer?: (j: any) => void; config?: ((c: any) => void) | null }): string {
  const dir = folder(name);
  writeLlama3Tokenizer(dir, { instruct: true });
  if (edit.tokenizer) {
    const j = readJson(join(dir, 'tokenizer.json'));
    edit.tokenizer(j);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(j));
  }
  if (edit.config === null) rmSync(join(dir, 'tokenizer_config.json'));
  else if (edit.config) {
    const c = readJson(join(dir, 'tokenizer_config.json'));
    edit.config(c);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(c));
  }
  return dir;
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'llama3-zh-tok-'));
  instructDir = folder('instruct');
  writeLlama3Tokenizer(instructDir, { instruct: true });
  instruct = await tokenizerMetadata(instructDir);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('Meta-Llama-3-8B-Instruct: the keys llama.cpp writes, in its order', () => {
  assert.deepEqual(keys(instruct), [
    'tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges',
    'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_sep_token',
    'tokenizer.chat_template',
  ]);
  assert.equal(get(instruct, 'tokenizer.ggml.model'), 'gpt2');
  assert.equal(get(instruct, 'tokenizer.ggml.pre'), 'llama-bpe');
  assert.equal(get(instruct, 'tokenizer.ggml.bos_token_id'), 128000);
  assert.equal(get(instruct, 'tokenizer.ggml.eos_token_id'), 128009);
  assert.equal(get(instruct, 'tokenizer.ggml.add_bos_token'), true);
  // SpecialVocab reads TemplateProcessing's pair <bos> A <bos> B: the middle token is no sep, so add_sep is false.
  assert.equal(get(instruct, 'tokenizer.ggml.add_sep_token'), false);
  assert.equal(get(instruct, 'tokenizer.chat_template'), LLAMA3_JINJA);
  assert.equal(instruct.vocabSize, 128256);
  assert.deepEqual(instruct.eogIds, [128001, 128009]);
});

test('tokens, types and merges are llama3-tokenizer-js\'s vocabulary (Llama-3 names for the specials)', () => {
  const tokens = get(instruct, 'tokenizer.ggml.tokens') as string[];
  assert.deepEqual(tokens.slice(0, 128000), llama3js.vocabById.slice(0, 128000));
  assert.deepEqual([128000, 128001, 128002, 128004, 128006, 128007, 128008, 128009, 128010, 128255].map((i) => tokens[i]), [
    '<|begin_of_text|>', '<|end_of_text|>', '<|reserved_special_token_0|>', '<|reserved_special_token_2|>', '<|start_header_id|>',
    '<|end_header_id|>', '<|reserved_special_token_4|>', '<|eot_id|>', '<|reserved_special_token_5|>', '<|reserved_special_token_250|>',
  ]);
  const types = get(instruct, 'tokenizer.ggml.token_type') as number[];
  assert.deepEqual(types, [...Array(128000).fill(1), ...Array(256).fill(3)]);
  assert.deepEqual(get(instruct, 'tokenizer.ggml.merges'), [...llama3js.merges.keys()]);
});

test('Llama-3.1 with merges saved as pairs: the same tokens, types and merges as the GGUFs llama3-tokenizer-js describes', async () => {
  const dir = folder('llama31');
  writeLlama3Tokenizer(dir, { instruct: true, version: '3.1', merges: 'pairs' });
  assert.deepEqual(readJson(join(dir, 'tokenizer.json')).model.merges.slice(0, 2), [['Ġ', 'Ġ'], ['Ġ', 'ĠĠĠ']]);
  const info = await tokenizerMetadata(dir);
  const ref = new Map(llama3TokenizerKVs().map((m) => [m.key, m.value]));
  for (const key of ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges']) assert.deepEqual(get(info, key), ref.get(key), key);
  assert.deepEqual((get(info, 'tokenizer.ggml.tokens') as string[]).slice(128008, 128011), ['<|eom_id|>', '<|eot_id|>', '<|python_tag|>']);
  assert.equal(get(info, 'tokenizer.ggml.pre'), 'llama-bpe');
  assert.equal(get(info, 'tokenizer.chat_template'), readFileSync(LLAMA31_JINJA_PATH, 'utf8'));
  assert.deepEqual(info.eogIds, [128001, 128008, 128009]);
});

test('pre is llama-bpe by llama.cpp\'s own hash, and the hash counts the BOS that AutoTokenizer.encode adds', async () => {
  assert.equal(pythonListStr([128000, 198, 4815]), '[128000, 198, 4815]');
  assert.equal(pythonListStr([]), '[]');
  // chktxt exactly as base.py spells it: 350 code points, and the sha256 of its UTF-8 computed there with Python.
  assert.equal([...CHKTXT].length, 350);
  assert.equal(createHash('sha256').update(CHKTXT).digest('hex'), 'a36179c1e2b1cfcfbfad1dc779addad2ffc778201e4cf0d538bddeafa2c526da');
  assert.equal(preTokenizerHash(jsTokenizer(instructDir)), LLAMA_BPE_HASH);
  // Meta's first upload added no BOS: the same vocabulary then hashes to Smaug-Llama-3's tokenizer, which llama.cpp lists apart.
  const dir = folder('no-bos');
  writeLlama3Tokenizer(dir, { instruct: true, postProcessor: 'bytelevel' });
  const info = await tokenizerMetadata(dir);
  assert.equal(get(info, 'tokenizer.ggml.pre'), 'smaug-bpe');
  assert.equal(get(info, 'tokenizer.ggml.add_bos_token'), undefined);
});

test('base model: eos <|end_of_text|>, no chat template; a bare TemplateProcessing post_processor adds BOS the same', async () => {
  const dir = folder('base');
  writeLlama3Tokenizer(dir, { postProcessor: 'template' });
  const info = await tokenizerMetadata(dir);
  assert.equal(get(info, 'tokenizer.ggml.eos_token_id'), 128001);
  assert.equal(get(info, 'tokenizer.ggml.add_bos_token'), true);
  assert.equal(get(info, 'tokenizer.chat_template'), undefined);
  assert.deepEqual(info.eogIds, [128001, 128009]);
});

test('config.json vocab_size larger than the tokenizer: [PAD{i}] tokens of type UNUSED, as get_vocab_base writes', async () => {
  const info = await tokenizerMetadata(instructDir, { vocabSize: 128260 });
  assert.equal(info.vocabSize, 128260);
  assert.deepEqual((get(info, 'tokenizer.ggml.tokens') as string[]).slice(128255), ['<|reserved_special_token_250|>', '[PAD128256]', '[PAD128257]', '[PAD128258]', '[PAD128259]']);
  assert.deepEqual((get(info, 'tokenizer.ggml.token_type') as number[]).slice(128255), [3, 5, 5, 5, 5]);
  await assert.rejects(tokenizerMetadata(instructDir, { vocabSize: 128000 }), {
    name: 'UserError',
    message: `config.json's vocab_size 128000 is smaller than the tokenizer, whose largest token id is 128255; the model and ${join(instructDir, 'tokenizer.json')} do not belong together`,
  });
});

test('added tokens: non-special ones are USER_DEFINED with their text byte-decoded (non-normalized) or ▁ as space; <|…|> looks special', async () => {
  const dir = variant('added', {
    tokenizer: (j) => {
      const t = (id: number, content: string, special: boolean, normalized: boolean) =>
        ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized, special });
      j.added_tokens.push(t(128256, 'Ġ你好', false, false), t(128257, 'a▁b', false, true), t(128258, '<|tool|>', false, false), t(128259, '中文 词', false, false));
    },
  });
  const info = await tokenizerMetadata(dir);
  assert.deepEqual((get(info, 'tokenizer.ggml.tokens') as string[]).slice(128256), ['Ġ你好', 'a b', '<|tool|>', '中文 词']);
  assert.deepEqual((get(info, 'tokenizer.ggml.token_type') as number[]).slice(128256), [4, 4, 3, 4]);
  // The ByteLevel decoder turns a text made only of byte stand-ins into its bytes, and leaves any other text alone.
  assert.equal(byteLevelRoundTrip('ĠHello', false), ' Hello');
  assert.equal(byteLevelRoundTrip('ä¸Ńæĸĩ', false), '中文');
  assert.equal(byteLevelRoundTrip('é', false), '\uFFFD');
  assert.equal(byteLevelRoundTrip('ĠhelloĠ.', true), ' hello.');
});

test('bos/eos come from config.json where tokenizer_config.json has none; without tokenizer_config.json add_bos still follows the template', async () => {
  const dir = variant('config-ids', { config: (c) => { delete c.eos_token; } });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], pad_token_id: 128004 }));
  const info = await tokenizerMetadata(dir);
  assert.equal(get(info, 'tokenizer.ggml.eos_token_id'), undefined); // a list is not an id: SpecialVocab skips it
  assert.equal(get(info, 'tokenizer.ggml.padding_token_id'), 128004);
  assert.deepEqual(keys(info).slice(5), ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.padding_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_sep_token', 'tokenizer.chat_template']);

  const bare = variant('no-config', { config: null });
  writeFileSync(join(bare, 'config.json'), JSON.stringify({ bos_token_id: 128000, eos_token_id: 128001 }));
  const b = await tokenizerMetadata(bare);
  assert.deepEqual(keys(b).slice(5), ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_sep_token']);
  assert.equal(get(b, 'tokenizer.ggml.add_bos_token'), true);
  assert.equal(get(b, 'tokenizer.chat_template'), undefined);
  assert.equal(get(b, 'tokenizer.ggml.eos_token_id'), 128001);
});

test('chat template: tokenizer_config.json\'s wins over chat_template.jinja, which is used otherwise; a list becomes named templates', async () => {
  writeFileSync(join(instructDir, 'chat_template.jinja'), 'FROM JINJA');
  try {
    assert.equal(get(await tokenizerMetadata(instructDir), 'tokenizer.chat_template'), LLAMA3_JINJA);
  } finally {
    rmSync(join(instructDir, 'chat_template.jinja'));
  }
  const jinja = folder('jinja');
  writeLlama3Tokenizer(jinja);
  writeFileSync(join(jinja, 'chat_template.jinja'), 'FROM JINJA');
  assert.equal(get(await tokenizerMetadata(jinja), 'tokenizer.chat_template'), 'FROM JINJA');

  const list = variant('list', { config: (c) => { c.chat_template = [{ name: 'default', template: 'D' }, { name: 'tool use', template: 'T' }, { name: 'rag', template: 'R' }]; } });
  const info = await tokenizerMetadata(list);
  assert.deepEqual(info.kvs.slice(-4).map((m: KV) => [m.key, m.value]), [
    ['tokenizer.chat_template.tool_use', 'T'], ['tokenizer.chat_template.rag', 'R'], ['tokenizer.chat_templates', ['tool_use', 'rag']], ['tokenizer.chat_template', 'D'],
  ]);
});

test('a tokenizer llama.cpp does not recognise is an error naming its hash', async () => {
  const dir = variant('unknown', {
    tokenizer: (j) => { j.pre_tokenizer.pretokenizers[0].pattern.Regex = j.pre_tokenizer.pretokenizers[0].pattern.Regex.replace('\\p{N}{1,3}', '\\p{N}'); },
  });
  const hash = preTokenizerHash(jsTokenizer(dir));
  assert.notEqual(hash, LLAMA_BPE_HASH);
  await assert.rejects(tokenizerMetadata(dir), {
    name: 'UserError',
    message: `the tokenizer in ${dir} is not one llama.cpp recognises (pre-tokenizer hash ${hash}), so its GGUF would tokenize wrongly; use the base model's own tokenizer.json and tokenizer_config.json (a Llama-3 one hashes to llama-bpe)`,
  });
});

test('bad tokenizer folders: one line each, saying what to do', async () => {
  const spm = folder('spm');
  writeLlama3Tokenizer(spm);
  rmSync(join(spm, 'tokenizer.json'));
  writeFileSync(join(spm, 'tokenizer.model'), 'sentencepiece');
  await assert.rejects(tokenizerMetadata(spm), { name: 'UserError', message: `${spm} has a sentencepiece tokenizer.model and no tokenizer.json: llama3-zh converts Llama-3 folders (byte-level BPE in tokenizer.json); convert this model with llama.cpp's convert_hf_to_gguf.py` });
  rmSync(join(spm, 'tokenizer.model'));
  await assert.rejects(tokenizerMetadata(spm), { name: 'UserError', message: `${spm} has no tokenizer.json; copy the model's tokenizer.json and tokenizer_config.json into it (llama3-zh converts Llama-3 BPE tokenizers)` });

  const broken = '{"model": {"type": "BPE", "vocab": {';
  writeFileSync(join(spm, 'tokenizer.json'), broken);
  let parseMessage = '';
  try { JSON.parse(broken); } catch (e) { parseMessage = (e as Error).message; }
  const tj = join(spm, 'tokenizer.json');
  await assert.rejects(tokenizerMetadata(spm), { name: 'UserError', message: `${tj} is not valid JSON (${parseMessage}); download the model's own tokenizer.json again` });

  writeFileSync(tj, JSON.stringify({ model: { type: 'Unigram', vocab: [['<unk>', 0]] }, pre_tokenizer: { type: 'Metaspace' } }));
  await assert.rejects(tokenizerMetadata(spm), { name: 'UserError', message: `${tj}: the tokenizer model is "Unigram", not BPE; llama3-zh converts Llama-3 (byte-level BPE) tokenizers` });

  // Llama-2's tokenizer.json: BPE with byte fallback and ▁ for spaces, no ByteLevel.
  writeFileSync(tj, JSON.stringify({
    model: { type: 'BPE', byte_fallback: true, vocab: { '<unk>': 0, '<s>': 1, '</s>': 2 }, merges: [] },
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
  }));
  await assert.rejects(tokenizerMetadata(spm), { name: 'UserError', message: `${tj} is a sentencepiece-style BPE (Llama-2/Mistral), not Llama-3's byte-level BPE: llama3-zh converts Llama-3 tokenizers; convert this model with llama.cpp's convert_hf_to_gguf.py` });

  for (const [field, name] of [['bos_token', '<s>'], ['eos_token', '<|im_end|>']]) {
    const dir = folder(`missing-${field}`);
    writeLlama3Tokenizer(dir, { instruct: true });
    const c = readJson(join(dir, 'tokenizer_config.json'));
    c[field] = name;
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(c));
    await assert.rejects(tokenizerMetadata(dir), {
      name: 'UserError',
      message: `${join(dir, 'tokenizer_config.json')}: ${field} ${JSON.stringify(name)} is not a token of tokenizer.json; set it to one of its tokens (Llama-3: <|begin_of_text|>, <|end_of_text|>, <|eot_id|>)`,
    });
  }
});

test('a GGUF with these keys loads in llama.cpp and tokenizes as Hugging Face and llama3-tokenizer-js do', async () => {
  const embd = 64, ff = 128, heads = 4, vocab = instruct.vocabSize;
  const f16 = (n: number) => new Uint8Array(n * 2);
  const ones = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);
  const path = join(root, 'tok.gguf');
  await writeGguf(path, [
    kv.str('general.architecture', 'llama'),
    kv.str('general.name', 'tokenizer test'),
    kv.u32('llama.context_length', 256),
    kv.u32('llama.embedding_length', embd),
    kv.u32('llama.block_count', 1),
    kv.u32('llama.feed_forward_length', ff),
    kv.u32('llama.attention.head_count', heads),
    kv.u32('llama.attention.head_count_kv', heads),
    kv.u32('llama.rope.dimension_count', embd / heads),
    kv.f32('llama.rope.freq_base', 500000),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.u32('llama.vocab_size', vocab),
    ...instruct.kvs,
  ], [
    { name: 'token_embd.weight', dims: [embd, vocab], type: TensorType.F16, data: f16(embd * vocab) },
    { name: 'output_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    { name: 'blk.0.attn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    ...['attn_q', 'attn_k', 'attn_v', 'attn_output'].map((n) => ({ name: `blk.0.${n}.weight`, dims: [embd, embd], type: TensorType.F16, data: f16(embd * embd) })),
    { name: 'blk.0.ffn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) },
    { name: 'blk.0.ffn_gate.weight', dims: [embd, ff], type: TensorType.F16, data: f16(embd * ff) },
    { name: 'blk.0.ffn_up.weight', dims: [embd, ff], type: TensorType.F16, data: f16(embd * ff) },
    { name: 'blk.0.ffn_down.weight', dims: [ff, embd], type: TensorType.F16, data: f16(embd * ff) },
  ]);
  const engine = await loadEngine({ modelPath: path, threads: 1, contextSize: 256 });
  try {
    const hf = jsTokenizer(instructDir);
    const expected = [37046, 101067, 19000, 23182, 102301, 9263, 18136, 16, 36827, 21909];
    assert.deepEqual(hf.encode(ZH, { add_special_tokens: false }).ids, expected);
    assert.deepEqual(llama3Encode(ZH), expected);
    assert.deepEqual(engine.tokenize(ZH), expected);
    assert.deepEqual(hf.encode(ZH).ids, [128000, ...expected]);
    // The whole fingerprint text, every piece of the llama-bpe pre-tokenizer at once.
    assert.deepEqual(engine.tokenize(CHKTXT), hf.encode(CHKTXT, { add_special_tokens: false }).ids);
    assert.equal(engine.info.addBos, true);
    assert.equal(engine.info.bosId, 128000);
    assert.equal(engine.info.bosToken, '<|begin_of_text|>');
    assert.equal(engine.info.eosToken, '<|eot_id|>');
    assert.deepEqual(engine.tokenize('apple<|eot_id|>', true), [23182, 128009]);
    assert.equal(engine.detokenize(expected), ZH);
    assert.equal(engine.info.vocabSize, 128256);
    assert.equal(engine.info.chatTemplate, LLAMA3_JINJA);
    assert.equal(engine.specialTokenId('<|eot_id|>'), 128009);
    assert.deepEqual(engine.tokenize('<|start_header_id|>user<|end_header_id|>\n\n', true), [128006, 882, 128007, 271]);
  } finally {
    await engine.close();
  }
});
