import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DS_CONFIG } from '../../src/train/deepspeed.js';
import { openRun } from '../../src/train/runDir.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';

const root = mkdtempSync(join(tmpdir(), 'train-init-'));
let n = 0;

const CHAT = [
  { conversations: [{ from: 'human', value: '你好' }, { from: 'gpt', value: '你好！有什么可以帮你？' }] },
  { system: '你是助手', conversations: [{ from: 'human', value: '1+1等于几？' }, { from: 'gpt', value: '等于2。' }, { from: 'human', value: '为什么？' }, { from: 'gpt', value: '因为加法。' }] },
  { conversations: [{ from: 'human', value: '天空为什么是蓝色的？' }, { from: 'gpt', value: '因为瑞利散射：短波长的蓝光被空气分子散射得更多。' }] },
];
const PAIRS = [
  { conversations: [{ from: 'human', value: '你好' }], chosen: { from: 'gpt', value: '你好呀😊' }, rejected: { from: 'gpt', value: 'Hello.' } },
  { conversations: [{ from: 'human', value: '天空为什么是蓝色的？' }], chosen: { from: 'gpt', value: '因为瑞利散射。' }, rejected: { from: 'gpt', value: 'Because.' } },
];
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** A fresh folder holding zh.jsonl (conversations), pairs.jsonl, and two model folders: a base and an Instruct. */
function workdir(): string {
  const d = join(root, `w${++n}`);
  mkdirSync(d);
  writeFileSync(join(d, 'zh.jsonl'), jsonl(CHAT));
  writeFileSync(join(d, 'pairs.jsonl'), jsonl(PAIRS));
  const config = { architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 8192, torch_dtype: 'bfloat16' };
  for (const [name, tok] of [['base', { bos_token: '<|begin_of_text|>' }], ['instruct', { bos_token: '<|begin_of_text|>', chat_template: "{{ '<|start_header_id|>' }}" }]] as const) {
    mkdirSync(join(d, name));
    writeFileSync(join(d, name, 'config.json'), JSON.stringify(config));
    writeFileSync(join(d, name, 'tokenizer_config.json'), JSON.stringify(tok));
    writeFileSync(join(d, name, 'model.safetensors'), '');
  }
  return d;
}

/** PATH without nvidia-smi, so the fit check only uses --gpu-mem (the tests may run on a GPU machine). */
const NO_GPU = { PATH: '/nonexistent' };
const init = (d: string, args: string[], env: Record<string, string> = NO_GPU) => runCli(['train', 'init', ...args], { cwd: d, env });
const read = (p: string) => readFileSync(p, 'utf8');

/** Nothing written: no DIR, and no temp folder beside it. */
function assertNothingWritten(d: string, before: string[]) {
  assert.deepEqual(readdirSync(d).sort(), before.sort());
}

const GOLDEN = join(ROOT, 'test', 'fixtures', 'train');

test('golden train.yaml for every recipe (LLAMA3ZH_WRITE_GOLDEN=1 records them)', async () => {
  const d = workdir();
  for (const [recipe, data] of [['sft-base-zh', 'zh.jsonl'], ['sft-instruct-zh', 'zh.jsonl'], ['dpo-zh', 'pairs.jsonl'], ['orpo-zh', 'pairs.jsonl'], ['qlora-sft-zh', 'zh.jsonl']]) {
    const r = await init(d, ['--recipe', recipe, '--data', data, '--out', recipe, '--gpu-mem', '200']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const yaml = read(join(d, recipe, 'train.yaml'));
    const golden = join(GOLDEN, `${recipe}.yaml`);
    if (process.env.LLAMA3ZH_WRITE_GOLDEN) { mkdirSync(GOLDEN, { recursive: true }); writeFileSync(golden, yaml); }
    assert.equal(yaml, read(golden), `${recipe}: train.yaml differs from test/fixtures/train/${recipe}.yaml`);
    // What LLaMA-Factory will read: the recipe's numbers as numbers (PyYAML-safe floats), paths relative to the folder.
    const c = parse(yaml);
    assert.equal(typeof c.learning_rate, 'number');
    assert.equal(c.dataset_dir, 'data');
    assert.equal(c.output_dir, 'output');
    assert.equal(c.overwrite_output_dir, false);
  }
  const full = parse(read(join(d, 'sft-base-zh', 'train.yaml')));
  assert.equal(full.deepspeed, 'ds_z3_config.json');
  assert.equal(read(join(d, 'sft-base-zh', 'ds_z3_config.json')), DS_CONFIG[3]);
  // LLaMA-Factory's examples/deepspeed/ds_z3_config.json, as JSON.
  const ds = JSON.parse(DS_CONFIG[3]);
  assert.equal(ds.zero_optimization.stage, 3);
  assert.equal(ds.zero_optimization.stage3_gather_16bit_weights_on_model_save, true);
  assert.equal(ds.train_micro_batch_size_per_gpu, 'auto');
  assert.equal(JSON.parse(DS_CONFIG[2]).zero_optimization.stage, 2);
  for (const r of ['sft-instruct-zh', 'dpo-zh', 'orpo-zh', 'qlora-sft-zh']) {
    assert.ok(!readdirSync(join(d, r)).some((f) => f.startsWith('ds_')), `${r} on one GPU needs no DeepSpeed`);
  }
});

test('dpo-zh: the data as a ranking dataset, llama3-zh.json, the summary lines', async () => {
  const d = workdir();
  const r = await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'run', '--gpu-mem', '80']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    "recipe   dpo-zh: shareAI's DPO: Llama-3.1-8B-Instruct + Chinese preference pairs, beta 0.5, LoRA 128/256 with lm_head and the norms",
    'model    meta-llama/Llama-3.1-8B-Instruct (LLaMA-Factory downloads it)',
    'data     pairs.jsonl: 2 preference pairs → data/pairs.jsonl',
    'tokens   p50 18, p99 24, max 24 (Llama-3 tokenizer); 0 of 2 rows (0.0%) over cutoff_len 2048',
    'memory   about 38.0 GiB per GPU (LoRA rank 128, batch 1 × 2048 tokens × 2 (chosen, rejected))',
    '         fits in 80.0 GiB (--gpu-mem)',
    'wrote    run/: train.yaml, data/, run.sh, llama3-zh.json',
    'next     llama3-zh train run run   (or run/run.sh)',
    '',
  ].join('\n'));
  const info = JSON.parse(read(join(d, 'run', 'data', 'dataset_info.json')));
  assert.deepEqual(info, {
    pairs: {
      file_name: 'pairs.jsonl', formatting: 'sharegpt', ranking: true,
      columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected' },
      tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system' },
    },
  });
  assert.equal(read(join(d, 'run', 'data', 'pairs.jsonl')).trim().split('\n').length, 2);
  const run = openRun(join(d, 'run'));
  assert.equal(run.config.dataset, 'pairs');
  assert.equal(run.outputDir, join(d, 'run', 'output'));
  const { createdAt, tool, ...meta } = run.meta!;
  assert.match(createdAt, /^\d{4}-\d\d-\d\dT/);
  assert.equal(tool, JSON.parse(read(join(ROOT, 'package.json'))).version);
  assert.deepEqual(meta, {
    version: 1, recipe: 'dpo-zh', model: { given: 'meta-llama/Llama-3.1-8B-Instruct', repo: 'meta-llama/Llama-3.1-8B-Instruct' },
    template: 'llama3', chatTemplate: 'llama3', datasets: [{ name: 'pairs', kind: 'pair', rows: 2 }], gpus: 1, nnodes: 1,
  });
});

test('sft-base-zh on a base folder: conversations without ranking, the absolute folder, template default → lf-default', async () => {
  const d = workdir();
  const r = await init(d, ['--recipe', 'sft-base-zh', '--model', './base', '--data', 'zh.jsonl', '--out', 'run', '--gpus', '8', '--gpu-mem', '80']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.split('\n');
  assert.equal(lines[1], `model    ${join(d, 'base')}`);
  assert.equal(lines[4], 'memory   about 22.9 GiB per GPU (full fine-tuning, fp32 master weights under bf16, batch 1 × 2048 tokens; ZeRO-3 splits weights, gradients and optimizer states over 8 GPUs (an approximation))');
  assert.equal(lines[6], 'wrote    run/: train.yaml, data/, ds_z3_config.json, run.sh, llama3-zh.json');
  const info = JSON.parse(read(join(d, 'run', 'data', 'dataset_info.json')));
  assert.deepEqual(info.zh, {
    file_name: 'zh.jsonl', formatting: 'sharegpt', columns: { messages: 'conversations', system: 'system' },
    tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system' },
  });
  const c = parse(read(join(d, 'run', 'train.yaml')));
  assert.equal(c.model_name_or_path, join(d, 'base'));
  assert.equal(c.template, 'default');
  const meta = JSON.parse(read(join(d, 'run', 'llama3-zh.json')));
  assert.deepEqual([meta.model, meta.chatTemplate, meta.gpus], [{ given: './base', path: join(d, 'base') }, 'lf-default', 8]);
});

/** A stand-in llamafactory-cli that prints where and how it was started. */
function fakeCli(d: string): string {
  const bin = join(d, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'llamafactory-cli'), '#!/bin/sh\necho "cwd=$(pwd) argv=$*"\nenv | grep -E "^(FORCE_TORCHRUN|NPROC_PER_NODE|NNODES|NODE_RANK|MASTER_ADDR|MASTER_PORT)=" | sort\n', { mode: 0o755 });
  return bin;
}
const sh = (script: string, args: string[], env: Record<string, string>) => {
  try { return { code: 0, out: execFileSync('bash', [script, ...args], { env: { ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) }; } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout + x.stderr };
  }
};

test('run.sh: one GPU, 8 GPUs (ZeRO-2 for LoRA), two nodes; each starts LLaMA-Factory in the folder with the launcher\'s variables', async () => {
  const d = workdir();
  const bin = fakeCli(d);
  const PATH = `${bin}:/usr/bin:/bin`;

  assert.equal((await init(d, ['--recipe', 'sft-instruct-zh', '--data', 'zh.jsonl', '--out', 'one', '--gpu-mem', '80'])).code, 0);
  const one = join(d, 'one', 'run.sh');
  assert.equal(statSync(one).mode & 0o111, 0o111);
  assert.equal(read(one), [
    '#!/usr/bin/env bash',
    '# Made by llama3-zh train init (recipe sft-instruct-zh): starts LLaMA-Factory in this folder.',
    '# The same as: llama3-zh train run .   (in this folder)',
    'set -euo pipefail',
    'cd -- "$(dirname -- "$0")"',
    'NPROC_PER_NODE=1 llamafactory-cli train train.yaml',
    '',
  ].join('\n'));
  assert.equal(sh(one, [], { PATH }).out, `cwd=${join(d, 'one')} argv=train train.yaml\nNPROC_PER_NODE=1\n`);

  const r8 = await init(d, ['--recipe', 'sft-instruct-zh', '--data', 'zh.jsonl', '--out', 'eight', '--gpus', '8', '--gpu-mem', '80']);
  assert.equal(r8.code, 0, r8.stderr);
  assert.equal(parse(read(join(d, 'eight', 'train.yaml'))).deepspeed, 'ds_z2_config.json');
  assert.equal(read(join(d, 'eight', 'ds_z2_config.json')), DS_CONFIG[2]);
  assert.equal(read(join(d, 'eight', 'run.sh')).split('\n')[5], 'FORCE_TORCHRUN=1 NPROC_PER_NODE=8 llamafactory-cli train train.yaml');

  const r2 = await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'two', '--gpus', '8', '--nnodes', '2', '--gpu-mem', '80']);
  assert.equal(r2.code, 0, r2.stderr);
  const two = join(d, 'two', 'run.sh');
  assert.equal(read(two), [
    '#!/usr/bin/env bash',
    '# Made by llama3-zh train init (recipe dpo-zh): starts LLaMA-Factory in this folder.',
    '# 2 nodes × 8 GPUs. On each node, with this folder on a disk every node sees:',
    "#   master (rank 0):  MASTER_ADDR=<this node's address> ./run.sh 0",
    "#   node 1:           MASTER_ADDR=<the master's address> ./run.sh 1",
    '# The same as: llama3-zh train run . --nnodes 2 --node-rank R --master-addr HOST   (in this folder)',
    'set -euo pipefail',
    'cd -- "$(dirname -- "$0")"',
    ': "${MASTER_ADDR:?set MASTER_ADDR to the address of the master node, the same on every node}"',
    'case "${1:-}" in',
    '  0) FORCE_TORCHRUN=1 NPROC_PER_NODE=8 NNODES=2 NODE_RANK=0 MASTER_ADDR="$MASTER_ADDR" MASTER_PORT="${MASTER_PORT:-29500}" llamafactory-cli train train.yaml ;;',
    '  1) FORCE_TORCHRUN=1 NPROC_PER_NODE=8 NNODES=2 NODE_RANK=1 MASTER_ADDR="$MASTER_ADDR" MASTER_PORT="${MASTER_PORT:-29500}" llamafactory-cli train train.yaml ;;',
    '  *) echo "usage: MASTER_ADDR=HOST ./run.sh NODE_RANK   (0 on the master, 1 on the other node)" >&2; exit 2 ;;',
    'esac',
    '',
  ].join('\n'));
  assert.equal(sh(two, ['1'], { PATH, MASTER_ADDR: '10.0.0.1' }).out,
    `cwd=${join(d, 'two')} argv=train train.yaml\nFORCE_TORCHRUN=1\nMASTER_ADDR=10.0.0.1\nMASTER_PORT=29500\nNNODES=2\nNODE_RANK=1\nNPROC_PER_NODE=8\n`);
  const noAddr = sh(two, ['0'], { PATH });
  assert.equal(noAddr.code, 1);
  assert.match(noAddr.out, /MASTER_ADDR: set MASTER_ADDR to the address of the master node, the same on every node/);
  assert.equal(sh(two, ['2'], { PATH, MASTER_ADDR: 'h' }).code, 2);
  assert.match(r2.stdout, /^next     on each node: MASTER_ADDR=<master's address> two\/run\.sh NODE_RANK \(0 on the master\), or llama3-zh train run two --nnodes 2 --node-rank R --master-addr HOST$/m);
});

test('bad input: one line, non-zero, nothing written', async () => {
  const d = workdir();
  const before = readdirSync(d);
  const cases: [string[], RegExp][] = [
    [['--recipe', 'dpo'], /^llama3-zh train: unknown recipe "dpo"; recipes: sft-base-zh, sft-instruct-zh, dpo-zh, orpo-zh, qlora-sft-zh \(llama3-zh train recipes\)$/],
    [['--recipe', 'sft-instruct-zh', '--model', './nothere'], /^llama3-zh train: \.\/nothere: no such folder; give a Hugging Face model folder \(with config\.json\), a catalog name \(llama3-zh models\) or a repo id owner\/name$/],
    [['--recipe', 'sft-instruct-zh', '--model', 'nosuchmodel'], /^llama3-zh train: unknown model "nosuchmodel"; 'llama3-zh models' lists the catalog, or give owner\/name or a path$/],
    [['--recipe', 'sft-instruct-zh', '--model', 'zh.jsonl'], /^llama3-zh train: zh\.jsonl is a file; training needs Hugging Face \(safetensors\) weights/],
    [['--recipe', 'sft-instruct-zh', '--model', 'llama3-8b-sft-zh-v1'], /^llama3-zh train: llama3-8b-sft-zh-v1 has no Hugging Face weights to download \(not on a hub\)/],
    [['--recipe', 'sft-instruct-zh', '--model', 'llama3-8b-instruct-sft-zh'], /^llama3-zh train: llama3-8b-instruct-sft-zh's weights are on ModelScope \(baicai003\/llama-3-8b-Instruct-chinese_v2\), where LLaMA-Factory does not look by default: pull them first \(llama3-zh pull llama3-8b-instruct-sft-zh --format safetensors\)/],
    [['--recipe', 'sft-instruct-zh', '--model', 'shareAI/llama3.1-8b-instruct-dpo-zh'], /^llama3-zh train: shareAI\/llama3\.1-8b-instruct-dpo-zh holds GGUF files only; training needs Hugging Face \(safetensors\) weights/],
    [['--recipe', 'dpo-zh', '--data', 'zh.jsonl'], /^llama3-zh train: zh\.jsonl holds conversations; recipe dpo-zh \(stage dpo\) needs preference pairs \(prompt, chosen, rejected\) \(a conversation has no rejected answer/],
    [['--recipe', 'sft-instruct-zh', '--data', 'pairs.jsonl'], /^llama3-zh train: pairs\.jsonl holds preference pairs \(prompt, chosen, rejected\); recipe sft-instruct-zh \(stage sft\) needs conversations \(LLaMA-Factory refuses a ranking dataset in an SFT stage: "The dataset is not applicable in the current training stage"; for pairs use --recipe dpo-zh or orpo-zh\)$/],
    [['--recipe', 'sft-instruct-zh', 'lora_rnk=8'], /^llama3-zh train: LLaMA-Factory 0\.9\.6\.dev0 has no setting "lora_rnk" \(did you mean lora_rank\?\)$/],
    [['--recipe', 'sft-instruct-zh', 'lora_rank=abc'], /^llama3-zh train: lora_rank must be a whole number, not "abc"$/],
    [['--recipe', 'sft-instruct-zh', 'stage=foo'], /^llama3-zh train: stage must be one of pt, sft, rm, ppo, dpo, kto, not "foo"$/],
    [['--recipe', 'sft-instruct-zh', 'template=llama9'], /^llama3-zh train: template "llama9" is not one of LLaMA-Factory's templates/],
    [['--recipe', 'sft-instruct-zh', 'model_name_or_path=x/y'], /^llama3-zh train: model_name_or_path is set by --model; give it there instead of model_name_or_path=…$/],
    [['--recipe', 'sft-instruct-zh', 'learning_rate'], /^llama3-zh train: "learning_rate" is not KEY=VALUE/],
    [['--recipe', 'sft-instruct-zh', '--data', 'missing.jsonl'], /missing\.jsonl/],
    [['--recipe', 'sft-instruct-zh', '--gpus', '0'], /^llama3-zh train: --gpus must be a whole number of at least 1 \(got "0"\)$/],
  ];
  for (const [args, re] of cases) {
    const full = args.includes('--data') ? args : [...args, '--data', 'zh.jsonl'];
    const r = await init(d, [...full, '--out', 'run', '--gpu-mem', '80']);
    assertOneLineError(r, re);
    assertNothingWritten(d, before);
  }
  assertOneLineError(await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl']), /^llama3-zh train: give the run folder with --out DIR$/);
});

test('the template: llama3 on a base model is refused with the fix, kept with a warning when asked for; default on an Instruct model warns', async () => {
  const d = workdir();
  const before = readdirSync(d);
  assertOneLineError(await init(d, ['--recipe', 'sft-instruct-zh', '--model', './base', '--data', 'zh.jsonl', '--out', 'run', '--gpu-mem', '80']),
    /^llama3-zh train: template llama3 on a base model \(its tokenizer_config\.json has no chat_template\): its header tokens were never trained; LLaMA-Factory advises template default for base models: use --recipe sft-base-zh, or template=default \(recipe sft-instruct-zh is for an Instruct model\)$/);
  assertOneLineError(await init(d, ['--recipe', 'dpo-zh', '--model', 'meta-llama/Meta-Llama-3-8B', '--data', 'pairs.jsonl', '--out', 'run', '--gpu-mem', '80']),
    /^llama3-zh train: template llama3 on a base model \(meta-llama\/Meta-Llama-3-8B is Meta's base model\)/);
  assertNothingWritten(d, before);

  const kept = await init(d, ['--recipe', 'sft-instruct-zh', '--model', './base', '--data', 'zh.jsonl', '--out', 'kept', '--gpu-mem', '80', 'template=llama3']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(kept.stderr, 'warning: template llama3 on a base model (its tokenizer_config.json has no chat_template): its header tokens were never trained; LLaMA-Factory advises template default for base models (kept: you set template=llama3)\n');
  const fixed = await init(d, ['--recipe', 'sft-instruct-zh', '--model', './base', '--data', 'zh.jsonl', '--out', 'fixed', '--gpu-mem', '80', 'template=default']);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(fixed.stderr, '');
  assert.equal(JSON.parse(read(join(d, 'fixed', 'llama3-zh.json'))).chatTemplate, 'lf-default');

  const other = await init(d, ['--recipe', 'sft-base-zh', '--model', './instruct', '--data', 'zh.jsonl', '--out', 'other', '--gpus', '4', '--gpu-mem', '80']);
  assert.equal(other.code, 0, other.stderr);
  assert.equal(other.stderr, 'warning: template default on a chat model (its tokenizer_config.json has a chat_template): the run teaches it a plain-text format instead of the one it knows; template=llama3 keeps it\n');
});

test('cutoff_len against the data: p50/p99/max, the share over it, and a cutoff that keeps 99%', async () => {
  const d = workdir();
  // 100 rows: 97 short, 3 long (over 1%).
  const rows = Array.from({ length: 100 }, (_, i) => ({ conversations: [{ from: 'human', value: `问题${i}` }, { from: 'gpt', value: i < 97 ? '好的。' : '很长的回答。'.repeat(60) }] }));
  writeFileSync(join(d, 'long.jsonl'), jsonl(rows));
  const r = await init(d, ['--recipe', 'sft-instruct-zh', '--data', 'long.jsonl', '--out', 'run', '--gpu-mem', '80', 'cutoff_len=256']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[3], 'tokens   p50 15, p99 313, max 313 (Llama-3 tokenizer); 3 of 100 rows (3.0%) over cutoff_len 256');
  assert.equal(r.stderr, 'warning: 3.0% of the rows are longer than cutoff_len 256 and will be cut; cutoff_len=512 keeps 99% whole\n');
  assert.equal(parse(read(join(d, 'run', 'train.yaml'))).cutoff_len, 256);
});

test('memory: a run that does not fit is refused with what it needs and what helps; --force writes it; ZeRO-3 when only it fits; no GPU, no fit check', async () => {
  const d = workdir();
  const before = readdirSync(d);
  assertOneLineError(await init(d, ['--recipe', 'sft-base-zh', '--model', './base', '--data', 'zh.jsonl', '--out', 'run', '--gpu-mem', '80']),
    /^llama3-zh train: the run needs about 140\.7 GiB and the GPU has 80\.0 GiB \(--gpu-mem\); try QLoRA \(finetuning_type=lora quantization_bit=4: about 11\.3 GiB\), or ZeRO-3 over 2 or more GPUs \(--gpus N, --nnodes N\), or a shorter cutoff_len; --force writes it anyway$/);
  // An override cannot silence it: it is only another config to estimate.
  assertOneLineError(await init(d, ['--recipe', 'qlora-sft-zh', '--model', './instruct', '--data', 'zh.jsonl', '--out', 'run', '--gpu-mem', '8', 'lora_rank=8']),
    /^llama3-zh train: the run needs about 1\d\.\d GiB and the GPU has 8\.0 GiB \(--gpu-mem\); try a shorter cutoff_len; --force writes it anyway$/);
  assertNothingWritten(d, before);

  const forced = await init(d, ['--recipe', 'sft-base-zh', '--model', './base', '--data', 'zh.jsonl', '--out', 'run', '--gpu-mem', '80', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout.split('\n')[5], '         does NOT fit in 80.0 GiB (--gpu-mem); written because of --force');

  // LoRA rank 64 on 2 GPUs of 20 GiB: ZeRO-2 leaves the frozen base whole on each (about 21 GiB); ZeRO-3 splits it.
  const z3 = await init(d, ['--recipe', 'sft-instruct-zh', '--model', './instruct', '--data', 'zh.jsonl', '--out', 'z3', '--gpus', '2', '--gpu-mem', '20']);
  assert.equal(z3.code, 0, z3.stderr);
  assert.equal(parse(read(join(d, 'z3', 'train.yaml'))).deepspeed, 'ds_z3_config.json');
  assert.ok(existsSync(join(d, 'z3', 'ds_z3_config.json')));

  const none = await init(d, ['--recipe', 'sft-instruct-zh', '--data', 'zh.jsonl', '--out', 'nogpu']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout.split('\n')[5], '         fit not checked: no --gpu-mem, and no nvidia-smi here');

  const unknown = await init(d, ['--recipe', 'sft-instruct-zh', '--model', 'someone/chinese-chat', '--data', 'zh.jsonl', '--out', 'unknown', '--gpu-mem', '80']);
  assert.equal(unknown.code, 0, unknown.stderr);
  assert.equal(unknown.stdout.split('\n')[4], 'memory   not checked: unknown: the name gives no size (8B, 70B…) and the repo is not checked offline');
});

test('an output folder that holds a run is refused (checkpoints would be resumed silently); --force replaces it; an empty folder is fine', async () => {
  const d = workdir();
  mkdirSync(join(d, 'used', 'output', 'checkpoint-500'), { recursive: true });
  writeFileSync(join(d, 'used', 'train.yaml'), 'stage: sft\n');
  const before = readdirSync(d);
  assertOneLineError(await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'used', '--gpu-mem', '80']),
    /^llama3-zh train: used already holds a run with 1 checkpoint in output\/: LLaMA-Factory would silently resume from the last one; give a new --out, or --force to replace the folder \(checkpoints included\)$/);
  mkdirSync(join(d, 'yaml'));
  writeFileSync(join(d, 'yaml', 'train.yaml'), 'stage: sft\n');
  assertOneLineError(await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'yaml', '--gpu-mem', '80']),
    /^llama3-zh train: yaml already holds a run \(train\.yaml\); give a new --out, or --force to replace it$/);
  mkdirSync(join(d, 'busy'));
  writeFileSync(join(d, 'busy', 'notes.txt'), 'x');
  assertOneLineError(await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'busy', '--gpu-mem', '80']),
    /^llama3-zh train: busy is not empty \(notes\.txt\); give a new or empty folder$/);
  assert.deepEqual(readdirSync(d).sort(), [...before, 'yaml', 'busy'].sort());
  assert.deepEqual(readdirSync(join(d, 'used')).sort(), ['output', 'train.yaml']);

  const forced = await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'used', '--gpu-mem', '80', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(readdirSync(join(d, 'used')).sort(), ['data', 'llama3-zh.json', 'run.sh', 'train.yaml']);
  assert.ok(!readdirSync(d).some((f) => f.startsWith('.')), 'no temp folder left beside it');

  mkdirSync(join(d, 'empty'));
  assert.equal((await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'empty', '--gpu-mem', '80'])).code, 0);
  assert.ok(existsSync(join(d, 'empty', 'train.yaml')));
  // A folder under one that does not exist yet.
  assert.equal((await init(d, ['--recipe', 'dpo-zh', '--data', 'pairs.jsonl', '--out', 'runs/dpo', '--gpu-mem', '80'])).code, 0);
  assert.ok(existsSync(join(d, 'runs', 'dpo', 'run.sh')));
});

test('overrides: typed, in their section, floats PyYAML-safe; broken rows dropped as data check drops them, and said; several files', async () => {
  const d = workdir();
  writeFileSync(join(d, 'more.jsonl'), jsonl(CHAT.slice(0, 2)) + '{"conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": "x"}]}\n{"conversations": [\n');
  const r = await init(d, ['--recipe', 'sft-instruct-zh', '--data', 'zh.jsonl,more.jsonl', '--out', 'run', '--gpu-mem', '80',
    'learning_rate=2e-5', 'max_samples=1000', 'lora_target=q_proj,v_proj', 'num_train_epochs=1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'warning: more.jsonl: 2 of 4 rows are broken and were left out (llama3-zh data check more.jsonl lists them)\n');
  assert.deepEqual(r.stdout.split('\n').slice(2, 4), ['data     zh.jsonl: 3 conversations → data/zh.jsonl', 'data     more.jsonl: 2 conversations → data/more.jsonl (2 left out)']);
  const yaml = read(join(d, 'run', 'train.yaml'));
  assert.ok(yaml.includes('\nlearning_rate: 2.0e-05\nnum_train_epochs: 1.0\n'), yaml);
  assert.ok(yaml.includes('\ndataset: zh,more\ntemplate: llama3\ncutoff_len: 2048  # checked against the data by train init\nmax_samples: 1000\n'), yaml);
  assert.ok(yaml.includes('\nlora_target: q_proj,v_proj\n'), yaml);
  assert.deepEqual(Object.keys(JSON.parse(read(join(d, 'run', 'data', 'dataset_info.json')))), ['zh', 'more']);
});

test('a model pulled into the store: its safetensors folder', async () => {
  const d = workdir();
  const home = join(d, 'home');
  const repo = join(home, 'models', 'shenzhi-wang', 'Llama3-8B-Chinese-Chat');
  mkdirSync(repo, { recursive: true });
  for (const f of ['config.json', 'tokenizer_config.json']) writeFileSync(join(repo, f), read(join(d, 'instruct', f)));
  writeFileSync(join(repo, 'model.safetensors'), '');
  const r = await init(d, ['--recipe', 'sft-instruct-zh', '--model', 'shenzhi-llama3-8b-chat', '--data', 'zh.jsonl', '--out', 'run', '--gpu-mem', '80'], { ...NO_GPU, LLAMA3ZH_HOME: home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[1], `model    ${repo}`);
  const c = parse(read(join(d, 'run', 'train.yaml')));
  assert.equal(c.model_name_or_path, repo);
  assert.deepEqual(JSON.parse(read(join(d, 'run', 'llama3-zh.json'))).model, { given: 'shenzhi-llama3-8b-chat', path: repo, repo: 'shenzhi-wang/Llama3-8B-Chinese-Chat' });
  // Not pulled: the catalog's Hugging Face repo, which LLaMA-Factory downloads.
  const hub = await init(d, ['--recipe', 'sft-instruct-zh', '--model', 'shenzhi-llama3-8b-chat', '--data', 'zh.jsonl', '--out', 'hub', '--gpu-mem', '80']);
  assert.equal(hub.code, 0, hub.stderr);
  assert.equal(parse(read(join(d, 'hub', 'train.yaml'))).model_name_or_path, 'shenzhi-wang/Llama3-8B-Chinese-Chat');
});

test('Ctrl-C while the data is exported leaves nothing: no DIR, no temp folder', async () => {
  const d = workdir();
  const rows = Array.from({ length: 40000 }, (_, i) => ({ conversations: [{ from: 'human', value: `问题${i}：天空为什么是蓝色的？` }, { from: 'gpt', value: `回答${i}：因为瑞利散射，短波长的光散射得更多。` }] }));
  writeFileSync(join(d, 'big.jsonl'), jsonl(rows));
  const before = readdirSync(d);
  const { spawn } = await import('node:child_process');
  const { watch } = await import('node:fs');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'train', 'init', '--recipe', 'sft-instruct-zh', '--data', 'big.jsonl', '--out', 'run', '--gpu-mem', '80'],
    { cwd: d, env: { ...process.env, ...NO_GPU }, stdio: ['ignore', 'pipe', 'pipe'] });
  // The signal goes the moment the temp folder appears beside DIR: while the export is under way.
  const w = watch(d, (_e, name) => { if (name && String(name).startsWith('.run.init-')) { w.close(); child.kill('SIGINT'); } });
  const code = await new Promise<number | null>((res) => child.on('close', (c, sig) => res(c ?? (sig === 'SIGINT' ? 130 : null))));
  w.close();
  assert.equal(code, 130);
  assertNothingWritten(d, before);
});

test('a run folder with a space in its path works on several GPUs: LLaMA-Factory is started in it with the relative train.yaml', async () => {
  // launcher.py joins argv with spaces and splits the torchrun command again; run.sh passes only "train.yaml"
  // (the folder is the working directory), so the space never reaches that split.
  const d = workdir();
  const bin = fakeCli(d);
  const r = await init(d, ['--recipe', 'sft-instruct-zh', '--data', 'zh.jsonl', '--out', 'my runs/sft', '--gpus', '8', '--gpu-mem', '80']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').pop(), "next     llama3-zh train run 'my runs/sft'   (or 'my runs/sft/run.sh')");
  assert.equal(sh(join(d, 'my runs', 'sft', 'run.sh'), [], { PATH: `${bin}:/usr/bin:/bin` }).out,
    `cwd=${join(d, 'my runs', 'sft')} argv=train train.yaml\nFORCE_TORCHRUN=1\nNPROC_PER_NODE=8\n`);
});
