import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readSync, openSync, closeSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { Rng } from '../../src/gguf/numbers.js';
import { assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { writeTinyLlama } from '../helpers/hfCheckpoint.js';
import { startHub } from '../helpers/hub.js';
import { randomDense, writeSafetensors } from '../helpers/loraTiny.js';
import { ROOT } from '../helpers/models.js';
import { inTerminal } from '../helpers/tty.js';

/**
 * create and chat's convert-first on real Hugging Face folders (writeTinyLlama: config.json, bf16 or f32
 * safetensors, Meta's Llama-3 tokenizer), run by the real llama.cpp.
 */
const root = mkdtempSync(join(tmpdir(), 'create-'));
const SHAPE = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ff: 128 } as const;
const hf = join(root, 'my-sft');
writeTinyLlama(hf, { ...SHAPE, dtype: 'bf16', seed: 7, instruct: true });
/** The folder's files, as a hub serves them. */
const filesOf = (d: string) => readdirSync(d).map((f) => ({ path: f, data: readFileSync(join(d, f)) }));
const hubs: Awaited<ReturnType<typeof startHub>>[] = [];
after(async () => { for (const h of hubs) await h.close(); });

const messages = join(root, 'messages.json');
writeFileSync(messages, JSON.stringify([{ role: 'user', content: '你好' }]));
const chatArgs = ['-p', '你好', '--temperature', '0', '-n', '6', '-t', '1', '--json'];
const SYSTEM = '你是一个乐于助人的助手。';

test('create NAME --from a Hugging Face folder: ls, chat with the recorded system prompt, rm', async () => {
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const c = await runCli(['create', 'my-sft', '--from', hf, '--system', SYSTEM], { env });
  assert.equal(c.code, 0, c.stderr);
  // Full precision by default, as the checkpoint is (llama.cpp's --outtype auto): BF16.
  assert.match(c.stderr, new RegExp(`^converting ${hf}…$`, 'm'));
  assert.match(c.stderr, /^created my-sft: GGUF BF16, [\d.]+ MiB in /m);
  const ls = await runCli(['ls', '--json'], { env });
  const listed = JSON.parse(ls.stdout) as { name: string; format: string; quant: string; path: string }[];
  assert.deepEqual(listed.map((m) => [m.name, m.format, m.quant]), [['my-sft', 'gguf', 'BF16']]);
  const file = listed[0].path;

  // Meta's instruct template in the tokenizer is detected as llama3; the recorded system prompt goes first.
  const t = await runCli(['template', 'render', '-m', 'my-sft', '--messages', messages, '--json'], { env });
  assert.deepEqual(JSON.parse(t.stdout), {
    template: 'llama3',
    prompt: `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${SYSTEM}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
  });
  // llama.cpp answers exactly as it does for the stored file given that system prompt by hand (greedy).
  // Both only read the store: side by side (a CLI start and a model load are most of each one's time).
  const [byName, byHand] = await Promise.all([
    runCli(['chat', '-m', 'my-sft', ...chatArgs], { env }),
    runCli(['chat', '-m', file, '-s', SYSTEM, ...chatArgs], { env }),
  ]);
  assert.equal(byName.code, 0, byName.stderr);
  const [a, b] = [JSON.parse(byName.stdout), JSON.parse(byHand.stdout)];
  assert.equal(a.usage.prompt_tokens, b.usage.prompt_tokens);
  assert.equal(a.reply, b.reply);
  assert.equal(a.usage.completion_tokens, 6);

  const q = await runCli(['create', 'my-sft-q4', '--from', 'my-sft', '--quantize', 'Q4_K_M', '-t', '1'], { env });
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stderr, /created my-sft-q4: GGUF Q4_K_M, /);
  // Made from a created model, it keeps that model's system prompt.
  const t2 = await runCli(['template', 'render', '-m', 'my-sft-q4', '--messages', messages], { env });
  assert.ok(t2.stdout.includes(SYSTEM));

  const rm = await runCli(['rm', 'my-sft', 'my-sft-q4'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /^removed my-sft \([\d.]+ MiB\)\nremoved my-sft-q4 \([\d.]+ MiB\)\n$/);
  assert.match((await runCli(['ls'], { env })).stdout, /^no models in /);
});

test('chat --yes on a Hugging Face folder converts it once to Q4_K_M; the next run reuses it; a changed folder is converted again', async () => {
  const dir = join(root, 'folder-cache');
  writeTinyLlama(dir, { ...SHAPE, dtype: 'bf16', seed: 8, instruct: true });
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const first = await runCli(['chat', '-m', dir, '--yes', ...chatArgs], { env });
  assert.equal(first.code, 0, first.stderr);
  const names = JSON.parse((await runCli(['ls', '--json'], { env })).stdout).map((m: { name: string }) => m.name) as string[];
  assert.equal(names.length, 1);
  assert.match(names[0], /^folder-cache-[0-9a-f]{6}-q4_k_m$/);
  assert.match(first.stderr, new RegExp(`^${dir} is a Hugging Face \\(safetensors\\) model folder and llama\\.cpp runs GGUF: converting it to Q4_K_M, the default for chat and serve; kept in the store as ${names[0]} for the next run$`, 'm'));
  assert.match(first.stderr, new RegExp(`^created ${names[0]}: GGUF Q4_K_M, `, 'm'));

  const second = await runCli(['chat', '-m', dir, ...chatArgs], { env });
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /convert/);
  assert.equal(JSON.parse(second.stdout).reply, JSON.parse(first.stdout).reply);
  // serve and eval find the same conversion (serve's --help-free check: it resolves the model before listening).

  // New weights (a later checkpoint saved over the folder): not served stale.
  writeTinyLlama(dir, { ...SHAPE, dtype: 'bf16', seed: 9, instruct: true });
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'model.safetensors'), later, later);
  const third = await runCli(['chat', '-m', dir, '--yes', ...chatArgs], { env });
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, /converting it to Q4_K_M/);
  const after = JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; created: { sourceKey: string } }[];
  assert.deepEqual(after.map((m) => m.name), names);
});

test('pull of a catalog model with only safetensors weights, then chat: converted once, kept beside the folder, rm removes both', async () => {
  // The hub serves the first test's folder (a checkpoint of the same shape; only the hub's copy is used here).
  const h = await startHub({ repos: [{ hub: 'huggingface', repo: 'shenzhi-wang/Llama3-8B-Chinese-Chat', files: filesOf(hf) }] });
  hubs.push(h);
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  const pull = await runCli(['pull', 'shenzhi-llama3-8b-chat'], { env });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stderr, /chat -m shenzhi-llama3-8b-chat and serve shenzhi-llama3-8b-chat convert it to Q4_K_M first \(once\)/);

  // Without a terminal and without --yes: the exact commands.
  const script = await runCli(['chat', '-m', 'shenzhi-llama3-8b-chat', ...chatArgs], { env });
  assertOneLineError(script, /^llama3-zh chat: shenzhi-llama3-8b-chat is a Hugging Face \(safetensors\) model folder and llama\.cpp runs GGUF: convert it once with {2}llama3-zh create llama3-8b-chinese-chat --from shenzhi-llama3-8b-chat --quantize q4_k_m {2}and run that name, or add --yes to convert it now \(to Q4_K_M, kept in the store for the next run\)$/);

  const first = await runCli(['chat', '-m', 'shenzhi-llama3-8b-chat', '--yes', ...chatArgs], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).template, 'llama3');
  const second = await runCli(['chat', '-m', 'shenzhi-llama3-8b-chat', ...chatArgs], { env });
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /convert/);
  const repo = join(home, 'models', 'shenzhi-wang', 'Llama3-8B-Chinese-Chat');
  assert.ok(existsSync(join(repo, 'Llama3-8B-Chinese-Chat-Q4_K_M.gguf')));
  const ls = JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; format: string; catalogName: string }[];
  assert.deepEqual(ls.map((m) => [m.name, m.format, m.catalogName]), [
    ['shenzhi-wang/Llama3-8B-Chinese-Chat', 'safetensors', 'shenzhi-llama3-8b-chat'],
    ['shenzhi-wang/Llama3-8B-Chinese-Chat:Q4_K_M', 'gguf', 'shenzhi-llama3-8b-chat'],
  ]);
  const rm = await runCli(['rm', 'shenzhi-llama3-8b-chat'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(existsSync(repo), false);
});

/**
 * A 256-wide model with the full vocabulary (~130 MB of bf16), big enough that a conversion or quantization of it is
 * still running when its first progress line comes; both Ctrl-C cases only read it, so it is written once.
 */
let big: string | undefined;
function bigCheckpoint(): string {
  if (big === undefined) {
    big = join(root, 'big');
    writeTinyLlama(big, { layers: 2, hidden: 256, heads: 4, kvHeads: 2, ff: 512, dtype: 'bf16', seed: 12, instruct: true });
  }
  return big;
}

/**
 * Two GGUFs hold the same model: the same tensors (names, types, shapes) with the same bytes, and the same metadata
 * but for the general.* names derived from the file's own name. Checks of the files, not a chat (a model load) each.
 */
function assertSameModel(a: string, b: string) {
  const [fa, fb] = [readGguf(a), readGguf(b)];
  const meta = (f: ReturnType<typeof readGguf>) => [...f.metadata.values()].filter((k) => !/^general\.(name|basename|finetune|size_label)$/.test(k.key));
  assert.deepEqual(meta(fb), meta(fa), `metadata of ${b} vs ${a}`);
  assert.deepEqual(fb.tensors.map((t) => [t.name, t.type, t.dims]), fa.tensors.map((t) => [t.name, t.type, t.dims]), `tensors of ${b} vs ${a}`);
  const [da, db] = [readFileSync(a).subarray(fa.dataOffset), readFileSync(b).subarray(fb.dataOffset)];
  assert.ok(da.equals(db), `the tensor data of ${b} differs from ${a}'s`);
}

/** The f32 values of a tensor of a GGUF. */
function ggufF32(path: string, name: string): Float32Array {
  const f = readGguf(path, { skipArrays: true });
  const t = f.tensors.find((x) => x.name === name)!;
  const n = t.dims.reduce((a, d) => a * Number(d), 1);
  const buf = Buffer.alloc(n * 4);
  const fd = openSync(path, 'r');
  try { readSync(fd, buf, 0, buf.length, f.dataOffset + Number(t.offset)); } finally { closeSync(fd); }
  return new Float32Array(buf.buffer, buf.byteOffset, n);
}

test('create --adapter merges a PEFT LoRA: W + (alpha/r)·B·A in the stored model; without --from, an adapter with no base found says what to pass', async () => {
  const base = join(root, 'base-f32');
  writeTinyLlama(base, { ...SHAPE, dtype: 'f32', seed: 11, instruct: true });
  const adapter = join(root, 'adapter');
  mkdirSync(adapter, { recursive: true });
  const r = 4;
  const rng = new Rng(5);
  // v_proj: [kvHeads·headDim, hidden] = [32, 64]; no q/k permutation, so the GGUF rows are the HF rows.
  const A = randomDense(rng, [r, 64], 0.5);
  const B = randomDense(rng, [32, r], 0.5);
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: '/root/models/tiny-llama', r, lora_alpha: 8,
    target_modules: ['v_proj'], use_rslora: false, use_dora: false, fan_in_fan_out: false, modules_to_save: null,
  }));
  writeSafetensors(join(adapter, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', dtype: 'F32', dense: A },
    { name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight', dtype: 'F32', dense: B },
  ]);
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const plain = await runCli(['create', 'plain', '--from', base, '--quantize', 'f32'], { env });
  assert.equal(plain.code, 0, plain.stderr);
  const merged = await runCli(['create', 'merged', '--from', base, '--adapter', adapter, '--quantize', 'f32'], { env });
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stderr, new RegExp(`^converting ${base} with the adapter ${adapter} merged to F32…$`, 'm'));
  const ls = JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; path: string; created: { adapter?: string } }[];
  const [m, p] = [ls.find((x) => x.name === 'merged')!, ls.find((x) => x.name === 'plain')!];
  assert.equal(m.created.adapter, adapter);
  const w = ggufF32(p.path, 'blk.0.attn_v.weight');
  const got = ggufF32(m.path, 'blk.0.attn_v.weight');
  let worst = 0;
  for (let i = 0; i < 32; i++) {
    for (let j = 0; j < 64; j++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += B.values[i * r + k] * A.values[k * 64 + j];
      worst = Math.max(worst, Math.abs(got[i * 64 + j] - (w[i * 64 + j] + (8 / r) * d)));
    }
  }
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  // Layer 1 is untouched.
  assert.deepEqual(ggufF32(m.path, 'blk.1.attn_v.weight'), ggufF32(p.path, 'blk.1.attn_v.weight'));

  const before = readdirSync(join(env.LLAMA3ZH_HOME, 'models', 'local')).sort();
  assertOneLineError(await runCli(['create', 'orphan', '--adapter', adapter], { env }),
    /^llama3-zh create: the adapter's base model "\/root\/models\/tiny-llama" is not here; pass its Hugging Face folder: --from \/path\/to\/tiny-llama/);
  assertOneLineError(await runCli(['create', 'x', '--from', p.path, '--adapter', adapter], { env }),
    /^llama3-zh create: --adapter merges into the base model's own weights, and .* is a GGUF; give the base model's Hugging Face folder as --from/);
  assert.deepEqual(readdirSync(join(env.LLAMA3ZH_HOME, 'models', 'local')).sort(), before);
});

test('Ctrl-C during create leaves no entry and no file', async () => {
  // Big enough that the conversion is still running.
  const big = bigCheckpoint();
  const home = emptyHome();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'create', 'big', '--from', big, '--quantize', 'q8_0'], {
    env: { ...cleanEnv(), LLAMA3ZH_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    if (!sent && /converting \[/.test(stderr)) { sent = true; child.kill('SIGINT'); }
  });
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  assert.ok(sent, stderr);
  assert.equal(code, 130, stderr);
  assert.match(stderr.trim().split('\n').pop()!, /^llama3-zh create: interrupted; nothing was kept$/);
  // The folder create made for it may stay (empty); no file, no manifest, nothing listed.
  const left = existsSync(join(home, 'models')) ? readdirSync(join(home, 'models'), { recursive: true }) : [];
  assert.deepEqual(left.filter((f) => !['local', join('local', 'big')].includes(String(f))), []);
  assert.match((await runCli(['ls'], { env: { LLAMA3ZH_HOME: home } })).stdout, /^no models in /);
});

test('Ctrl-C while create quantizes a GGUF leaves no file and no folder', async () => {
  // A 135 MiB F16 GGUF (the full vocabulary), made first; its quantization to Q4_K_M is interrupted as it starts.
  const big = bigCheckpoint();
  const home = emptyHome();
  assert.equal((await runCli(['create', 'big-f16', '--from', big, '--quantize', 'f16'], { env: { LLAMA3ZH_HOME: home } })).code, 0);
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'create', 'big-q4', '--from', 'big-f16', '--quantize', 'q4_k_m', '-t', '1'], {
    env: { ...cleanEnv(), LLAMA3ZH_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    if (!sent && /^quantizing .* to Q4_K_M…$/m.test(stderr)) { sent = true; child.kill('SIGINT'); }
  });
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  assert.ok(sent, stderr);
  assert.equal(code, 130, stderr);
  assert.match(stderr.trim().split('\n').pop()!, /^llama3-zh create: interrupted; nothing was kept$/);
  assert.deepEqual(readdirSync(join(home, 'models', 'local')), ['big-f16']);
  assert.deepEqual(readdirSync(join(home, 'models', 'local', 'big-f16')).sort(), ['.llama3-zh.json', 'big-f16-F16.gguf']);
});

test('a catalog LoRA (llama3-8b-doc2markmap-lora): pulled, its base pulled and converted, the adapter applied at load time', async () => {
  const base = hf; // served by the hub, which is all this test reads of it
  const adapter = join(root, 'doc2markmap');
  mkdirSync(adapter, { recursive: true });
  const rng = new Rng(21);
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: '/root/models/llama3-8b-instruct-cn', r: 8, lora_alpha: 16,
    target_modules: ['o_proj'], use_rslora: false, use_dora: false, fan_in_fan_out: false, modules_to_save: null,
  }));
  writeSafetensors(join(adapter, 'adapter_model.safetensors'), [0, 1].flatMap((l) => [
    { name: `base_model.model.model.layers.${l}.self_attn.o_proj.lora_A.weight`, dtype: 'F32' as const, dense: randomDense(rng, [8, 64], 2) },
    { name: `base_model.model.model.layers.${l}.self_attn.o_proj.lora_B.weight`, dtype: 'F32' as const, dense: randomDense(rng, [64, 8], 2) },
  ]));
  const h = await startHub({ repos: [
    { hub: 'modelscope', repo: 'baicai003/llama-3-8b-Instruct-chinese_v2', files: filesOf(base) },
    { hub: 'modelscope', repo: 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora', files: filesOf(adapter) },
  ] });
  hubs.push(h);
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  const pull = await runCli(['pull', 'llama3-8b-doc2markmap-lora'], { env });
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stderr, /note: a PEFT LoRA adapter: chat and serve apply it over its base model/);

  assertOneLineError(await runCli(['chat', '-m', 'llama3-8b-doc2markmap-lora', ...chatArgs], { env }),
    /^llama3-zh chat: llama3-8b-doc2markmap-lora is a LoRA adapter for llama3-8b-instruct-sft-zh, which is not downloaded; run: llama3-zh pull llama3-8b-instruct-sft-zh --format safetensors {2}\(or add --yes to fetch it now\)$/);

  const first = await runCli(['chat', '-m', 'llama3-8b-doc2markmap-lora', '--yes', ...chatArgs], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /converting the adapter .* to a llama\.cpp LoRA over .*Q4_K_M\.gguf/);
  const ls = JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; path: string }[];
  assert.deepEqual(ls.map((m) => m.name), [
    'baicai003/llama-3-8b-Instruct-chinese_v2', 'baicai003/llama-3-8b-Instruct-chinese_v2:Q4_K_M',
    'shareAI/llama3-instruct-8b-cn-doc2markmap-lora', 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora:F16',
  ]);
  const [baseGguf, loraGguf] = [ls[1].path, ls[3].path];
  assert.equal(readGguf(loraGguf, { skipArrays: true }).metadata.get('general.type')?.value, 'adapter');
  // The same answer as the base with --lora by hand, and not the base's own.
  // These three chats find everything converted and write nothing: side by side, checked in order below.
  const [byHand, plainBase, second] = await Promise.all([
    runCli(['chat', '-m', baseGguf, '--lora', loraGguf, ...chatArgs], { env }),
    runCli(['chat', '-m', baseGguf, ...chatArgs], { env }),
    runCli(['chat', '-m', 'llama3-8b-doc2markmap-lora', ...chatArgs], { env }),
  ]);
  assert.equal(JSON.parse(first.stdout).reply, JSON.parse(byHand.stdout).reply);
  assert.notEqual(JSON.parse(first.stdout).reply, JSON.parse(plainBase.stdout).reply);
  // The next run converts nothing.
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /convert/);
  assert.equal(JSON.parse(second.stdout).reply, JSON.parse(first.stdout).reply);
});

test('on a terminal, chat asks before converting a folder: no converts nothing, yes converts and chats', async () => {
  // A copy of the first test's folder under this name (the name is what the prompts show).
  const dir = join(root, 'tty-sft');
  cpSync(hf, dir, { recursive: true });
  const home = emptyHome();
  const env = { ...cleanEnv(), LLAMA3ZH_HOME: home };
  const args = [join(ROOT, 'bin', 'llama3-zh.js'), 'chat', '-m', dir, '-t', '1'];
  const no = await inTerminal([['Convert it now? [y/N]', 'n\r']], process.execPath, args, env);
  assert.match(no, /is a Hugging Face \(safetensors\) model folder and llama\.cpp runs GGUF: it is converted first, to Q4_K_M, the default for chat and serve, and kept in the store as tty-sft-[0-9a-f]{6}-q4_k_m for the next run\./);
  assert.match(no, /llama3-zh chat: not converted; to convert it yourself: llama3-zh create tty-sft --from \S+ --quantize q4_k_m\r?\n/);
  assert.match(no, /\nEXIT 1\n$/);
  assert.equal(existsSync(join(home, 'models')), false);
  const yes = await inTerminal([['Convert it now? [y/N]', 'y\r'], ['>>> ', '/exit\r']], process.execPath, args, env);
  assert.match(yes, /created tty-sft-[0-9a-f]{6}-q4_k_m: GGUF Q4_K_M/);
  assert.match(yes, /\nEXIT 0\n$/);
});

test('a catalog LoRA with modules_to_save (a trained norm) is merged into a model of its own, as create --adapter merges it', async () => {
  const base = hf; // served by the hub, which is all this test reads of it
  const adapter = join(root, 'doc2markmap-norm');
  mkdirSync(adapter, { recursive: true });
  const rng = new Rng(22);
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: 'llama3-8b-instruct-sft-zh', r: 8, lora_alpha: 16,
    target_modules: ['o_proj'], use_rslora: false, use_dora: false, fan_in_fan_out: false, modules_to_save: ['norm'],
  }));
  writeSafetensors(join(adapter, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight', dtype: 'F32' as const, dense: randomDense(rng, [8, 64], 2) },
    { name: 'base_model.model.model.layers.0.self_attn.o_proj.lora_B.weight', dtype: 'F32' as const, dense: randomDense(rng, [64, 8], 2) },
    { name: 'base_model.model.model.norm.weight', dtype: 'F32' as const, dense: randomDense(rng, [64], 0.5, 1) },
  ]);
  const h = await startHub({ repos: [
    { hub: 'modelscope', repo: 'baicai003/llama-3-8b-Instruct-chinese_v2', files: filesOf(base) },
    { hub: 'modelscope', repo: 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora', files: filesOf(adapter) },
  ] });
  hubs.push(h);
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  assert.equal((await runCli(['pull', 'llama3-8b-doc2markmap-lora'], { env })).code, 0);
  const chat = await runCli(['chat', '-m', 'llama3-8b-doc2markmap-lora', '--yes', ...chatArgs], { env });
  assert.equal(chat.code, 0, chat.stderr);
  assert.match(chat.stderr, /llama3-8b-doc2markmap-lora has modules_to_save \(model\.norm\.weight\), which a llama\.cpp LoRA cannot carry: merging it into /);
  const ls = JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; path: string }[];
  assert.deepEqual(ls.map((m) => m.name), [
    'baicai003/llama-3-8b-Instruct-chinese_v2', 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora', 'shareAI/llama3-instruct-8b-cn-doc2markmap-lora:Q4_K_M',
  ]);
  // The same model create makes from the two folders.
  // The model chat made and answered with (the same file serves every later chat, as `second` shows) is what create
  // makes: compared as files, tensor bytes and metadata, which a chat of `merged` (another model load) showed less of.
  const byCreate = await runCli(['create', 'merged', '--from', dirnameOf(ls[0].path), '--adapter', dirnameOf(ls[1].path), '--quantize', 'q4_k_m'], { env });
  assert.equal(byCreate.code, 0, byCreate.stderr);
  const made = (JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; path: string }[]).find((m) => m.name === 'merged')!;
  assertSameModel(ls[2].path, made.path);
  // The next chat finds everything made and writes nothing.
  const second = await runCli(['chat', '-m', 'llama3-8b-doc2markmap-lora', ...chatArgs], { env });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).model, ls[2].path);
  assert.doesNotMatch(second.stderr, /merging|convert/);
  assert.equal(JSON.parse(second.stdout).reply, JSON.parse(chat.stdout).reply);
});

const dirnameOf = (p: string) => p.slice(0, p.lastIndexOf('/'));
