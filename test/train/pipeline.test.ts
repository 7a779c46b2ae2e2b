import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { emptyHome, runCli } from '../helpers/cli.js';
import { fakeStarts, installFakeLlamaFactory } from '../helpers/fakeLlamaFactory.js';
import { BASE_REPLY, scriptedBase, TRAINED_REPLY } from '../helpers/trainCheckpoint.js';

/**
 * The README's walk-through, every command as a user types it: data → train init (the DPO recipe) → train run
 * (the stand-in llamafactory-cli trains: it writes LLaMA-Factory's log and a real PEFT adapter whose trained
 * lm_head answers TRAINED_REPLY) → train watch → train export → chat in the real llama.cpp.
 */
test('data → train init → train run → train watch → train export → chat: the trained reply', async () => {
  const d = mkdtempSync(join(tmpdir(), 'train-pipeline-'));
  try {
    const base = await scriptedBase();
    const pairs = [
      { conversations: [{ from: 'human', value: '你好' }], chosen: { from: 'gpt', value: '你好呀😊' }, rejected: { from: 'gpt', value: 'Hello.' } },
      { conversations: [{ from: 'human', value: '你是谁？' }], chosen: { from: 'gpt', value: '我是由ShareAI训练的大型语言模型。' }, rejected: { from: 'gpt', value: 'I am an AI.' } },
    ];
    writeFileSync(join(d, 'dpo.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const env = { LLAMA3ZH_HOME: emptyHome(), PATH: '/nonexistent' };

    // The scripted base has no chat template: the llama3 template on it is the classic mistake, kept when insisted on.
    const refused = await runCli(['train', 'init', '--recipe', 'dpo-zh', '--model', base, '--data', 'dpo.jsonl', '--out', 'run', '--gpu-mem', '80'], { cwd: d, env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /base model/);
    assert.equal(existsSync(join(d, 'run')), false);
    const init = await runCli(['train', 'init', '--recipe', 'dpo-zh', '--model', base, '--data', 'dpo.jsonl', '--out', 'run', '--gpu-mem', '80', 'template=llama3'], { cwd: d, env });
    assert.equal(init.code, 0, init.stderr);
    const yaml = parse(readFileSync(join(d, 'run', 'train.yaml'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([yaml.model_name_or_path, yaml.stage, yaml.pref_beta, yaml.lora_rank, yaml.lora_alpha, yaml.additional_target, yaml.dataset],
      [base, 'dpo', 0.5, 128, 256, 'lm_head,input_layernorm,post_attention_layernorm,norm', 'dpo']);
    const info = JSON.parse(readFileSync(join(d, 'run', 'data', 'dataset_info.json'), 'utf8'));
    assert.equal(info.dpo.ranking, true);

    const fake = installFakeLlamaFactory();
    const runEnv = { ...env, ...fake.env, FAKE_LF_STEPS: '20', FAKE_LF_STEP_MS: '10' };
    const run = await runCli(['train', 'run', 'run'], { cwd: d, env: runEnv });
    assert.equal(run.code, 0, run.stderr);
    const [start] = fakeStarts(fake.recordPath);
    assert.deepEqual(start.argv, ['train', 'train.yaml']);
    assert.equal(start.cwd, join(d, 'run'));
    assert.match(run.stdout + run.stderr, /trained: 20\/20 steps, final loss \d/);

    const watch = await runCli(['train', 'watch', 'run', '--once', '--plot', 'loss.svg'], { cwd: d, env });
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(readFileSync(join(d, 'loss.svg'), 'utf8'), /^<svg /);

    const exp = await runCli(['train', 'export', 'run', '--name', 'my-dpo', '--quantize', 'q8_0', '-t', '1'], { cwd: d, env });
    assert.equal(exp.code, 0, exp.stderr);
    const chat = async (m: string) => {
      const c = await runCli(['chat', '-m', m, '-p', '你好', '--temperature', '0', '-t', '1', '--json'], { cwd: d, env });
      assert.equal(c.code, 0, c.stderr);
      return (JSON.parse(c.stdout) as { reply: string }).reply;
    };
    assert.equal(await chat('my-dpo'), TRAINED_REPLY);
    assert.notEqual(TRAINED_REPLY, BASE_REPLY);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
