import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { promptTokens } from '../../src/chat/conversation.js';
import { loadEngine } from '../../src/engine/load.js';
import type { ModelInfo } from '../../src/engine/types.js';
import { encodeF32 } from '../../src/gguf/numbers.js';
import { readGguf } from '../../src/gguf/reader.js';
import { TensorType, ValueType } from '../../src/gguf/types.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { writeSmallModel } from '../helpers/ggufCorpus.js';
import { redirectLora, testModel } from '../helpers/models.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'extend-context-')));
let n = 0;

async function tinyCopy(): Promise<string> {
  const path = join(dir, `m${n++}.gguf`);
  copyFileSync(await testModel({ seed: 3 }), path);
  return path;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const dataHash = (path: string) => {
  const f = readGguf(path, { skipArrays: true });
  return createHash('sha256').update(readFileSync(path).subarray(f.dataOffset)).digest('hex');
};
const noTempFiles = (d: string) => assert.deepEqual(readdirSync(d).filter((f) => f.endsWith('.tmp')), [], `temp files left in ${d}`);

/** Load briefly (small context) and return what the engine reports, and next-token log-probabilities of a prompt. */
async function probe(path: string, ropeFreqBase?: number): Promise<{ info: ModelInfo; logprobs: number[] }> {
  const e = await loadEngine({ modelPath: path, threads: 1, contextSize: 256, ropeFreqBase });
  try {
    const prompt = promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: '请用一句话解释一下什么是旋转位置编码' }]));
    return { info: e.info, logprobs: await e.nextTokenLogprobs(prompt, [0, 100, 1000, 30000]) };
  } finally {
    await e.close();
  }
}

test('a GGUF is patched in place, loads with the new context, and equals the run-time override', async () => {
  const path = await tinyCopy();
  const original = join(dir, 'original.gguf');
  copyFileSync(path, original);
  const data = dataHash(path);
  const r = await runCli(['extend-context', path, '--ctx', '32768']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.deepEqual(lines.slice(0, 3), [
    `${path} (GGUF, llama)`,
    '  llama.context_length   8192 → 32768',
    '  llama.rope.freq_base   500000 → 1000000  (the default for 32768 tokens)',
  ]);
  assert.match(lines[3], new RegExp(`^patched \\d+ bytes in place at offset \\d+ of ${path}$`));
  assert.equal(r.stderr, '');
  assert.equal(readFileSync(path).length, readFileSync(original).length);
  assert.equal(dataHash(path), data);
  const f = readGguf(path, { skipArrays: true });
  assert.deepEqual(f.metadata.get('llama.context_length'), { key: 'llama.context_length', type: ValueType.UINT32, value: 32768 });
  assert.deepEqual(f.metadata.get('llama.rope.freq_base'), { key: 'llama.rope.freq_base', type: ValueType.FLOAT32, value: 1_000_000 });

  const edited = await probe(path);
  assert.equal(edited.info.trainContextSize, 32768);
  assert.equal(edited.info.ropeFreqBase, 1_000_000);
  assert.equal(edited.info.contextSize, 256);
  // The edited file computes exactly what the untouched one does with --rope-freq-base 1000000, and not what it does without.
  const overridden = await probe(original, 1_000_000);
  const plain = await probe(original);
  assert.equal(overridden.info.ropeFreqBase, 1_000_000);
  assert.equal(plain.info.ropeFreqBase, 500000);
  assert.deepEqual(edited.logprobs, overridden.logprobs);
  assert.notDeepEqual(edited.logprobs, plain.logprobs);
});

test('--rope-freq-base at run time reaches llama.cpp as a float: its log shows the base in use', async () => {
  const path = await tinyCopy();
  const base = async (m: string, ...flags: string[]) => {
    const r = await runCli(['chat', '-m', m, '-p', 'hi', '-n', '1', '-t', '1', '-c', '256', '--temperature', '0', ...flags], { env: { LLAMA3ZH_LOG: 'debug' } });
    assert.equal(r.code, 0, r.stderr);
    return [/n_ctx_train += (\d+)/.exec(r.stderr)?.[1], /llama_context: freq_base += ([\d.]+)/.exec(r.stderr)?.[1]];
  };
  assert.deepEqual(await base(path), ['8192', '500000.0']);
  // A whole number: node-llama-cpp would send it as an int, which llama.cpp ignores for this float key.
  assert.deepEqual(await base(path, '--rope-freq-base', '1000000'), ['8192', '1000000.0']);
  assert.equal((await runCli(['extend-context', path, '--ctx', '65536'])).code, 0);
  assert.deepEqual(await base(path), ['65536', '4000000.0']);
});

test('a GGUF without a RoPE base gets one: the file is rewritten, tensor data untouched, and loads', async () => {
  const path = await tinyCopy();
  const data = dataHash(path);
  const del = await runCli(['gguf', 'set', path, '--delete', 'llama.rope.freq_base']);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /^llama\.rope\.freq_base: deleted \(was f32 500000\)\nwrote .*: a new header of 7\.5 MiB, tensor data copied untouched \(31\.5 MiB\)\n$/);
  assert.equal(readGguf(path, { skipArrays: true }).metadata.has('llama.rope.freq_base'), false);
  const r = await runCli(['extend-context', path, '--ctx', '16384']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout,
    `${path} (GGUF, llama)\n` +
    '  llama.context_length   8192 → 16384\n' +
    '  llama.rope.freq_base   (none; llama.cpp uses 10000) → 1000000  (the default for 16384 tokens)\n' +
    `wrote ${path}: a new header of 7.5 MiB, tensor data copied untouched (31.5 MiB)\n`);
  const f = readGguf(path, { skipArrays: true });
  assert.deepEqual(f.metadata.get('llama.rope.freq_base'), { key: 'llama.rope.freq_base', type: ValueType.FLOAT32, value: 1_000_000 });
  assert.equal(f.dataOffset % 32, 0);
  assert.equal(dataHash(path), data);
  const { info } = await probe(path);
  assert.equal(info.trainContextSize, 16384);
  assert.equal(info.ropeFreqBase, 1_000_000);
  noTempFiles(dir);
});

test('--dry-run writes nothing; --out leaves the original alone and needs --force to replace a file', async () => {
  const path = await tinyCopy();
  const before = sha(path);
  const dry = await runCli(['extend-context', path, '--ctx', '98304', '--dry-run']);
  assert.equal(dry.stdout,
    `${path} (GGUF, llama)\n  llama.context_length   8192 → 98304\n  llama.rope.freq_base   500000 → 4000000  (the default for 98304 tokens)\ndry run: nothing written\n`);
  assert.equal(sha(path), before);
  const out = join(dir, 'out-32k.gguf');
  const r = await runCli(['extend-context', path, '--ctx', '32768', '--rope-theta', '4000000', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /llama\.rope\.freq_base   500000 → 4000000  \(--rope-theta\)\nwrote .*out-32k\.gguf: a new header/);
  assert.equal(sha(path), before);
  assert.equal(readGguf(out, { skipArrays: true }).metadata.get('llama.rope.freq_base')?.value, 4_000_000);
  assert.equal(dataHash(out), dataHash(path));
  assertOneLineError(await runCli(['extend-context', path, '--ctx', '32768', '--out', out]), /out-32k\.gguf already exists; pass --force to replace it/);
  assert.equal((await runCli(['extend-context', path, '--ctx', '16384', '--out', out, '--force'])).code, 0);
  assert.equal(readGguf(out, { skipArrays: true }).metadata.get('llama.context_length')?.value, 16384);
  // --out naming the model itself (as a file, its folder, or a link) is refused: --out leaves MODEL alone.
  const link = join(dir, 'link-to-model.gguf');
  symlinkSync(path, link);
  for (const o of [path, dirname(path), link]) {
    assertOneLineError(await runCli(['extend-context', path, '--ctx', '32768', '--out', o]), /--out .* is .* itself; give another path, or leave --out away/);
    assertOneLineError(await runCli(['gguf', 'set', path, 'general.name=y', '--out', o]), /--out .* is .* itself; give another path/);
  }
  assert.equal(sha(path), before);
  // --out naming a folder writes the model's file name inside it.
  mkdirSync(join(dir, 'outdir'));
  assert.equal((await runCli(['gguf', 'set', path, 'general.name=x', '--out', join(dir, 'outdir')])).code, 0);
  assert.equal(readGguf(join(dir, 'outdir', basename(path)), { skipArrays: true }).metadata.get('general.name')?.value, 'x');
  assert.equal(sha(path), before);
  noTempFiles(dir);
});

test('gguf set: old → new with types, in place or rewritten; bad values are one-line errors', async () => {
  const path = await tinyCopy();
  const r = await runCli(['gguf', 'set', path, 'llama.context_length=1e6', 'general.type=MODEL']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^llama\.context_length \(u32\): 8192 → 1000000\ngeneral\.type \(str\): "model" → "MODEL"\npatched \d+ bytes in place at offset \d+ of /);
  const add = await runCli(['gguf', 'set', path, 'my.theta:f64=0.1', 'general.type=model']);
  assert.match(add.stdout, /^my\.theta \(new f64\): 0\.1\ngeneral\.type \(str\): "MODEL" → "model"\nwrote /);
  assert.equal(readGguf(path, { skipArrays: true }).metadata.get('my.theta')?.type, ValueType.FLOAT64);
  const before = sha(path);
  const bad: [string[], RegExp][] = [
    [['llama.context_length=1.5'], /^llama3-zh gguf: llama\.context_length is u32: 1\.5 is not a whole number$/],
    [['llama.context_length=-1'], /llama\.context_length is u32: -1 is out of range \(0 to 4294967295\)/],
    [['llama.rope.freq_base=abc'], /llama\.rope\.freq_base is f32: "abc" is not a number/],
    [['new.key=1'], /new\.key is not in .*; to add it, give its type: new\.key:TYPE=1/],
    [['new.key:float=1'], /unknown type "float" in "new\.key:float=1"; use one of u8, i8, u16/],
    [['tokenizer.ggml.tokens=a'], /tokenizer\.ggml\.tokens is an array \(128256 items of str\); gguf set changes single values only/],
    [['general.alignment=64'], /general\.alignment cannot be edited/],
    [['oops'], /"oops" is not KEY=VALUE/],
    [[], /usage: llama3-zh gguf set FILE KEY=VALUE/],
  ];
  for (const [args, pattern] of bad) {
    const e = await runCli(['gguf', 'set', path, ...args]);
    assertOneLineError(e, pattern);
    assert.equal(e.code, 2);
  }
  assert.equal(sha(path), before);
  assertOneLineError(await runCli(['gguf', 'set', join(dir, 'missing.gguf'), 'a=1']), /no such GGUF file: .*missing\.gguf$/);
  writeFileSync(join(dir, 'notes.txt'), 'hello, not a model');
  assertOneLineError(await runCli(['gguf', 'set', join(dir, 'notes.txt'), 'a=1']), /notes\.txt: not a GGUF file/);
  assertOneLineError(await runCli(['gguf', 'set', path, 'general.name=a longer name', '--out', join(dir, 'no', 'such', 'x.gguf')]), /cannot write .*x\.gguf: its folder does not exist/);
  assert.equal(sha(path), before);
  noTempFiles(dir);
});

test('a Llama-3.1 GGUF (rope_freqs): nothing to change at 32K, --rope-theta refused, a larger context raises only the length', async () => {
  const path = join(dir, 'l31.gguf');
  await writeSmallModel(path, {
    set: [kv.u32('llama.context_length', 131072)],
    tensors: (t) => [...t, { name: 'rope_freqs.weight', dims: [4], type: TensorType.F32, data: encodeF32(new Float32Array(4).fill(1)) }],
  });
  const before = sha(path);
  const same = await runCli(['extend-context', path, '--ctx', '32768']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.stdout, `${path} (GGUF, llama)\n`);
  assert.equal(same.stderr, 'note: this model already handles 131072 tokens with its RoPE scaling (Llama-3.1 style rope_freqs factors); nothing to change. Use --ctx-size at run time for a smaller window\n');
  const theta = await runCli(['extend-context', path, '--ctx', '32768', '--rope-theta', '1000000']);
  assertOneLineError(theta, /already uses RoPE scaling \(Llama-3\.1 style rope_freqs factors\) trained on llama\.rope\.freq_base 500000; another base would break it\. Leave out --rope-theta/);
  assert.equal(theta.code, 2);
  assert.equal(sha(path), before);
  const more = await runCli(['extend-context', path, '--ctx', '262144']);
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stdout, /^ {2}llama\.context_length {3}131072 → 262144\npatched 1 byte in place/m);
  assert.doesNotMatch(more.stdout, /freq_base/);
  assert.match(more.stderr, /^note: RoPE scaling kept as it is \(Llama-3\.1 style rope_freqs factors\); positions beyond 131072 were never trained$/m);
  assert.equal(readGguf(path).metadata.get('llama.rope.freq_base')?.value, 500000);
});

/** config.json of Meta-Llama-3-8B-Instruct, as transformers writes it (sorted keys, 2 spaces, Python floats). */
const LLAMA3_CONFIG = `{
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128009,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 8192,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
`;

/** Llama-3.1-8B-Instruct's: 131072 positions through "llama3" RoPE scaling over 8192. */
const LLAMA31_CONFIG = `{
  "architectures": [
    "LlamaForCausalLM"
  ],
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "max_position_embeddings": 131072,
  "model_type": "llama",
  "rope_scaling": {
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "vocab_size": 128256
}
`;

function hfFolder(name: string, config: string, files: string[] = []): string {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'config.json'), config);
  for (const f of files) writeFileSync(join(d, f), `${f} bytes`);
  return d;
}

test('a Hugging Face folder: only the two values change in config.json, the backup is made once', async () => {
  const d = hfFolder('llama3', LLAMA3_CONFIG, ['model.safetensors', 'tokenizer.json']);
  const cfg = join(d, 'config.json');
  const r = await runCli(['extend-context', d, '--ctx', '32768']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout,
    `${cfg}\n` +
    '  max_position_embeddings   8192 → 32768\n' +
    '  rope_theta                500000 → 1000000  (the default for 32768 tokens)\n' +
    `kept the original as ${cfg}.orig; wrote ${cfg}\n`);
  assert.equal(readFileSync(cfg, 'utf8'), LLAMA3_CONFIG.replace('"max_position_embeddings": 8192', '"max_position_embeddings": 32768').replace('"rope_theta": 500000.0', '"rope_theta": 1000000.0'));
  assert.equal(readFileSync(`${cfg}.orig`, 'utf8'), LLAMA3_CONFIG);
  // A second run (to 96K, the README's other example) keeps the first backup: it holds the true original.
  const again = await runCli(['extend-context', `${d}/config.json`, '--ctx', '98304']);
  assert.match(again.stdout, /rope_theta {16}1000000 → 4000000 {2}\(the default for 98304 tokens\)\n.*config\.json\.orig already holds the original \(kept\); wrote /);
  assert.equal(readFileSync(`${cfg}.orig`, 'utf8'), LLAMA3_CONFIG);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(cfg, 'utf8'))), Object.keys(JSON.parse(LLAMA3_CONFIG)));
  assert.equal(JSON.parse(readFileSync(cfg, 'utf8')).max_position_embeddings, 98304);
  // --dry-run changes nothing.
  const text = readFileSync(cfg, 'utf8');
  assert.equal((await runCli(['extend-context', d, '--ctx', '131072', '--dry-run'])).stdout, `${cfg}\n  max_position_embeddings   98304 → 131072\ndry run: nothing written\n`);
  assert.equal(readFileSync(cfg, 'utf8'), text);
  assert.deepEqual(readdirSync(d).sort(), ['config.json', 'config.json.orig', 'model.safetensors', 'tokenizer.json']);
});

test('a config without rope_theta gets it where sorted order puts it', async () => {
  const d = hfFolder('no-theta', LLAMA3_CONFIG.replace('  "rope_theta": 500000.0,\n', ''));
  const r = await runCli(['extend-context', d, '--ctx', '32768', '--rope-theta', '2000000']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rope_theta {16}\(none; transformers uses 10000\) → 2000000 {2}\(--rope-theta\)/);
  assert.equal(readFileSync(join(d, 'config.json'), 'utf8'),
    LLAMA3_CONFIG.replace('"max_position_embeddings": 8192', '"max_position_embeddings": 32768').replace('"rope_theta": 500000.0', '"rope_theta": 2000000.0'));
});

test('Llama-3.1 rope_scaling in config.json is respected', async () => {
  const d = hfFolder('llama31', LLAMA31_CONFIG);
  const cfg = join(d, 'config.json');
  const same = await runCli(['extend-context', d, '--ctx', '32768']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.stderr, 'note: this model already handles 131072 tokens with its RoPE scaling (rope_type llama3, factor 8 over 8192); nothing to change. Use --ctx-size at run time for a smaller window\n');
  assert.equal(existsSync(`${cfg}.orig`), false);
  assertOneLineError(await runCli(['extend-context', d, '--ctx', '32768', '--rope-theta', '1000000']),
    /already uses RoPE scaling \(rope_type llama3, factor 8 over 8192\) trained on rope_theta 500000; another base would break it/);
  const more = await runCli(['extend-context', d, '--ctx', '262144']);
  assert.equal(more.code, 0, more.stderr);
  assert.equal(readFileSync(cfg, 'utf8'), LLAMA31_CONFIG.replace('131072', '262144'));
  assert.match(more.stderr, /RoPE scaling kept as it is \(rope_type llama3, factor 8 over 8192\); positions beyond 131072 were never trained/);
});

test('--out DIR for a folder: a new config.json and links to the other files; the model is untouched', async () => {
  const d = hfFolder('src-model', LLAMA3_CONFIG, ['model-00001-of-00002.safetensors', 'tokenizer.json']);
  const out = join(dir, 'llama3-32k');
  const r = await runCli(['extend-context', d, '--ctx', '32768', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`wrote ${out}/config\\.json; linked the model's 2 other files into ${out} \\(symbolic links\\)\\n$`));
  assert.equal(readFileSync(join(d, 'config.json'), 'utf8'), LLAMA3_CONFIG);
  assert.equal(existsSync(join(d, 'config.json.orig')), false);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).rope_theta, 1_000_000);
  assert.ok(lstatSync(join(out, 'tokenizer.json')).isSymbolicLink());
  assert.equal(readlinkSync(join(out, 'tokenizer.json')), join(d, 'tokenizer.json'));
  assert.equal(readFileSync(join(out, 'tokenizer.json'), 'utf8'), 'tokenizer.json bytes');
  assertOneLineError(await runCli(['extend-context', d, '--ctx', '32768', '--out', out]), /llama3-32k\/config\.json already exists; pass --force to replace it/);
  // --out naming the model folder itself is refused: --out leaves MODEL alone.
  assertOneLineError(await runCli(['extend-context', d, '--ctx', '32768', '--out', d]), /--out .*src-model is the model folder itself; give another folder, or leave --out away/);
  assert.equal(readFileSync(join(d, 'config.json'), 'utf8'), LLAMA3_CONFIG);
  assert.equal(existsSync(join(d, 'config.json.orig')), false);
});

test('bad input: one line, non-zero exit, nothing written', async () => {
  const path = await tinyCopy();
  const before = sha(path);
  const cases: [string[], RegExp, number][] = [
    [[path, '--ctx', 'abc'], /^llama3-zh extend-context: --ctx must be a whole number from 16 to 4294967295 \(got "abc"\)$/, 2],
    [[path, '--ctx', '32768.5'], /--ctx must be a whole number/, 2],
    [[path], /extend-context needs --ctx N, e\.g\. --ctx 32768/, 2],
    [[path, '--ctx', '32768', '--rope-theta', '0'], /--rope-theta must be a number of at least 1 \(got "0"\)/, 2],
    [[path, '--ctx', '32768', '--rope-theta', '1e39'], /llama\.rope\.freq_base is f32: 1e\+39 is out of range/, 2],
    [[join(dir, 'missing.gguf'), '--ctx', '32768'], /no such GGUF file: .*missing\.gguf$/, 1],
    [[join(dir, 'notes2.txt'), '--ctx', '32768'], /notes2\.txt: not a GGUF file/, 1],
    [[join(dir, 'empty-folder'), '--ctx', '32768'], /empty-folder has no config\.json, so it is not a Hugging Face model folder/, 1],
    [[join(dir, 'broken'), '--ctx', '32768'], /broken\/config\.json is not valid JSON/, 1],
    [[path, '--ctx', '32768', '--bogus'], /unknown option --bogus; see 'llama3-zh extend-context --help'/, 2],
    [[await redirectLora(64, 0, 1, 1), '--ctx', '32768'], /is a LoRA adapter; extend the context of its base model/, 1],
  ];
  writeFileSync(join(dir, 'notes2.txt'), 'not a model');
  mkdirSync(join(dir, 'empty-folder'));
  hfFolder('broken', '{"max_position_embeddings": 8192,');
  for (const [args, pattern, code] of cases) {
    const r = await runCli(['extend-context', ...args]);
    assertOneLineError(r, pattern);
    assert.equal(r.code, code, args.join(' '));
  }
  assert.equal(sha(path), before);
  assert.deepEqual(readdirSync(join(dir, 'empty-folder')), []);
  assert.deepEqual(readdirSync(join(dir, 'broken')), ['config.json']);
  noTempFiles(dir);
  const help = await runCli(['extend-context', '--help']);
  assert.match(help.stdout, /llama3-zh chat -m model\.gguf --ctx-size 32768 --rope-freq-base 1000000/);
});
