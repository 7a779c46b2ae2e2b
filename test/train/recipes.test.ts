import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { checkConfig } from '../../src/train/args.js';
import { findRecipe, RECIPES } from '../../src/train/recipes.js';
import { formatFloat, formatValue, writeTrainYaml } from '../../src/train/yaml.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';

test('floats are written the way PyYAML reads them as floats: a dot and a signed exponent', () => {
  assert.equal(formatFloat(5e-6), '5.0e-06');
  assert.equal(formatFloat(1e-4), '1.0e-04');
  assert.equal(formatFloat(1.5e-5), '1.5e-05');
  assert.equal(formatFloat(3), '3.0');
  assert.equal(formatFloat(0.1), '0.1');
  assert.equal(formatFloat(0.05), '0.05');
  // PyYAML's YAML 1.1 float pattern: [-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?
  const pyyamlFloat = /^[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?$/;
  for (const v of [5e-6, 1e-4, 3e-6, 1e-5, 2e-7, 3, 0.1, 0.5, 1e20]) assert.match(formatFloat(v), pyyamlFloat, String(v));
  assert.equal(formatValue('learning_rate', 2e-5), '2.0e-05');
  assert.equal(formatValue('num_train_epochs', 2), '2.0');
  assert.equal(formatValue('logging_steps', 10), '10');
  assert.equal(formatValue('lora_rank', 128), '128');
});

test('text that YAML would read as something else is quoted; plain names are not', () => {
  assert.equal(formatValue('template', 'llama3'), 'llama3');
  assert.equal(formatValue('additional_target', 'lm_head,norm'), 'lm_head,norm');
  assert.equal(formatValue('model_name_or_path', '/data/models/Meta-Llama-3-8B'), '/data/models/Meta-Llama-3-8B');
  assert.equal(formatValue('model_name_or_path', '/data/my models/x'), '"/data/my models/x"');
  assert.equal(formatValue('report_to', 'none'), 'none');
  assert.equal(formatValue('dataset', 'yes'), '"yes"');
  assert.equal(formatValue('dataset', '2024_zh'), '"2024_zh"');
  assert.equal(formatValue('dataset', 'a: b'), '"a: b"');
  assert.equal(formatValue('resume_from_checkpoint', null), 'null');
  for (const v of ['yes', '2024_zh', 'a: b', '/data/my models/x', 'on', '~', '-x', '@x', '#x']) {
    assert.equal(parse(`k: ${formatValue('dataset', v)}`).k, v, v);
  }
});

test('every recipe holds only keys and values LLaMA-Factory accepts, and says where they come from', () => {
  assert.deepEqual(RECIPES.map((r) => r.name), ['sft-base-zh', 'sft-instruct-zh', 'dpo-zh', 'orpo-zh', 'qlora-sft-zh']);
  for (const r of RECIPES) {
    assert.deepEqual(checkConfig({ ...r.config, model_name_or_path: r.defaultModel, dataset: 'zh' }), [], r.name);
    assert.ok(r.from.length >= 2, r.name);
    // The YAML the recipe writes reads back as the same config.
    assert.deepEqual(parse(writeTrainYaml(r.config)), r.config, r.name);
  }
  const dpo = findRecipe('dpo-zh').config;
  assert.equal(dpo.stage, 'dpo');
  assert.equal(dpo.pref_beta, 0.5);
  assert.equal(dpo.lora_rank, 128);
  assert.equal(dpo.lora_alpha, 256);
  assert.equal(dpo.additional_target, 'lm_head,input_layernorm,post_attention_layernorm,norm');
  assert.equal(findRecipe('sft-base-zh').config.template, 'default');
  assert.equal(findRecipe('sft-base-zh').config.finetuning_type, 'full');
  assert.equal(findRecipe('orpo-zh').config.pref_loss, 'orpo');
  assert.equal(findRecipe('qlora-sft-zh').config.quantization_bit, 4);
});

test('train recipes lists them; train recipes NAME shows sources, data and the YAML; an unknown name lists them', async () => {
  const list = await runCli(['train', 'recipes']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.split('\n')[2], "dpo-zh           pairs          shareAI's DPO: Llama-3.1-8B-Instruct + Chinese preference pairs, beta 0.5, LoRA 128/256 with lm_head and the norms");
  assert.equal(list.stdout.trim().split('\n').length, 7);

  const one = await runCli(['train', 'recipes', 'sft-base-zh']);
  assert.equal(one.code, 0, one.stderr);
  const lines = one.stdout.split('\n');
  assert.ok(lines.includes('Data: conversations (ShareGPT, OpenAI messages, Alpaca, Firefly…), e.g. baicai003/Llama3-Chinese-dataset.'));
  assert.ok(lines.includes('train.yaml (one GPU; ds_z3_config.json written beside it):'));
  assert.ok(lines.includes('deepspeed: ds_z3_config.json'));
  assert.ok(lines.includes("template: default  # LLaMA-Factory's advice for a base model; chat with it as llama3-zh's lf-default"));
  assert.ok(lines.includes('learning_rate: 1.0e-05'));
  assert.ok(lines.some((l) => l.includes('"For the base models, the template argument can be chosen from default, alpaca, vicuna etc."')));

  assertOneLineError(await runCli(['train', 'recipes', 'dpo']), /^llama3-zh train: unknown recipe "dpo"; recipes: sft-base-zh, sft-instruct-zh, dpo-zh, orpo-zh, qlora-sft-zh \(llama3-zh train recipes\)$/);
});
