import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { quantizeInWorker, QUANT_TYPES } from '../../src/engine/llamacpp/quantize.js';
import { readGguf } from '../../src/gguf/reader.js';
import { decode } from '../../src/gguf/llama3Vocab.js';
import { meta, tensorBytes, tensorTypeName } from '../../src/gguf/types.js';
import { assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { REPLY, ROOT, testModel } from '../helpers/models.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'quantize-')));
let n = 0;
const fresh = (name = 'out') => join(dir, `${name}${n++}.gguf`);
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const noTempFiles = () => assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'temp files left behind');

/** Each tensor's data is exactly its type's size, one after another at the file's alignment, ending the file. */
function assertTensorData(path: string) {
  const f = readGguf(path, { skipArrays: true });
  const sorted = [...f.tensors].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const t of sorted) {
    assert.equal(t.offset, at, `${t.name} starts where the one before ends (aligned)`);
    at = Math.ceil((t.offset + tensorBytes(t.type, t.dims)!) / f.alignment) * f.alignment;
  }
  assert.equal(f.dataOffset + at, f.fileSize, 'the data ends the file');
}

const types = (path: string) => Object.fromEntries(readGguf(path, { skipArrays: true }).tensors.map((t) => [t.name, tensorTypeName(t.type)]));

test('Q8_0: file type 7, every matrix Q8_0 and norms F32, and chat gives the scripted reply exactly', async () => {
  const m = await testModel({ reply: REPLY });
  const out = fresh();
  const r = await runCli(['quantize', m, out, 'q8_0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*: Q8_0/);
  const f = readGguf(out, { skipArrays: true });
  assert.equal(meta(f, 'general.file_type'), 7);
  assert.equal(meta(f, 'general.quantization_version'), 2);
  for (const t of f.tensors) assert.equal(tensorTypeName(t.type), t.dims.length === 1 ? 'F32' : 'Q8_0', t.name);
  assertTensorData(out);
  noTempFiles();
  const chat = await runCli(['chat', '-m', out, '-p', '你是谁？']);
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout.trim(), REPLY);
});

test("Q4_K_M: file type 15 with llama-quantize's mix, the same bytes every run", async () => {
  const m = await testModel({ reply: REPLY });
  const out = fresh();
  const r = await runCli(['quantize', m, out, 'Q4_K_M']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(meta(readGguf(out, { skipArrays: true }), 'general.file_type'), 15);
  // What llama.cpp's llama_tensor_get_type decides for this 2-layer model of width 64, as read once: rows of 64 are
  // not a multiple of the K-quants' 256, so Q4_K falls back to Q5_0 and Q6_K to Q8_0. The _M mix puts output.weight
  // at Q6_K (→ Q8_0), and attn_v / ffn_down at Q6_K on the layers use_more_bits picks (layer 1 of 2: i >= 7n/8).
  const want: Record<string, string> = { 'output.weight': 'Q8_0', 'token_embd.weight': 'Q5_0', 'output_norm.weight': 'F32' };
  for (const l of [0, 1]) {
    for (const w of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) want[`blk.${l}.${w}.weight`] = 'Q5_0';
    want[`blk.${l}.attn_v.weight`] = want[`blk.${l}.ffn_down.weight`] = l === 1 ? 'Q8_0' : 'Q5_0';
    want[`blk.${l}.attn_norm.weight`] = want[`blk.${l}.ffn_norm.weight`] = 'F32';
  }
  assert.deepEqual(types(out), want);
  assertTensorData(out);
  const again = fresh();
  assert.equal((await runCli(['quantize', m, again, 'q4_k_m', '--threads', '1'])).code, 0);
  assert.equal(sha(again), sha(out), 'llama.cpp quantizes deterministically, whatever the thread count');
  const chat = await runCli(['chat', '-m', out, '-p', '你是谁？']);
  assert.equal(chat.code, 0, chat.stderr);
});

/** A scripted reply of 220 distinct one-token words: its model is 256 wide (an axis per token), so rows fit the K-quants' 256. */
function wideReply(): string {
  const words: string[] = [];
  for (let id = 3000; words.length < 220; id += 7) { const w = decode([id]); if (/^ [a-z]{5,9}$/.test(w)) words.push(w); }
  return words.join('').trim();
}

test('Q4_K_M on a 256-wide model: real K-quants, Q6_K where the _M mix says, and the scripted reply exactly', async () => {
  const reply = wideReply();
  const m = await testModel({ reply });
  const out = fresh();
  const r = await runCli(['quantize', m, out, 'q4_k_m']);
  assert.equal(r.code, 0, r.stderr);
  // As read once from llama.cpp's llama_tensor_get_type: Q4_K for the matrices, Q6_K for output.weight and for
  // attn_v / ffn_down on layer 1 of 2 (use_more_bits); ffn_down's rows are the FFN width 128, below 256, so it
  // falls back (Q4_K → Q5_0, Q6_K → Q8_0).
  const want: Record<string, string> = { 'output.weight': 'Q6_K', 'token_embd.weight': 'Q4_K', 'output_norm.weight': 'F32' };
  for (const l of [0, 1]) {
    for (const w of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) want[`blk.${l}.${w}.weight`] = 'Q4_K';
    want[`blk.${l}.attn_v.weight`] = l === 1 ? 'Q6_K' : 'Q4_K';
    want[`blk.${l}.ffn_down.weight`] = l === 1 ? 'Q8_0' : 'Q5_0';
    want[`blk.${l}.attn_norm.weight`] = want[`blk.${l}.ffn_norm.weight`] = 'F32';
  }
  assert.deepEqual(types(out), want);
  assertTensorData(out);
  const chat = await runCli(['chat', '-m', out, '-p', '你是谁？']);
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout.trim(), reply);
});

test('every type named in the help is one llama.cpp writes', async () => {
  const m = await testModel({ seed: 2 });
  for (const type of ['Q4_0', 'Q5_K_S', 'Q6_K', 'BF16']) {
    const out = fresh(type);
    const r = await runCli(['quantize', m, out, type.toLowerCase()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(meta(readGguf(out, { skipArrays: true }), 'general.file_type'), QUANT_TYPES[type]);
    assertTensorData(out);
  }
});

test('bad input: one line, a non-zero exit, nothing written', async () => {
  const m = await testModel({ reply: REPLY });
  const out = join(dir, 'never.gguf');
  assertOneLineError(await runCli(['quantize', m, out, 'q7_k']), /unknown type 'q7_k'; the types are: .*Q4_K_M/);
  const text = join(dir, 'notes.gguf');
  writeFileSync(text, 'hello, not a model\n');
  assertOneLineError(await runCli(['quantize', text, out, 'q8_0']), /not a GGUF file/);
  const cut = join(dir, 'cut.gguf');
  writeFileSync(cut, readFileSync(m).subarray(0, 4_000_000));
  assertOneLineError(await runCli(['quantize', cut, out, 'q8_0']), /cut\.gguf/);
  assertOneLineError(await runCli(['quantize', m, m, 'q8_0']), /OUT is IN/);
  const link = join(dir, 'link.gguf');
  symlinkSync(m, link);
  assertOneLineError(await runCli(['quantize', m, link, 'q8_0']), /OUT is IN/);
  const there = join(dir, 'there.gguf');
  writeFileSync(there, 'mine');
  assertOneLineError(await runCli(['quantize', m, there, 'q8_0']), /exists; pass --force/);
  assert.equal(readFileSync(there, 'utf8'), 'mine');
  assertOneLineError(await runCli(['quantize', m, out, 'q8_0'], { env: { LLAMA3ZH_TEST_FREE_BYTES: '1000000' } }), /not enough disk space: Q8_0 .* needs about .* free/);
  assert.ok(!existsSync(out));
  assertOneLineError(await runCli(['quantize', m, join(dir, 'no', 'such', 'x.gguf'), 'q8_0']), /its folder does not exist/);
  noTempFiles();
  const forced = await runCli(['quantize', m, there, 'q8_0', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(meta(readGguf(there, { skipArrays: true }), 'general.file_type'), 7);
});

test('an already quantized file is requantized only with --allow-requantize, as llama-quantize', async () => {
  const q8 = fresh('q8');
  assert.equal((await runCli(['quantize', await testModel({ reply: REPLY }), q8, 'q8_0'])).code, 0);
  const out = fresh();
  assertOneLineError(await runCli(['quantize', q8, out, 'q4_k_m']), /already quantized \(Q8_0\); .*--allow-requantize/);
  assert.ok(!existsSync(out));
  const r = await runCli(['quantize', q8, out, 'q4_k_m', '--allow-requantize']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(meta(readGguf(out, { skipArrays: true }), 'general.file_type'), 15);
});

test("llama.cpp's own refusal comes back from its log as one line", async () => {
  // llama_model_quantize reports failures only through llama_log ("failed to quantize: …"); a file it cannot open is the
  // one failure our validator cannot have caught first.
  const { result, worker } = quantizeInWorker({ input: join(dir, 'gone.gguf'), output: fresh(), ftype: 7, nthread: 1, allowRequantize: false });
  const r = await result;
  await worker.terminate();
  assert.notEqual(r.rc, 0);
  assert.match(r.error!, /gone\.gguf/);
  assert.ok(!r.error!.includes('\n'));
});

test('Ctrl-C mid-run: exit 130 and no file left, temp or final', async () => {
  const m = join(dir, 'big.gguf');
  copyFileSync(await testModel({ seed: 2 }), m);
  const out = join(dir, 'interrupted.gguf');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'quantize', m, out, 'q4_k_m', '--threads', '1'], {
    env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() }, stdio: 'ignore',
  });
  const code = new Promise<number | null>((resolve) => child.on('close', resolve));
  // llama.cpp creates the temp file when it starts writing: the run is under way then.
  const t0 = Date.now();
  while (!readdirSync(dir).some((f) => f.startsWith('.interrupted.gguf.')) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 2));
  child.kill('SIGINT');
  assert.equal(await code, 130);
  assert.ok(!existsSync(out));
  noTempFiles();
});

/**
 * Byte identity with llama.cpp's own tool, where one is at hand: LLAMA3ZH_LLAMA_QUANTIZE names a llama-quantize built
 * from node-llama-cpp's bundled source (git clone node_modules/node-llama-cpp/llama/gitRelease.bundle, then
 * cmake --build BUILD -t llama-quantize). Skipped without it: nothing is compiled in the ordinary test run.
 */
test('byte-identical to llama-quantize for every type', { skip: !process.env.LLAMA3ZH_LLAMA_QUANTIZE && 'set LLAMA3ZH_LLAMA_QUANTIZE to a llama-quantize binary' }, async () => {
  const m = await testModel({ reply: wideReply() });
  const outputs: Record<string, string> = {};
  for (const type of Object.keys(QUANT_TYPES)) {
    const ours = fresh(`ours-${type}`);
    const theirs = fresh(`theirs-${type}`);
    const r = await runCli(['quantize', m, ours, type]);
    assert.equal(r.code, 0, r.stderr);
    execFileSync(process.env.LLAMA3ZH_LLAMA_QUANTIZE!, [m, theirs, type], { stdio: 'ignore' });
    assert.equal(sha(ours), sha(theirs), `${type}: our file differs from llama-quantize's`);
    outputs[type] = sha(theirs);
  }
  // LLAMA3ZH_WRITE_GOLDEN=1 records llama-quantize's outputs as the fixture the next test holds every run to.
  if (process.env.LLAMA3ZH_WRITE_GOLDEN) {
    writeFileSync(GOLDEN, `${JSON.stringify({ ...golden, input: sha(m), outputs }, null, 2)}\n`);
  } else {
    assert.equal(sha(m), golden.input, 'the test model changed: rerun with LLAMA3ZH_WRITE_GOLDEN=1 to record new goldens');
    assert.deepEqual(outputs, golden.outputs, "llama-quantize's outputs differ from the recorded goldens");
  }
});

/**
 * The same identity in every run, without the binary: the sha256 of what llama-quantize wrote for each type from
 * this test model, recorded once (test/fixtures/quantize/llama-quantize.json says how it was made).
 */
const GOLDEN = join(ROOT, 'test', 'fixtures', 'quantize', 'llama-quantize.json');
const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as { made: string; input: string; outputs: Record<string, string> };

test("byte-identical to llama-quantize's recorded outputs for every type", async () => {
  const m = await testModel({ reply: wideReply() });
  assert.equal(sha(m), golden.input, 'the test model changed (src/synth): record new goldens with LLAMA3ZH_LLAMA_QUANTIZE=… LLAMA3ZH_WRITE_GOLDEN=1');
  assert.deepEqual(Object.keys(golden.outputs).sort(), Object.keys(QUANT_TYPES).sort());
  for (const type of Object.keys(QUANT_TYPES)) {
    // In this process (the command's own path is tested above): 15 CLI starts would cost the suite ~15 s.
    const ours = fresh(`golden-${type}`);
    const r = await quantizeInWorker({ input: m, output: ours, ftype: QUANT_TYPES[type], nthread: 2, allowRequantize: false }).result;
    assert.equal(r.rc, 0, r.error);
    assert.equal(sha(ours), golden.outputs[type], `${type}: our file differs from llama-quantize's`);
  }
});
