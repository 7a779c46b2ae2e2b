import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, type CliResult, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { REPLY, ROOT, testModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'create-cli-'));
const SYSTEM = '你是小助手，回答要简短。';
const messages = join(dir, 'messages.json');
writeFileSync(messages, JSON.stringify([{ role: 'user', content: '你是谁' }]));

/**
 * The source GGUF asked by hand with --system SYSTEM and with no system prompt: the prompt lengths a created model
 * with SYSTEM recorded must match (create and serve both compare with them). -p writes nothing and the answers are
 * greedy, so one pair of runs (each a model load) serves every test that asks; a test run alone makes its own.
 */
const byHandRuns = new Map<string, Promise<[CliResult, CliResult]>>();
function askByHand(src: string, env: Record<string, string>): Promise<[CliResult, CliResult]> {
  let p = byHandRuns.get(src);
  if (!p) {
    p = Promise.all([
      runCli(['chat', '-m', src, '-s', SYSTEM, '-p', '你是谁', '--temperature', '0', '-t', '1', '--json'], { env }),
      runCli(['chat', '-m', src, '-p', '你是谁', '--temperature', '0', '-t', '1', '--json'], { env }),
    ]);
    byHandRuns.set(src, p);
  }
  return p;
}

/** A store with nothing in it but what a test puts there. */
function home() {
  const h = emptyHome();
  return { env: { LLAMA3ZH_HOME: h }, models: join(h, 'models') };
}

test('create from a GGUF with a system prompt: ls shows it, chat and template render use the system prompt, rm removes it', async () => {
  const src = await testModel({ reply: REPLY });
  const { env, models } = home();
  const c = await runCli(['create', 'zh-helper', '--from', src, '--system', SYSTEM], { env });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /^copying .*\nc?reated zh-helper: GGUF F16, [\d.]+ MiB in /m);
  // Kept as local/zh-helper/zh-helper-F16.gguf, with what it was made from recorded in the manifest.
  assert.deepEqual(readdirSync(join(models, 'local', 'zh-helper')).sort(), ['.llama3-zh.json', 'zh-helper-F16.gguf']);
  const manifest = JSON.parse(readFileSync(join(models, 'local', 'zh-helper', '.llama3-zh.json'), 'utf8'));
  assert.equal(manifest.entries.length, 1);
  const { sourceKey, ...created } = manifest.entries[0].created;
  assert.match(sourceKey, /^[0-9a-f]{16}$/);
  assert.deepEqual(created, { name: 'zh-helper', from: src, source: src, type: 'F16', system: SYSTEM });

  const ls = await runCli(['ls'], { env });
  assert.equal(ls.code, 0, ls.stderr);
  const row = ls.stdout.split('\n')[1];
  assert.match(row, new RegExp(`^zh-helper +GGUF F16 +[\\d.]+ MiB +created from ${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +\\d{4}-\\d\\d-\\d\\d$`));

  // The exact prompt the model gets: the recorded system prompt in front of the question.
  const t = await runCli(['template', 'render', '-m', 'zh-helper', '--messages', messages], { env });
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout,
    `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${SYSTEM}<|eot_id|>` +
    '<|start_header_id|>user<|end_header_id|>\n\n你是谁<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');

  // The real llama.cpp answers, from a prompt as long as the GGUF's with --system given by hand, longer than without.
  // The four chats only read the store (-p writes nothing): run side by side, as a CLI start and a model load are
  // most of each one's time; checked in order below.
  const [chat, [bySystemRun, bareRun], ownRun] = await Promise.all([
    runCli(['chat', '-m', 'zh-helper', '-p', '你是谁', '--temperature', '0', '-t', '1', '--json'], { env }),
    askByHand(src, env),
    // A system prompt given to chat wins over the recorded one.
    runCli(['chat', '-m', 'zh-helper', '-s', 'x', '-p', '你是谁', '--temperature', '0', '-t', '1', '--json'], { env }),
  ]);
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(bySystemRun.code, 0, bySystemRun.stderr);
  assert.equal(bareRun.code, 0, bareRun.stderr);
  assert.equal(ownRun.code, 0, ownRun.stderr);
  const a = JSON.parse(chat.stdout);
  assert.equal(a.reply, REPLY);
  const bySystem = JSON.parse(bySystemRun.stdout);
  const bare = JSON.parse(bareRun.stdout);
  assert.equal(a.usage.prompt_tokens, bySystem.usage.prompt_tokens);
  assert.ok(a.usage.prompt_tokens > bare.usage.prompt_tokens + 5, `${a.usage.prompt_tokens} vs ${bare.usage.prompt_tokens}`);
  const own = JSON.parse(ownRun.stdout);
  assert.equal(own.usage.prompt_tokens, bare.usage.prompt_tokens + 6);

  const rm = await runCli(['rm', 'zh-helper'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /^removed zh-helper \([\d.]+ MiB\)\n$/);
  assert.equal(existsSync(join(models, 'local')), false);
  assertOneLineError(await runCli(['chat', '-m', 'zh-helper', '-p', 'x'], { env }), /unknown model "zh-helper"/);
});

test('create --quantize q8_0 from an F16 GGUF uses llama.cpp\'s quantizer; --template is recorded', async () => {
  const src = await testModel({ reply: REPLY, stop: 'end_of_text' });
  const { env, models } = home();
  const c = await runCli(['create', 'me/v1-q8', '--from', src, '--quantize', 'q8_0', '--template', 'llama3-v1', '-t', '1'], { env });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /created me\/v1-q8: GGUF Q8_0, /);
  assert.deepEqual(readdirSync(join(models, 'me', 'v1-q8')).sort(), ['.llama3-zh.json', 'v1-q8-Q8_0.gguf']);
  const chat = await runCli(['chat', '-m', 'me/v1-q8', '-p', '你是谁', '--temperature', '0', '-t', '1', '--json'], { env });
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(JSON.parse(chat.stdout).template, 'llama3-v1');
  assert.equal(JSON.parse(chat.stdout).reply, REPLY);
});

test('a template file is checked, kept with the model and used', async () => {
  const src = await testModel({ reply: REPLY });
  const { env } = home();
  const good = join(dir, 'good.jinja');
  writeFileSync(good, "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}");
  const c = await runCli(['create', 'jinja-model', '--from', src, '--template-file', good, '--system', 'S'], { env });
  assert.equal(c.code, 0, c.stderr);
  const t = await runCli(['template', 'render', '-m', 'jinja-model', '--messages', messages, '--json'], { env });
  assert.deepEqual(JSON.parse(t.stdout), {
    template: 'jinja (file)',
    prompt: '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n你是谁<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  });
  // A template that needs a system message is fine for a model that always has one.
  const strict = join(dir, 'strict-ok.jinja');
  writeFileSync(strict, "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message is required') }}{% endif %}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}");
  assert.equal((await runCli(['create', 'strict', '--from', src, '--template-file', strict, '--system', 'S'], { env })).code, 0);
  const s = await runCli(['template', 'render', '-m', 'strict', '--messages', messages], { env });
  assert.equal(s.stdout, '[system]S[user]你是谁');
});

test('bad input: one line each, and nothing in the store', async () => {
  const src = await testModel({ reply: REPLY });
  const { env, models } = home();
  assert.equal((await runCli(['create', 'taken', '--from', src], { env })).code, 0);
  const before = readdirSync(join(models, 'local'));

  assertOneLineError(await runCli(['create', 'taken', '--from', src], { env }),
    /^llama3-zh create: a model named taken is in the store already \(.*taken-F16\.gguf\); pass --force to replace it, or choose another name$/);
  const forced = await runCli(['create', 'taken', '--from', src, '--force', '--system', 'new'], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /replaced taken: GGUF F16/);

  assertOneLineError(await runCli(['create', 'x', '--from', 'no-such-model'], { env }), /^llama3-zh create: unknown model "no-such-model"; 'llama3-zh models' lists the catalog/);
  assertOneLineError(await runCli(['create', 'x', '--from', './no/such/dir'], { env }), /^llama3-zh create: model not found: \.\/no\/such\/dir/);
  assertOneLineError(await runCli(['create', 'x', '--from', 'llama3-8b-dpo-zh'], { env }), /^llama3-zh create: llama3-8b-dpo-zh is not downloaded; run: llama3-zh pull llama3-8b-dpo-zh/);
  assertOneLineError(await runCli(['create', 'llama3-8b-dpo-zh', '--from', src], { env }), /^llama3-zh create: "llama3-8b-dpo-zh" is the name of the catalog model llama3-8b-dpo-zh; choose another name for yours$/);
  assertOneLineError(await runCli(['create', 'a:b', '--from', src], { env }), /^llama3-zh create: "a:b": a model name has no ':'/);
  // chat -m and rm read these as files: a model no command could name.
  assertOneLineError(await runCli(['create', 'mine.gguf', '--from', src], { env }), /^llama3-zh create: "mine\.gguf" reads as a file name \(it ends in \.gguf\); choose a model name without it$/);
  assertOneLineError(await runCli(['create', 'mine.JSON', '--from', src], { env }), /^llama3-zh create: "mine\.JSON" reads as a file name \(it ends in \.JSON\); choose a model name without it$/);
  assertOneLineError(await runCli(['create', 'x'], { env }), /^llama3-zh create: create needs --from SRC/);
  assertOneLineError(await runCli(['create', 'x', '--from', src, '--quantize', 'q9'], { env }), /^llama3-zh create: unknown --quantize type 'q9'; from a GGUF the types are: F16, BF16, Q8_0/);
  assertOneLineError(await runCli(['create', 'x', '--from', src, '--template', 'nope'], { env }), /^llama3-zh create: unknown template "nope"; choose one of: llama3, llama3.1, llama3-v1, chatml, lf-default, jinja$/);

  const broken = join(dir, 'broken.jinja');
  writeFileSync(broken, '{% for m in messages %}{{ m.content }}');
  assertOneLineError(await runCli(['create', 'x', '--from', src, '--template-file', broken], { env }),
    new RegExp(`^llama3-zh create: cannot use template file ${broken.replace(/[.]/g, '\\.')}: the chat template does not parse as Jinja: `));
  const deaf = join(dir, 'deaf.jinja');
  writeFileSync(deaf, '{{ bos_token }}<|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|>');
  assertOneLineError(await runCli(['create', 'x', '--from', src, '--template-file', deaf], { env }),
    /^llama3-zh create: cannot use template file .*deaf\.jinja: it renders without the user messages' text \(USER-PROBE-1 is not in its output\); a chat template must write each message\['content'\]$/);

  // A template that needs a system message (raise_exception without one) is checked on a conversation without one
  // when the model has no system prompt; with --system it always gets one.
  const strict = join(dir, 'strict.jinja');
  writeFileSync(strict, "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message is required') }}{% endif %}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}");
  assertOneLineError(await runCli(['create', 'x', '--from', src, '--template-file', strict], { env }),
    /^llama3-zh create: cannot use template file .*strict\.jinja without a system prompt \(give one with --system\): the chat template failed to render: a system message is required$/);

  const adapter = join(dir, 'adapter-only');
  mkdirSync(adapter, { recursive: true });
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: '/root/models/Meta-Llama-3-8B-Instruct', r: 8, lora_alpha: 16, target_modules: ['q_proj'] }));
  assertOneLineError(await runCli(['create', 'x', '--from', adapter], { env }), /^llama3-zh create: .*adapter-only is a PEFT LoRA adapter, not a model: give it as --adapter .*, and its base model as --from$/);

  // Nothing was added by any of them.
  assert.deepEqual(readdirSync(join(models, 'local')), before);
  assert.deepEqual(readdirSync(join(models, 'local', 'taken')).sort(), ['.llama3-zh.json', 'taken-F16.gguf']);
});

test('a created model named as the folder it came from (the suggested command): chat -m NAME and rm NAME mean the model, not the folder', async () => {
  const src = await testModel({ reply: REPLY });
  const { env, models } = home();
  // The working directory holds a Hugging Face folder called my-sft, and the model is made under that name.
  const cwd = mkdtempSync(join(tmpdir(), 'create-cwd-'));
  mkdirSync(join(cwd, 'my-sft'));
  writeFileSync(join(cwd, 'my-sft', 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
  writeFileSync(join(cwd, 'my-sft', 'model.safetensors'), '');
  assert.equal((await runCli(['create', 'my-sft', '--from', src, '--system', SYSTEM], { env, cwd })).code, 0);
  const chat = await runCli(['chat', '-m', 'my-sft', '-p', '你是谁', '--temperature', '0', '-t', '1', '--json'], { env, cwd });
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(JSON.parse(chat.stdout).reply, REPLY);
  const rm = await runCli(['rm', 'my-sft'], { env, cwd });
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /^removed my-sft \([\d.]+ MiB\)\n$/);
  assert.equal(existsSync(join(models, 'local')), false);
  // The folder itself is untouched; with no model of that name, -m my-sft is the folder again.
  assert.deepEqual(readdirSync(join(cwd, 'my-sft')).sort(), ['config.json', 'model.safetensors']);
  assertOneLineError(await runCli(['chat', '-m', 'my-sft', '-p', 'x'], { env, cwd }), /^llama3-zh chat: my-sft is a Hugging Face \(safetensors\) model folder/);
});

test('create from a split GGUF: a copy of its first part alone is refused (llama.cpp would look for the others)', async () => {
  const src = await testModel({ reply: REPLY });
  const { env, models } = home();
  const first = join(mkdtempSync(join(tmpdir(), 'create-split-')), 'big-00001-of-00002.gguf');
  const set = await runCli(['gguf', 'set', src, 'split.count:u16=2', '--out', first], { env });
  assert.equal(set.code, 0, set.stderr);
  assertOneLineError(await runCli(['create', 'joined', '--from', first], { env }),
    /^llama3-zh create: .*big-00001-of-00002\.gguf is the first of 2 parts of a split GGUF, and create copies one file: give --quantize TYPE to make one file of it \(llama\.cpp reads every part\), or run it where it is$/);
  assert.equal(existsSync(models), false);
});

test('a created model whose file was deleted by hand: ls, chat and rm say what to do, and rm removes it', async () => {
  const src = await testModel({ reply: REPLY });
  const { env, models } = home();
  assert.equal((await runCli(['create', 'gone', '--from', src], { env })).code, 0);
  rmSync(join(models, 'local', 'gone', 'gone-F16.gguf'));
  const hint = `make it again \\(llama3-zh create gone --from ${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --force\\) or remove it \\(llama3-zh rm gone\\)`;
  assert.match((await runCli(['ls'], { env })).stdout.split('\n')[1], new RegExp(`^gone +GGUF F16 +0 B +FILE GONE: ${hint}$`));
  assertOneLineError(await runCli(['chat', '-m', 'gone', '-p', 'x'], { env }), new RegExp(`^llama3-zh chat: gone: its file .*gone-F16\\.gguf is gone; ${hint}$`));
  const rm = await runCli(['rm', 'gone'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(existsSync(join(models, 'local')), false);
});

test('chat on a Hugging Face folder without --yes and without a terminal: the exact commands, exit 1, nothing converted', async () => {
  const { env, models } = home();
  const hf = join(dir, 'My SFT model');
  mkdirSync(hf, { recursive: true });
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
  writeFileSync(join(hf, 'model.safetensors'), '');
  const r = await runCli(['chat', '-m', hf, '-p', '你好'], { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr,
    `llama3-zh chat: ${hf} is a Hugging Face (safetensors) model folder and llama.cpp runs GGUF: convert it once with  ` +
    `llama3-zh create my-sft-model --from ${hf} --quantize q4_k_m  and run that name, or add --yes to convert it now (to Q4_K_M, kept in the store for the next run)\n`);
  assert.equal(existsSync(models), false);
  // template takes no --yes: it says what converts the folder.
  assertOneLineError(await runCli(['template', 'render', '-m', hf, '--messages', messages], { env }),
    /^llama3-zh template: .*My SFT model is a Hugging Face \(safetensors\) model folder, not converted yet: run llama3-zh chat -m .* --yes \(or llama3-zh create NAME --from .*\) once, or render without -m \(--template NAME\)$/);
  const s = await runCli(['serve', hf], { env });
  assert.equal(s.code, 1);
  assert.match(s.stderr, /^llama3-zh serve: .* add --yes to convert it now \(to Q4_K_M, kept in the store for the next run\)\n$/);
});

test('serve NAME answers as NAME with the recorded system prompt; a request\'s own system message wins', async () => {
  const src = await testModel({ reply: REPLY });
  const { env } = home();
  assert.equal((await runCli(['create', 'zh-served', '--from', src, '--system', SYSTEM], { env })).code, 0);
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'serve', 'zh-served', '--port', '0', '-t', '1', '-c', '512', '--quiet'], {
    env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      const m = / on (http:\/\/[\d.]+:\d+) /.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('close', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  try {
    const ask = async (msgs: { role: string; content: string }[]) => (await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'zh-served', messages: msgs, temperature: 0 }),
    })).json();
    const a = await ask([{ role: 'user', content: '你是谁' }]);
    assert.equal(a.model, 'zh-served');
    assert.equal(a.choices[0].message.content, REPLY);
    const own = await ask([{ role: 'system', content: 'x' }, { role: 'user', content: '你是谁' }]);
    const [withSystemRun, bareRun] = await askByHand(src, env);
    const bare = JSON.parse(bareRun.stdout);
    const withSystem = JSON.parse(withSystemRun.stdout);
    assert.equal(a.usage.prompt_tokens, withSystem.usage.prompt_tokens);
    assert.equal(own.usage.prompt_tokens, bare.usage.prompt_tokens + 6);
    // The simple API (POST /) uses the recorded system prompt too, not the demo's own default.
    const promptTotal = async () => Number(/^llama3zh_prompt_tokens_total (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())![1]);
    const before = await promptTotal();
    const simple = await (await fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: '你是谁', temperature: 0 }) })).json();
    assert.equal(simple.response, REPLY);
    assert.equal(await promptTotal() - before, withSystem.usage.prompt_tokens);
    // ollama's /api/show has it, as it shows a Modelfile's SYSTEM.
    const show = await (await fetch(`${url}/api/show`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'zh-served' }) })).json();
    assert.equal(show.system, SYSTEM);
    assert.match(show.modelfile, new RegExp(`^FROM .*zh-served-F16\\.gguf\\nSYSTEM """${SYSTEM}"""$`));
  } finally {
    child.kill('SIGINT');
  }
});
