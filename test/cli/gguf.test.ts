import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { REPLY, testModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-cli-'));

test('gguf inspect shows what people look a model up for', async () => {
  const m = await testModel({ reply: REPLY });
  const r = await runCli(['gguf', 'inspect', m]);
  assert.equal(r.code, 0, r.stderr);
  for (const line of [
    /^architecture +llama$/m,
    /^parameters +16\.5M in 21 tensors$/m,
    /^tensor types +F16×16, F32×5$/m,
    /^context length +8192$/m,
    /^rope freq base +500000$/m,
    /^tokenizer +gpt2\/llama-bpe, 128256 tokens$/m,
    /^special tokens +bos=128000 <\|begin_of_text\|>, eos=128009 <\|eot_id\|>$/m,
    /^chat template +llama3 \(\d+ chars\)$/m,
    /^file +.*\(38\.9 MiB, GGUF v3\)$/m,
  ]) assert.match(r.stdout, line);
  const j = JSON.parse((await runCli(['gguf', 'inspect', m, '--json'])).stdout);
  assert.equal(j.parameters, 16_490_816);
  assert.deepEqual(j.tensorTypes, { F16: 16, F32: 5 });
  assert.equal(j.chatTemplate.detected, 'llama3');
});

test('gguf synth: presets, q8_0, and scripts it cannot make', async () => {
  const out = join(dir, 'r.gguf');
  const r = await runCli(['gguf', 'synth', '--out', out, '--type', 'q8_0', '--seed', '5']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse((await runCli(['gguf', 'inspect', out, '--json'])).stdout);
  assert.deepEqual(j.tensorTypes, { Q8_0: 16, F32: 5 });
  assertOneLineError(await runCli(['gguf', 'synth', '--out', out]), /already exists; pass --force to replace it/);
  assertOneLineError(await runCli(['gguf', 'synth', '--out', join(dir, 'x.gguf'), '--reply', '你好你好', '--fallback', '你好吗']),
    /the fallback must start with another token than the reply \(both start with "你"\)/);
  assertOneLineError(await runCli(['gguf', 'synth', '--out', join(dir, 'x.gguf'), '--preset', '3b']), /unknown --preset "3b"; choose one of: tiny, 1b, 8b/);
  const route = (r: string) => runCli(['gguf', 'synth', '--out', join(dir, 'x.gguf'), '--reply', '好', '--route', r]);
  assertOneLineError(await route('red apple=x'), /a route's word must be one token; "red apple" is 2/);
  assertOneLineError(await route('noequals'), /--route takes WORD=REPLY \(got "noequals"\)/);
  assertOneLineError(await route('好=fine'), /a route's word must not appear in any reply \("好" does\)/);
  assertOneLineError(await runCli(['gguf', 'inspect', join(dir, 'nope.gguf')]), /no such GGUF file: .*nope\.gguf$/);
});

test('template render prints the exact prompt', async () => {
  const msgs = join(dir, 'm.json');
  writeFileSync(msgs, JSON.stringify([{ role: 'system', content: '你是一个调皮活泼的中文智者' }, { role: 'user', content: '你好' }]));
  const r = await runCli(['template', 'render', '--messages', msgs]);
  assert.equal(r.stdout,
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n你是一个调皮活泼的中文智者<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  const v1 = await runCli(['template', 'render', '--messages', msgs, '--template', 'llama3-v1', '--json']);
  assert.equal(JSON.parse(v1.stdout).prompt,
    '<|begin_of_text|><<SYS>>\n你是一个调皮活泼的中文智者\n<</SYS>>\n\n<|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  const fromModel = await runCli(['template', 'render', '--messages', msgs, '-m', await testModel({ reply: REPLY, stop: 'end_of_text' })]);
  assert.equal(fromModel.stdout, JSON.parse(v1.stdout).prompt);
  const tpl = join(dir, 't.jinja');
  writeFileSync(tpl, '{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}');
  assert.equal((await runCli(['template', 'render', '--messages', msgs, '--template-file', tpl])).stdout, '<system>你是一个调皮活泼的中文智者<user>你好');
  assert.equal(readFileSync(msgs, 'utf8').length > 0, true);
});
