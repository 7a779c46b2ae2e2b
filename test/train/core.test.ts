import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkArg, checkConfig, LF_ARGS, LF_SOURCE, LF_TEMPLATES, parseOverride } from '../../src/train/args.js';
import { launchPlan } from '../../src/train/launch.js';
import { openRun } from '../../src/train/runDir.js';
import { parseTimedelta, TrainerLogReader } from '../../src/train/trainerLog.js';

test('the argument table holds the keys the recipes use, each in the group LLaMA-Factory parses it into', () => {
  assert.equal(LF_SOURCE.version, '0.9.6.dev0');
  const where = (k: string) => LF_ARGS[k]?.group;
  assert.equal(where('model_name_or_path'), 'ModelArguments');
  assert.equal(where('quantization_bit'), 'ModelArguments');
  assert.equal(where('dataset_dir'), 'DataArguments');
  assert.equal(where('cutoff_len'), 'DataArguments');
  assert.equal(where('pref_beta'), 'FinetuningArguments');
  assert.equal(where('additional_target'), 'FinetuningArguments');
  // transformers' Seq2SeqTrainingArguments fields, which LLaMA-Factory's TrainingArguments inherits
  assert.equal(where('learning_rate'), 'TrainingArguments');
  assert.equal(where('deepspeed'), 'TrainingArguments');
  assert.equal(where('predict_with_generate'), 'TrainingArguments');
  assert.equal(where('ray_num_workers'), 'TrainingArguments');
  assert.deepEqual(LF_ARGS.stage.choices, ['pt', 'sft', 'rm', 'ppo', 'dpo', 'kto']);
  assert.deepEqual(LF_ARGS.finetuning_type.choices, ['lora', 'oft', 'freeze', 'full']);
  assert.ok(LF_TEMPLATES.includes('llama3') && LF_TEMPLATES.includes('default') && !LF_TEMPLATES.includes('llama3.1'));
});

test('checkArg: unknown keys with a suggestion, wrong types and values outside the choices', () => {
  assert.equal(checkArg('lora_rnak', 8), 'LLaMA-Factory 0.9.6.dev0 has no setting "lora_rnak" (did you mean lora_rank?)');
  assert.equal(checkArg('zzzzzzzz', 8), 'LLaMA-Factory 0.9.6.dev0 has no setting "zzzzzzzz"');
  assert.equal(checkArg('lora_rank', 'abc'), 'lora_rank must be a whole number, not "abc"');
  assert.equal(checkArg('lora_rank', 8.5), 'lora_rank must be a whole number, not 8.5');
  assert.equal(checkArg('learning_rate', '5e-6'), 'learning_rate must be a number, not "5e-6"');
  assert.equal(checkArg('bf16', 'yes'), 'bf16 must be true or false, not "yes"');
  assert.equal(checkArg('stage', 'orpo'), 'stage must be one of pt, sft, rm, ppo, dpo, kto, not "orpo"');
  assert.equal(checkArg('lr_scheduler_type', 'cosine'), undefined);
  assert.equal(checkArg('quantization_method', 'bnb'), undefined);
  assert.equal(checkArg('quantization_bit', null), undefined);
  assert.equal(checkArg('cutoff_len', null), 'cutoff_len cannot be null (int)');
  assert.deepEqual(checkConfig({ template: 'llama-3', stage: 'dpo', pref_beta: 0.5 }), [
    'template "llama-3" is not one of LLaMA-Factory\'s templates (llama3, default, alpaca, vicuna, …)',
  ]);
});

test('parseOverride reads KEY=VALUE as the key\'s type', () => {
  assert.deepEqual(parseOverride('lora_rank=128'), ['lora_rank', 128]);
  assert.deepEqual(parseOverride('learning_rate=5e-6'), ['learning_rate', 5e-6]);
  assert.deepEqual(parseOverride('bf16=false'), ['bf16', false]);
  assert.deepEqual(parseOverride('lora_target=q_proj,v_proj'), ['lora_target', 'q_proj,v_proj']);
  assert.deepEqual(parseOverride('quantization_bit=null'), ['quantization_bit', null]);
  assert.deepEqual(parseOverride('pref_loss=orpo'), ['pref_loss', 'orpo']);
  assert.throws(() => parseOverride('lora_rank'), /"lora_rank" is not KEY=VALUE/);
  assert.throws(() => parseOverride('=3'), /is not KEY=VALUE/);
  assert.throws(() => parseOverride('lora_rnak=8'), /no setting "lora_rnak" \(did you mean lora_rank\?\)/);
  assert.throws(() => parseOverride('num_train_epochs=three'), /num_train_epochs must be a number, not "three"/);
});

test('parseTimedelta reads Python str(timedelta)', () => {
  assert.equal(parseTimedelta('0:01:05'), 65);
  assert.equal(parseTimedelta('12:00:00'), 43200);
  assert.equal(parseTimedelta('1 day, 2:03:04'), 93784);
  assert.equal(parseTimedelta('3 days, 0:00:01'), 259201);
  assert.equal(parseTimedelta(''), undefined);
  assert.equal(parseTimedelta('soon'), undefined);
});

test('TrainerLogReader follows a growing log, waits for a torn line, skips foreign lines, restarts on a new file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainlog-'));
  try {
    const path = join(dir, 'trainer_log.jsonl');
    const r = new TrainerLogReader(path);
    assert.deepEqual(r.read(), { lines: [], reset: false });
    const l1 = '{"current_steps": 10, "total_steps": 30, "loss": 2.5, "lr": 5e-06, "epoch": 0.33, "percentage": 33.33, "elapsed_time": "0:00:10", "remaining_time": "0:00:20"}';
    writeFileSync(path, `${l1}\n{"current_steps": 20, "total_st`);
    let got = r.read();
    assert.equal(got.lines.length, 1);
    assert.equal(got.lines[0].loss, 2.5);
    appendFileSync(path, 'eps": 30, "loss": 1.75, "percentage": 66.67, "elapsed_time": "0:00:20", "remaining_time": "0:00:10"}\nnot json\n[1,2]\n');
    got = r.read();
    assert.deepEqual(got.lines.map((l) => [l.current_steps, l.loss]), [[20, 1.75]]);
    assert.deepEqual(r.read(), { lines: [], reset: false });
    // LLaMA-Factory deletes the log when a run starts over (overwrite_output_dir): a new file, read from the top
    rmSync(path);
    writeFileSync(path, `${l1}\n`);
    got = r.read();
    assert.equal(got.reset, true);
    assert.equal(got.lines.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('launchPlan: the environment LLaMA-Factory\'s launcher reads, for one GPU, DeepSpeed, several GPUs, two nodes and Ray', () => {
  const cmd = ['llamafactory-cli', 'train', 'train.yaml'];
  assert.deepEqual(launchPlan('/r', {}), { command: cmd, env: {}, cwd: '/r' });
  assert.deepEqual(launchPlan('/r', { deepspeed: 'ds_z3_config.json' }).env, { FORCE_TORCHRUN: '1' });
  assert.deepEqual(launchPlan('/r', {}, { gpus: [0, 1, 2, 3] }).env, { CUDA_VISIBLE_DEVICES: '0,1,2,3', FORCE_TORCHRUN: '1', NPROC_PER_NODE: '4' });
  assert.deepEqual(launchPlan('/r', {}, { gpus: [3] }).env, { CUDA_VISIBLE_DEVICES: '3', NPROC_PER_NODE: '1' });
  assert.deepEqual(launchPlan('/r', {}, { nproc: 8, nnodes: 2, nodeRank: 1, masterAddr: '10.0.0.1' }).env, {
    FORCE_TORCHRUN: '1', NPROC_PER_NODE: '8', NNODES: '2', NODE_RANK: '1', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500',
  });
  assert.deepEqual(launchPlan('/r', {}, { gpus: [0, 1], ray: true }).env, { CUDA_VISIBLE_DEVICES: '0,1', USE_RAY: '1' });
  assert.throws(() => launchPlan('/r', {}, { nnodes: 2, masterAddr: 'h' }), /needs --node-rank R on each/);
  assert.throws(() => launchPlan('/r', {}, { nnodes: 2, nodeRank: 2, masterAddr: 'h' }), /--node-rank must be 0…1 for 2 nodes, not 2/);
  assert.throws(() => launchPlan('/r', {}, { nnodes: 2, nodeRank: 0 }), /needs --master-addr HOST/);
  assert.throws(() => launchPlan('/r', {}, { nnodes: 2, nodeRank: 0, masterAddr: 'h', ray: true }), /--ray and --nnodes do not go together/);
});

test('openRun reads a run folder or a hand-made LLaMA-Factory yaml, and says what is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainrun-'));
  try {
    assert.throws(() => openRun(join(dir, 'nope')), /does not exist: give the folder `llama3-zh train init` wrote/);
    assert.throws(() => openRun(dir), /has no train\.yaml: make one with `llama3-zh train init/);
    writeFileSync(join(dir, 'train.yaml'), 'stage: [sft\n');
    assert.throws(() => openRun(dir), /train\.yaml is not a LLaMA-Factory config: /);
    writeFileSync(join(dir, 'train.yaml'), 'stage: sft\n');
    assert.throws(() => openRun(dir), /has no output_dir: LLaMA-Factory needs one/);
    writeFileSync(join(dir, 'train.yaml'), '### model\nmodel_name_or_path: /m\nlearning_rate: 5.0e-06\noutput_dir: saves/x\n');
    const run = openRun(dir);
    assert.equal(run.outputDir, join(dir, 'saves', 'x'));
    assert.equal(run.trainerLog, join(dir, 'saves', 'x', 'trainer_log.jsonl'));
    assert.equal(run.config.learning_rate, 5e-6);
    assert.equal(run.meta, undefined);
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'lora.yaml'), 'output_dir: /abs/out\n');
    assert.equal(openRun(join(dir, 'other', 'lora.yaml')).outputDir, '/abs/out');
    writeFileSync(join(dir, 'llama3-zh.json'), '{');
    assert.throws(() => openRun(dir), /llama3-zh\.json is damaged/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
