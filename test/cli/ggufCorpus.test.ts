import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { kv, writeGguf } from '../../src/gguf/writer.js';
import { TensorType } from '../../src/gguf/types.js';
import { assertOneLineError, type CliResult, runCli } from '../helpers/cli.js';
import { writeCorpus, writeSmallModel } from '../helpers/ggufCorpus.js';
import { REPLY, testModel } from '../helpers/models.js';

/**
 * Every command that reads a GGUF, on every damaged file of the corpus (test/helpers/ggufCorpus.ts): a non-zero
 * exit and one line that names the file and what is wrong, the file unchanged byte for byte, and llama.cpp never
 * loaded (it would abort the process on some of these). A hang fails the test by its timeout.
 */

const dir = mkdtempSync(join(tmpdir(), 'gguf-corpus-'));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** The commands that read a model file, as a user types them. */
const READERS: [string, (f: string) => string[]][] = [
  ['gguf inspect', (f) => ['gguf', 'inspect', f]],
  ['gguf set', (f) => ['gguf', 'set', f, 'general.name=renamed']],
  ['estimate', (f) => ['estimate', f]],
  ['extend-context', (f) => ['extend-context', f, '--ctx', '32768']],
  ['quantize', (f) => ['quantize', f, `${f}.q8_0.gguf`, 'q8_0', '-t', '1']],
  ['chat', (f) => ['chat', '-m', f, '-p', 'hi', '-t', '1']],
  ['serve', (f) => ['serve', '-m', f, '--port', '0', '-t', '1']],
];

/** Run tasks a few at a time: each is a process start, mostly waiting on the CPU. */
async function pool<T>(tasks: (() => Promise<T>)[], n = 3): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  }));
  return out;
}

/** One error line that names the file; `pattern` is matched against the rest of the line (a file's name could match it). */
function oneLine(r: CliResult, path: string, pattern: RegExp, what: string) {
  try {
    assertOneLineError(r, /./);
    assert.ok(r.stderr.includes(path), `the error does not name ${path}: ${r.stderr}`);
    assert.match(r.stderr.trim().replaceAll(path, 'FILE'), pattern);
    assert.doesNotMatch(r.stderr, /llama\.cpp could not load|\[llama\.cpp\]|GGML_ASSERT|NaN|BigInt|undefined/);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/**
 * A file of each kind of damage goes through every command, and the whole corpus through inspect (the reader's
 * front door). Every command reaches the same validator, whose answer on each file test/gguf/validate.test.ts
 * checks in-process: a process start for each of 6 commands × 57 files would take minutes.
 */
const SAMPLE = ['block_count-max', 'attention.head_count-0', 'vocab-duplicate', 'duplicate-key', 'ggml-type-4',
  'offset-overlap', 'utf8-value', 'huge-array', 'truncated-last-byte'];

test('every reader command refuses damaged files with one line and leaves them as they were', { timeout: 300_000 }, async () => {
  const { files } = await writeCorpus(dir);
  for (const name of SAMPLE) assert.ok(files.some((f) => f.name === name), name);
  const before = new Map(files.map((f) => [f.path, sha(f.path)]));
  const tasks = files.flatMap((f) => READERS
    .filter(([name]) => SAMPLE.includes(f.name) || name === 'gguf inspect')
    .map(([name, args]) => async () => oneLine(await runCli(args(f.path)), f.path, f.pattern, `${name} ${f.name}`)));
  await pool(tasks);
  for (const f of files) assert.equal(sha(f.path), before.get(f.path), `${f.name} was modified`);
});

test('a damaged file given as --lora is refused before llama.cpp loads anything', { timeout: 120_000 }, async () => {
  const { base, files } = await writeCorpus(dir);
  const lora = (name: string, meta: ReturnType<typeof kv.str>[], tensors: string[]) => {
    const path = join(dir, `lora-${name}.gguf`);
    return writeGguf(path, [kv.str('general.architecture', 'llama'), kv.str('general.type', 'adapter'), ...meta],
      tensors.map((t) => ({ name: t, dims: [32, 1], type: TensorType.F32, data: new Uint8Array(128) }))).then(() => path);
  };
  const cases: [string, RegExp][] = [
    [await lora('not-lora', [kv.str('adapter.type', 'control_vector')], ['output.weight.lora_a', 'output.weight.lora_b']), /adapter\.type is "control_vector"; llama\.cpp loads "lora" adapters only/],
    [await lora('no-b', [kv.str('adapter.type', 'lora')], ['output.weight.lora_a']), /tensor output\.weight\.lora_a has no output\.weight\.lora_b/],
    [await lora('stray', [kv.str('adapter.type', 'lora')], ['output.weight']), /tensor output\.weight is not a LoRA tensor/],
    // A pair with a third dimension on a 2-D weight passes llama-adapter.cpp's shape check and aborts in ggml_mul_mat.
    [await (async () => {
      const path = join(dir, 'lora-3d.gguf');
      await writeGguf(path, [kv.str('general.architecture', 'llama'), kv.str('general.type', 'adapter'), kv.str('adapter.type', 'lora')], [
        { name: 'blk.0.attn_q.weight.lora_a', dims: [32, 4, 2], type: TensorType.F32, data: new Uint8Array(4 * 32 * 4 * 2) },
        { name: 'blk.0.attn_q.weight.lora_b', dims: [4, 32, 2], type: TensorType.F32, data: new Uint8Array(4 * 32 * 4 * 2) },
      ]);
      return path;
    })(), /its tensors for blk\.0\.attn_q\.weight have shapes \[32,4,2\] and \[4,32,2\], which do not fit the model's \[32,32\]\. It was made for another model; give an adapter trained for .*base\.gguf$/],
    // Damage in the tensor infos or the bytes is found by the reader, whatever the file is for.
    ...files.filter((f) => SAMPLE.includes(f.name) && (() => { try { readGguf(f.path); return false; } catch { return true; } })())
      .map((f): [string, RegExp] => [f.path, f.pattern]),
  ];
  await pool(cases.map(([path, pattern]) => async () => {
    oneLine(await runCli(['chat', '-m', base, '--lora', path, '-p', 'hi', '-t', '1']), path, pattern, `chat --lora ${path}`);
    oneLine(await runCli(['serve', '-m', base, '--lora-modules', `x=${path}`, '--port', '0']), path, pattern, `serve --lora-modules ${path}`);
  }));
});

test('a FIFO or a device as the model is refused at once (openSync would block on a FIFO until a writer came)', { timeout: 60_000 }, async () => {
  const fifo = join(dir, 'fifo.gguf');
  execFileSync('mkfifo', [fifo]);
  const zero = join(dir, 'zero.gguf');
  symlinkSync('/dev/zero', zero);
  const { base } = await writeCorpus(dir);
  const messages = join(dir, 'messages.json');
  writeFileSync(messages, '[{"role":"user","content":"hi"}]');
  const runs: [string, string[]][] = [];
  for (const f of [fifo, zero]) {
    for (const [, args] of READERS) runs.push([f, args(f)]);
    runs.push([f, ['chat', '-m', base, '--lora', f, '-p', 'hi']], [f, ['template', 'render', '--messages', messages, '-m', f]]);
  }
  await pool(runs.map(([f, args]) => async () => {
    oneLine(await runCli(args), f, /is not a regular file \(a pipe, socket or device\); give a GGUF file on disk$/, args.join(' '));
  }));
});

test('gguf set repairs a damaged value, and refuses an edit that would damage a good file', async () => {
  const { files, base } = await writeCorpus(dir);
  const broken = join(dir, 'repair.gguf');
  copyFileSync(files.find((f) => f.name === 'block_count-0')!.path, broken);
  const fixed = await runCli(['gguf', 'set', broken, 'llama.block_count=2']);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(fixed.stdout.split('\n')[0], 'llama.block_count (u32): 0 → 2');
  assert.equal((await runCli(['gguf', 'inspect', broken])).code, 0);
  const good = sha(base);
  for (const [spec, pattern] of [
    ['llama.block_count=0', /base\.gguf: llama\.block_count is 0; it must be at least 1; nothing was written\. Set a valid value in the same command, or download the file again$/],
    ['llama.embedding_length=30', /base\.gguf: llama\.embedding_length \(30\) is not divisible by llama\.attention\.head_count \(4\); nothing was written/],
    ['llama.attention.head_count=8', /base\.gguf: llama\.rope\.dimension_count is 8; a llama model rotates the whole head \(4\); nothing was written/],
    ['llama.attention.head_count_kv=0', /llama\.attention\.head_count_kv is 0; it must be at least 1 and divide llama\.attention\.head_count \(4\); nothing was written/],
  ] as const) {
    assertOneLineError(await runCli(['gguf', 'set', base, spec]), pattern);
  }
  assertOneLineError(await runCli(['gguf', 'set', base, '--delete', 'llama.block_count']), /it has no llama\.block_count; nothing was written/);
  assert.equal(sha(base), good);
});

test('the good files still work: the corpus base inspects, the scripted model loads and answers', async () => {
  const { base } = await writeCorpus(dir);
  const inspect = await runCli(['gguf', 'inspect', base]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /^layers × width +2 × 32$/m);
  const chat = await runCli(['chat', '-m', await testModel({ reply: REPLY }), '-p', '你是谁', '--temperature', '0', '-t', '1']);
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout, `${REPLY}\n`);
});

test('a model whose context is under 16 tokens, and no --ctx-size: the error says so (it said "got undefined")', async () => {
  const path = join(dir, 'ctx8.gguf');
  await writeSmallModel(path, { set: [kv.u32('llama.context_length', 8)] });
  assertOneLineError(await runCli(['chat', '-m', path, '-p', 'hi', '-t', '1']),
    /^llama3-zh chat: .*ctx8\.gguf: its context length \(llama\.context_length\) is 8; we need at least 16 tokens\. Give --ctx-size N$/);
});
