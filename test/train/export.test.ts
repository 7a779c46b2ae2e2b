import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LLAMA3_JINJA } from '../../src/chat/officialTemplates.js';
import { lfDefaultJinja } from '../../src/chat/templates.js';
import { hfCacheSnapshot, hfHubCache, planExport } from '../../src/train/export.js';
import { readGguf } from '../../src/gguf/reader.js';
import { meta } from '../../src/gguf/types.js';
import { assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';
import { BASE_REPLY, scriptedBase, TRAINED_REPLY, writePeftCheckpoint } from '../helpers/trainCheckpoint.js';

/**
 * train export on run folders made by hand as LLaMA-Factory leaves them (train.yaml, output/checkpoint-N and the
 * final adapter from writePeftCheckpoint: real PEFT keys), run by the real llama.cpp. The scripted base answers
 * BASE_REPLY; only the adapter's lm_head (modules_to_save) makes it answer TRAINED_REPLY, so that reply proves
 * the merge took the adapter's full tensors, and the q_proj check proves the LoRA pairs were merged.
 */
const root = mkdtempSync(join(tmpdir(), 'train-export-'));
// Each run folder holds a 32 MB lm_head or two: not left in /tmp.
after(() => rmSync(root, { recursive: true, force: true }));
const base = await scriptedBase();
const R = 4, ALPHA = 8;
const DPO_TARGETS = ['lm_head', 'input_layernorm', 'post_attention_layernorm', 'norm'];
const chatArgs = ['-p', '你好', '--temperature', '0', '-t', '1', '--json'];

/**
 * trainer_state.json, which the Trainer writes last into every save (TrainerState.save_to_json: indent 2, sorted
 * keys): a save without it is still being written.
 */
function trainerState(dir: string, step: number) {
  writeFileSync(join(dir, 'trainer_state.json'), JSON.stringify({
    best_global_step: null, best_metric: null, best_model_checkpoint: null, epoch: step / 20, eval_steps: 500, global_step: step,
    is_hyper_param_search: false, is_local_process_zero: true, is_world_process_zero: true, log_history: [], logging_steps: 5,
    max_steps: 20, num_input_tokens_seen: 0, num_train_epochs: 1, save_steps: 10, train_batch_size: 1,
  }, null, 2) + '\n');
}

/** adapter_config.json's base_model_name_or_path set to `model`, where an adapter is. */
function recordBase(dir: string, model: string) {
  const f = join(dir, 'adapter_config.json');
  try {
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), base_model_name_or_path: model }, null, 2));
  } catch { /* no adapter there */ }
}

/** A run folder: train.yaml (paths relative to it, as train init writes them), and what training saved. */
function makeRun(name: string, o: { template?: string; model?: string; ft?: string; checkpoints?: boolean; final?: boolean } = {}): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'output'), { recursive: true });
  writeFileSync(join(dir, 'train.yaml'), [
    `model_name_or_path: ${o.model ?? base}`, 'stage: dpo', 'do_train: true', `finetuning_type: ${o.ft ?? 'lora'}`,
    `lora_rank: ${R}`, `lora_alpha: ${ALPHA}`, 'lora_target: all', `additional_target: ${DPO_TARGETS.join(',')}`,
    'pref_beta: 0.5', `template: ${o.template ?? 'llama3'}`, 'dataset: dpo_zh', 'dataset_dir: data', 'output_dir: output',
    'save_steps: 10', 'learning_rate: 5.0e-06', '',
  ].join('\n'));
  if (o.checkpoints !== false) {
    writePeftCheckpoint(join(dir, 'output', 'checkpoint-10'), { base, rank: R, alpha: ALPHA, targets: 'all', seed: 10 });
    trainerState(join(dir, 'output', 'checkpoint-10'), 10);
  }
  if (o.final !== false) {
    writePeftCheckpoint(join(dir, 'output'), { base, rank: R, alpha: ALPHA, targets: 'all', modulesToSave: DPO_TARGETS, seed: 11 });
    trainerState(join(dir, 'output'), 20);
  }
  // PEFT records model_name_or_path as LLaMA-Factory passed it (a repo id stays one).
  if (o.model) for (const d of [join(dir, 'output'), join(dir, 'output', 'checkpoint-10')]) recordBase(d, o.model);
  return dir;
}

const run = makeRun('dpo-run');

/** A safetensors tensor in f32 (F32 or BF16), read plainly from the format. */
function safetensor(path: string, name: string): { shape: number[]; values: Float32Array } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + n).toString())[name];
  const bytes = buf.subarray(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1]);
  const count = h.shape.reduce((a: number, d: number) => a * d, 1);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = h.dtype === 'F32' ? bytes.readFloatLE(i * 4) : new Float32Array(new Uint32Array([bytes.readUInt16LE(i * 2) << 16]).buffer)[0];
  return { shape: h.shape, values };
}

/** The f32 values of a tensor of a GGUF. */
function ggufF32(path: string, name: string): Float32Array {
  const f = readGguf(path, { skipArrays: true });
  const t = f.tensors.find((x) => x.name === name)!;
  assert.equal(t.type, 0, `${name} is f32`);
  const n = t.dims.reduce((a, d) => a * Number(d), 1);
  const buf = Buffer.alloc(n * 4);
  const fd = openSync(path, 'r');
  try { readSync(fd, buf, 0, buf.length, f.dataOffset + Number(t.offset)); } finally { closeSync(fd); }
  return new Float32Array(buf.buffer, buf.byteOffset, n);
}

async function reply(model: string, env: Record<string, string>) {
  const c = await runCli(['chat', '-m', model, ...chatArgs], { env });
  assert.equal(c.code, 0, c.stderr);
  return JSON.parse(c.stdout) as { reply: string; template: string };
}

test('export --name: the final adapter merged (its lm_head answers TRAINED_REPLY where the base answers BASE_REPLY), registered with the run\'s template', async () => {
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const b = await runCli(['create', 'the-base', '--from', base, '--template', 'llama3', '--quantize', 'q8_0'], { env });
  assert.equal(b.code, 0, b.stderr);
  const br = await reply('the-base', env);
  assert.deepEqual([br.reply, br.template], [BASE_REPLY, 'llama3']);

  const e = await runCli(['train', 'export', run, '--name', 'dpo-zh', '--quantize', 'q8_0', '-t', '1'], { env });
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, /^created dpo-zh: GGUF Q8_0, /m);
  assert.equal(e.stdout, `exported the final adapter of ${run}, merged into ${base}: dpo-zh (chat template llama3)\nnext:\n  llama3-zh chat -m dpo-zh\n  llama3-zh eval -m dpo-zh --data DIR --tasks ceval,cmmlu\n`);
  const r = await reply('dpo-zh', env);
  assert.equal(r.reply, TRAINED_REPLY);
  assert.equal(r.template, 'llama3');

  // The name is taken now: --force replaces it (with checkpoint-10, whose adapter has no lm_head: the base's reply).
  assertOneLineError(await runCli(['train', 'export', run, '--name', 'dpo-zh'], { env }), /^llama3-zh train: a model named dpo-zh is in the store already .*pass --force to replace it/);
  const f = await runCli(['train', 'export', run, '--name', 'dpo-zh', '--checkpoint', '10', '--quantize', 'q8_0', '--force', '-t', '1'], { env });
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /^exported checkpoint-10 of /);
  assert.match(f.stderr, /^replaced dpo-zh: /m);
  assert.equal((await reply('dpo-zh', env)).reply, BASE_REPLY);
});

test('export --out f32: q_proj is W + (alpha/r)·B·A in llama.cpp\'s row order, the trained norms are the adapter\'s, the run\'s template is inside', async () => {
  const out = join(root, 'dpo.gguf');
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const e = await runCli(['train', 'export', run, '--out', out, '--type', 'f32'], { env });
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, new RegExp(`^wrote ${out}: GGUF F32, `, 'm'));
  assert.equal(e.stdout, `exported the final adapter of ${run}, merged into ${base}: ${out} (chat template llama3)\nnext:\n  llama3-zh chat -m ${out}\n  llama3-zh create NAME --from ${out}\n`);

  // Computed here from the files: W from the base, A and B from the adapter, in f64.
  const W = safetensor(join(base, 'model.safetensors'), 'model.layers.1.self_attn.q_proj.weight');
  const adapter = join(run, 'output', 'adapter_model.safetensors');
  const A = safetensor(adapter, 'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight');
  const B = safetensor(adapter, 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight');
  const [rows, cols] = W.shape;
  assert.deepEqual([A.shape, B.shape], [[R, cols], [rows, R]]);
  const got = ggufF32(out, 'blk.1.attn_q.weight');
  const heads = 4, hd = rows / heads;
  let maxErr = 0, maxDelta = 0;
  for (let r = 0; r < rows; r++) {
    // convert_hf_to_gguf's permute: GGUF row h·d + 2i + j is HF row h·d + j·d/2 + i.
    const h = Math.floor(r / hd), k = r % hd;
    const src = h * hd + (k & 1) * (hd / 2) + (k >> 1);
    for (let c = 0; c < cols; c++) {
      let ba = 0;
      for (let x = 0; x < R; x++) ba += B.values[src * R + x] * A.values[x * cols + c];
      const want = W.values[src * cols + c] + (ALPHA / R) * ba;
      maxErr = Math.max(maxErr, Math.abs(got[r * cols + c] - want));
      maxDelta = Math.max(maxDelta, Math.abs(ba));
    }
  }
  assert.ok(maxDelta > 1e-3, `the LoRA update is real (${maxDelta})`);
  assert.ok(maxErr < 1e-6, `merged q_proj off by ${maxErr}`);
  // modules_to_save: the final norm is the adapter's tensor, not the base's ones.
  assert.deepEqual(ggufF32(out, 'output_norm.weight'), safetensor(adapter, 'base_model.model.model.norm.weight').values);
  assert.equal(meta<string>(readGguf(out), 'tokenizer.chat_template'), LLAMA3_JINJA);
  assert.equal(meta<boolean>(readGguf(out), 'tokenizer.ggml.add_bos_token'), true);
  const r = await reply(out, env);
  assert.deepEqual([r.reply, r.template], [TRAINED_REPLY, 'llama3']);
});

test('a run trained with LLaMA-Factory\'s default template: lf-default registered, its Jinja in the GGUF (the base has none of its own)', async () => {
  const dir = makeRun('sft-default', { template: 'default', checkpoints: false });
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const out = join(root, 'sft-default.gguf');
  const e = await runCli(['train', 'export', dir, '--out', out, '--type', 'q8_0'], { env });
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /\(chat template lf-default\)\n/);
  assert.equal(meta<string>(readGguf(out), 'tokenizer.chat_template'), lfDefaultJinja('<|end_of_text|>'));
  // Trained without BOS: llama.cpp and ollama add the tokenizer's BOS unless the file says not to.
  assert.equal(meta<boolean>(readGguf(out), 'tokenizer.ggml.add_bos_token'), false);
  const messages = join(root, 'messages.json');
  writeFileSync(messages, JSON.stringify([{ role: 'system', content: 'S' }, { role: 'user', content: '你好' }]));
  const expected = { template: 'lf-default', prompt: 'System: S<|end_of_text|>\nHuman: 你好<|end_of_text|>\nAssistant:' };
  const fromFile = await runCli(['template', 'render', '-m', out, '--messages', messages, '--json'], { env });
  assert.deepEqual(JSON.parse(fromFile.stdout), expected);
  const n = await runCli(['train', 'export', dir, '--name', 'sft-default', '--quantize', 'q8_0'], { env });
  assert.equal(n.code, 0, n.stderr);
  const byName = await runCli(['template', 'render', '-m', 'sft-default', '--messages', messages, '--json'], { env });
  assert.deepEqual(JSON.parse(byName.stdout), expected);
  // The stored file carries the run's template as well: llama.cpp or ollama reading it see the trained format.
  const stored = (JSON.parse((await runCli(['ls', '--json'], { env })).stdout) as { name: string; path: string }[]).find((m) => m.name === 'sft-default')!;
  assert.equal(meta<string>(readGguf(stored.path), 'tokenizer.chat_template'), lfDefaultJinja('<|end_of_text|>'));
  assert.equal(meta<boolean>(readGguf(stored.path), 'tokenizer.ggml.add_bos_token'), false);
  // It runs, its prompt without BOS (the reply is the scripted base's business).
  assert.equal((await runCli(['chat', '-m', 'sft-default', ...chatArgs], { env })).code, 0);
});

test('the base found in the Hugging Face cache, where LLaMA-Factory downloaded model_name_or_path; a full run converted as it is', async () => {
  // HF_HOME/hub/models--owner--name/snapshots/<rev>/ of symlinks into blobs, and refs/main naming the revision.
  const hfHome = join(root, 'hf-home');
  const repo = join(hfHome, 'hub', 'models--meta-llama--Meta-Llama-3-8B');
  const snap = join(repo, 'snapshots', '8cde5ca8380496c9a6cc7ef3a8b46a0372a1d920');
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(repo, 'refs'));
  writeFileSync(join(repo, 'refs', 'main'), '8cde5ca8380496c9a6cc7ef3a8b46a0372a1d920');
  for (const f of readdirSync(base)) symlinkSync(join(base, f), join(snap, f));
  const dir = makeRun('cached-base', { model: 'meta-llama/Meta-Llama-3-8B', checkpoints: false });
  const env = { LLAMA3ZH_HOME: emptyHome(), HF_HOME: hfHome };
  const out = join(root, 'cached.gguf');
  const e = await runCli(['train', 'export', dir, '--out', out, '--type', 'q8_0'], { env });
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, new RegExp(`^exported the final adapter of ${dir}, merged into ${snap}: `));
  assert.equal((await reply(out, env)).reply, TRAINED_REPLY);
  // Elsewhere (no HF_HOME there): one line with both ways out.
  assertOneLineError(await runCli(['train', 'export', dir, '--out', join(root, 'x.gguf')], { env: { LLAMA3ZH_HOME: emptyHome(), HF_HOME: join(root, 'empty-hf') } }),
    /^llama3-zh train: the run's base model meta-llama\/Meta-Llama-3-8B is not here \(not in the store, nor in the Hugging Face cache .*empty-hf\/hub\); pull it with llama3-zh pull meta-llama\/Meta-Llama-3-8B --format safetensors, or pass its Hugging Face folder: --base DIR$/);

  // finetuning_type full: output/ is the whole model (here: the base's files), converted with the run's template.
  const full = makeRun('full-run', { ft: 'full', checkpoints: false, final: false });
  for (const f of readdirSync(base)) symlinkSync(join(base, f), join(full, 'output', f));
  trainerState(join(full, 'output'), 20);
  const fout = join(root, 'full.gguf');
  const fe = await runCli(['train', 'export', full, '--out', fout, '--type', 'q8_0'], { env });
  assert.equal(fe.code, 0, fe.stderr);
  assert.match(fe.stdout, new RegExp(`^exported the final model of ${full}: ${fout} \\(chat template llama3\\)\n`));
  const r = await reply(fout, env);
  assert.deepEqual([r.reply, r.template], [BASE_REPLY, 'llama3']);
});

test('bad input: each one line, nothing written', async () => {
  const env = { LLAMA3ZH_HOME: emptyHome() };
  const out = join(root, 'never.gguf');
  const fail = async (args: string[], re: RegExp) => assertOneLineError(await runCli(['train', 'export', ...args], { env }), re);
  await fail([join(root, 'nothing-here'), '--out', out], /^llama3-zh train: .*nothing-here does not exist: give the folder `llama3-zh train init` wrote/);
  const noRun = join(root, 'no-run');
  mkdirSync(noRun);
  await fail([noRun, '--out', out], /^llama3-zh train: .*no-run has no train\.yaml: make one with `llama3-zh train init/);
  const fresh = makeRun('fresh', { checkpoints: false, final: false });
  await fail([fresh, '--out', out], /^llama3-zh train: training has not saved a checkpoint yet; LLaMA-Factory writes one to .*fresh\/output every 10 steps \(save_steps\) and the final adapter at the end: follow it with llama3-zh train watch /);
  const rm = makeRun('reward', { checkpoints: false, final: false });
  writeFileSync(join(rm, 'train.yaml'), readFileSync(join(rm, 'train.yaml'), 'utf8').replace('stage: dpo', 'stage: rm'));
  await fail([rm, '--out', out], /^llama3-zh train: .*reward\/train\.yaml: stage rm trains a reward model, which scores answers with a value head instead of writing text; it is not a model llama\.cpp can chat with/);
  const pickles = makeRun('pickles', { checkpoints: false, final: false });
  writeFileSync(join(pickles, 'output', 'adapter_config.json'), '{}');
  writeFileSync(join(pickles, 'output', 'adapter_model.bin'), 'PK');
  await fail([pickles, '--out', out], /^llama3-zh train: .*pickles\/output holds adapter_model\.bin: the run saved PyTorch pickles \(save_safetensors: false\), which llama3-zh does not read \(loading one can run code\); train with save_safetensors: true, LLaMA-Factory's default$/);
  await fail([run, '--checkpoint', '30', '--out', out], /^llama3-zh train: no checkpoint-30 in .*dpo-run\/output; there are: 10 \(and the final adapter, the default\)$/);
  await fail([run], /^llama3-zh train: give one of --name NAME \(a model in the store\) or --out OUT\.gguf \(a file\)$/);
  await fail([run, '--name', 'x', '--out', out], /^llama3-zh train: give only one of --name NAME/);
  await fail([run, '--out', out, '--type', 'q9'], /^llama3-zh train: unknown type 'q9'; the types are: auto, f32, /);
  const lost = makeRun('lost-base', { model: join(root, 'deleted-base'), checkpoints: false });
  await fail([lost, '--out', out], /^llama3-zh train: the run's base model .*deleted-base is not here; pass its Hugging Face folder: --base DIR$/);
  // An adapter trained on a narrower model (hidden 32): named, before any byte is written.
  const narrow = join(root, 'narrow-base');
  mkdirSync(narrow);
  const cfg = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));
  writeFileSync(join(narrow, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 32, head_dim: 8 }));
  const other = makeRun('other-model', { checkpoints: false, final: false });
  writePeftCheckpoint(join(other, 'output'), { base: narrow, rank: R, alpha: ALPHA, targets: 'q_proj,v_proj' });
  trainerState(join(other, 'output'), 20);
  await fail([other, '--out', out], /^llama3-zh train: .*output: "model\.layers\.0\.self_attn\.q_proj" gives a 32×32 update but the base model's model\.layers\.0\.self_attn\.q_proj\.weight is 64×64; the adapter was trained on another model$/);
  await fail([other, '--name', 'other'], /the adapter was trained on another model$/);
  assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('never') || f.startsWith('.never')), []);
  const ls = await runCli(['ls', '--json'], { env });
  assert.deepEqual(JSON.parse(ls.stdout), []);
  // An existing OUT needs --force.
  writeFileSync(out, 'mine');
  await fail([run, '--out', out], /^llama3-zh train: .*never\.gguf exists; pass --force to replace it$/);
  assert.equal(readFileSync(out, 'utf8'), 'mine');
});

test('Ctrl-C during export --out leaves no file, no temp file', async () => {
  const dir = mkdtempSync(join(root, 'interrupted-'));
  const out = join(dir, 'dpo.gguf');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'export', run, '--out', out, '--type', 'f32'], {
    env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'],
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
  assert.match(stderr.trim().split('\n').pop()!, /^llama3-zh train: interrupted; nothing was written$/);
  assert.deepEqual(readdirSync(dir), []);
});

test('Ctrl-C during export --name leaves no model in the store, no temp file', async () => {
  const home = emptyHome();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'export', run, '--name', 'cut', '--type', 'f32'], {
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
  assert.match(stderr.trim().split('\n').pop()!, /^llama3-zh train: interrupted; nothing was kept$/);
  const ls = await runCli(['ls', '--json'], { env: { LLAMA3ZH_HOME: home } });
  assert.deepEqual(JSON.parse(ls.stdout), []);
  const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]));
  assert.deepEqual(files(home).filter((f) => f.endsWith('.gguf') || /\.tmp|temp/i.test(f)), []);
});

test('planExport: llama3-zh.json\'s chat template first; default with an Instruct tokenizer is LLaMA-Factory\'s Jinja with <|eot_id|>; --base; a half-written checkpoint is passed over', () => {
  const dir = makeRun('planned', { template: 'default', final: false });
  assert.deepEqual(planExport(dir).template, { name: 'lf-default', lf: 'default' });
  assert.equal(planExport(dir).label, 'checkpoint-10');
  // LLaMA-Factory is still writing checkpoint-20: the last complete one is exported.
  mkdirSync(join(dir, 'output', 'checkpoint-20'));
  writeFileSync(join(dir, 'output', 'checkpoint-20', 'adapter_config.json'), '{}');
  assert.equal(planExport(dir).saved.step, 10);
  assert.throws(() => planExport(dir, { checkpoint: 20 }), /checkpoint-20 holds no adapter_model\.safetensors \(is it still being written\?\)$/);
  // Its adapter written, the optimizer still being saved (no trainer_state.json yet): passed over, and said so.
  writePeftCheckpoint(join(dir, 'output', 'checkpoint-20'), { base, rank: R, alpha: ALPHA, targets: 'all', seed: 20 });
  assert.deepEqual([planExport(dir).saved.step, planExport(dir).skipped], [10, 'checkpoint-20 is not complete yet (no trainer_state.json, which the trainer writes last): passed over']);
  assert.throws(() => planExport(dir, { checkpoint: 20 }), /checkpoint-20 holds no trainer_state\.json, which the trainer writes last \(is it still being written\?\)$/);
  // checkpoint-9 before checkpoint-10: by step, not by name.
  writePeftCheckpoint(join(dir, 'output', 'checkpoint-9'), { base, rank: R, alpha: ALPHA, targets: 'q_proj', seed: 9 });
  trainerState(join(dir, 'output', 'checkpoint-9'), 9);
  trainerState(join(dir, 'output', 'checkpoint-20'), 20);
  assert.deepEqual([planExport(dir).saved.step, planExport(dir).skipped], [20, undefined]);
  assert.equal(planExport(dir, { checkpoint: 9 }).label, 'checkpoint-9');

  // An Instruct base (eos <|eot_id|>): LLaMA-Factory's default writes that eos, which lf-default does not.
  const instruct = join(root, 'instruct-base');
  mkdirSync(instruct);
  for (const f of readdirSync(base)) if (f !== 'tokenizer_config.json') symlinkSync(join(base, f), join(instruct, f));
  const tc = JSON.parse(readFileSync(join(base, 'tokenizer_config.json'), 'utf8'));
  writeFileSync(join(instruct, 'tokenizer_config.json'), JSON.stringify({ ...tc, eos_token: '<|eot_id|>' }));
  const p = planExport(dir, { base: instruct });
  assert.equal(p.model, instruct);
  // Trained on the Instruct model, train.yaml edited since to name the base (same shapes): refused, not merged silently.
  recordBase(join(dir, 'output', 'checkpoint-20'), instruct);
  assert.throws(() => planExport(dir), new RegExp(`names the base ${base}, but the adapter was trained on ${instruct} \\(its adapter_config\\.json base_model_name_or_path\\); pass the one to merge into: --base DIR$`));
  assert.equal(planExport(dir, { base: instruct }).model, instruct);
  recordBase(join(dir, 'output', 'checkpoint-20'), 'meta-llama/Meta-Llama-3-8B-Instruct');
  writeFileSync(join(dir, 'train.yaml'), readFileSync(join(dir, 'train.yaml'), 'utf8').replace(`model_name_or_path: ${base}`, 'model_name_or_path: meta-llama/Meta-Llama-3-8B'));
  assert.throws(() => planExport(dir, {}), /names the base meta-llama\/Meta-Llama-3-8B, but the adapter was trained on meta-llama\/Meta-Llama-3-8B-Instruct/);
  writeFileSync(join(dir, 'train.yaml'), readFileSync(join(dir, 'train.yaml'), 'utf8').replace('model_name_or_path: meta-llama/Meta-Llama-3-8B', `model_name_or_path: ${base}`));
  // A path from the machine it was trained on says nothing here: train.yaml's base is used.
  recordBase(join(dir, 'output', 'checkpoint-20'), '/data/models/Meta-Llama-3-8B');
  assert.equal(planExport(dir).model, base);
  assert.deepEqual(p.template, { source: lfDefaultJinja('<|eot_id|>'), lf: 'default' });

  // Trained on top of earlier adapters, which LLaMA-Factory merged into the base first: refused without --base.
  const yaml = readFileSync(join(dir, 'train.yaml'), 'utf8');
  writeFileSync(join(dir, 'train.yaml'), `${yaml}adapter_name_or_path: saves/sft-lora, saves/resumed\n`);
  assert.throws(() => planExport(dir), new RegExp(`train\\.yaml: LLaMA-Factory merged saves/sft-lora \\(adapter_name_or_path\\) into ${base} before training, and llama3-zh merges one adapter; write that merge with llamafactory-cli export \\(adapter_name_or_path: saves/sft-lora, export_dir: DIR\\), then pass --base DIR$`));
  writeFileSync(join(dir, 'train.yaml'), `${yaml}adapter_name_or_path: saves/sft-lora\ncreate_new_adapter: true\n`);
  assert.throws(() => planExport(dir), /LLaMA-Factory merged saves\/sft-lora \(adapter_name_or_path\)/);
  // --base: the merge, made elsewhere.
  assert.equal(planExport(dir, { base: instruct }).model, instruct);
  // One adapter resumed (create_new_adapter false): the saved adapter is that one, trained on: exported.
  writeFileSync(join(dir, 'train.yaml'), `${yaml}adapter_name_or_path: saves/sft-lora\n`);
  assert.equal(planExport(dir).model, base);
  writeFileSync(join(dir, 'train.yaml'), yaml);

  // Finished at step 20, then resumed (more epochs): checkpoint-30 is newer than the final adapter of the first run.
  const resumed = makeRun('resumed');
  assert.deepEqual([planExport(resumed).label, planExport(resumed).skipped], ['the final adapter', undefined]);
  writePeftCheckpoint(join(resumed, 'output', 'checkpoint-30'), { base, rank: R, alpha: ALPHA, targets: 'q_proj', seed: 30 });
  trainerState(join(resumed, 'output', 'checkpoint-30'), 30);
  assert.deepEqual([planExport(resumed).label, planExport(resumed).skipped], ['checkpoint-30', 'the final adapter is from step 20, before checkpoint-30 (training was resumed since): passed over']);

  // pissa_init: the adapters are PiSSA's (a change to the residual base); pissa_convert's plain LoRA is the one.
  const pissa = makeRun('pissa');
  const pissaInit = (d: string) => writeFileSync(join(d, 'adapter_config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(d, 'adapter_config.json'), 'utf8')), init_lora_weights: 'pissa_niter_16' }));
  pissaInit(join(pissa, 'output'));
  pissaInit(join(pissa, 'output', 'checkpoint-10'));
  assert.throws(() => planExport(pissa), new RegExp(`^UserError: the final adapter of ${pissa} is a PiSSA adapter \\(init_lora_weights: pissa_niter_16\\), a change to the base with its principal components taken out, which a merge into the base cannot make; export the final save of a run trained with pissa_convert: true \\(LLaMA-Factory writes it as a plain LoRA to ${pissa}/output/pissa_converted\\)$`));
  writePeftCheckpoint(join(pissa, 'output', 'pissa_converted'), { base, rank: 2 * R, alpha: 2 * ALPHA, targets: 'all', modulesToSave: DPO_TARGETS, seed: 12 });
  const pp = planExport(pissa);
  assert.deepEqual([pp.label, pp.adapter], ['the final adapter (pissa_converted)', join(pissa, 'output', 'pissa_converted')]);
  assert.throws(() => planExport(pissa, { checkpoint: 10 }), /checkpoint-10 of .* is a PiSSA adapter/);

  // What train init recorded wins over the name mapping.
  writeFileSync(join(dir, 'llama3-zh.json'), JSON.stringify({ version: 1, recipe: 'sft-base-zh', model: { given: base, path: base }, template: 'default', chatTemplate: 'llama3-v1' }));
  assert.deepEqual(planExport(dir).template, { name: 'llama3-v1', lf: 'default' });
  // A template of LLaMA-Factory's with no twin here: the Jinja it saved with the checkpoint.
  const qwen = makeRun('qwen-template', { template: 'qwen', checkpoints: false });
  writeFileSync(join(qwen, 'output', 'tokenizer_config.json'), JSON.stringify({ chat_template: '{{ messages[0].content }}' }));
  assert.deepEqual(planExport(qwen).template, { source: '{{ messages[0].content }}', lf: 'qwen' });
  // transformers ≥ 4.52 (LLaMA-Factory's 4.57.6) saves it as chat_template.jinja, which wins over tokenizer_config.json's.
  writeFileSync(join(qwen, 'output', 'chat_template.jinja'), "{{ 'J' + messages[0].content }}");
  assert.deepEqual(planExport(qwen).template, { source: "{{ 'J' + messages[0].content }}", lf: 'qwen' });
});

test('the Hugging Face cache as huggingface_hub reads it: its env variables, train.yaml\'s cache_dir and model_revision, only the revision asked for, whole', () => {
  assert.equal(hfHubCache({ HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/h' }), '/a');
  assert.equal(hfHubCache({ HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/h' }), '/b');
  assert.equal(hfHubCache({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }), '/h/hub');
  assert.equal(hfHubCache({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
  assert.equal(hfHubCache({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
  assert.equal(hfHubCache({}), join(homedir(), '.cache', 'huggingface', 'hub'));

  // train.yaml's cache_dir (relative: to the run folder, LLaMA-Factory's working directory) holds models--… itself.
  const dir = makeRun('cache-dir', { model: 'meta-llama/Meta-Llama-3-8B', final: false });
  const repo = join(dir, 'hf-cache', 'models--meta-llama--Meta-Llama-3-8B');
  const snap = (rev: string, files = readdirSync(base)) => {
    const d = join(repo, 'snapshots', rev);
    mkdirSync(d, { recursive: true });
    for (const f of files) symlinkSync(join(base, f), join(d, f));
    return d;
  };
  const main = 'a'.repeat(40), v2 = 'b'.repeat(40), old = 'c'.repeat(40);
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), main);
  const oldSnap = snap(old);
  // refs/main names a snapshot that is not there: no other revision stands in for it.
  assert.equal(hfCacheSnapshot('meta-llama/Meta-Llama-3-8B', { cacheDir: join(dir, 'hf-cache') }), undefined);
  // A download cut short: config.json there, the weights not.
  snap(main, readdirSync(base).filter((f) => f !== 'model.safetensors'));
  assert.equal(hfCacheSnapshot('meta-llama/Meta-Llama-3-8B', { cacheDir: join(dir, 'hf-cache') }), undefined);
  symlinkSync(join(base, 'model.safetensors'), join(repo, 'snapshots', main, 'model.safetensors'));
  writeFileSync(join(dir, 'train.yaml'), readFileSync(join(dir, 'train.yaml'), 'utf8') + 'cache_dir: hf-cache\n');
  assert.equal(planExport(dir).model, join(repo, 'snapshots', main));
  // model_revision: a branch (refs/v2) or a commit hash.
  writeFileSync(join(repo, 'refs', 'v2'), v2);
  const v2Snap = snap(v2);
  writeFileSync(join(dir, 'train.yaml'), readFileSync(join(dir, 'train.yaml'), 'utf8') + 'model_revision: v2\n');
  assert.equal(planExport(dir).model, v2Snap);
  assert.equal(hfCacheSnapshot('meta-llama/Meta-Llama-3-8B', { cacheDir: join(dir, 'hf-cache'), revision: old }), oldSnap);
  assert.equal(hfCacheSnapshot('meta-llama/Meta-Llama-3-8B', { cacheDir: join(dir, 'hf-cache'), revision: 'v3' }), undefined);
});
