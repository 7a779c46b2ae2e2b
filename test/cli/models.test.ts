import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { catalogTable, filterCatalog, localTable, modelDetails } from '../../src/cli/commands/models.js';
import { UserError } from '../../src/errors.js';
import { CATALOG, findModel } from '../../src/hub/catalog.js';
import { browserMark } from '../../src/estimate/browserFit.js';
import { browserLine } from '../../src/cli/commands/modelsBrowser.js';
import { assertOneLineError, emptyHome, runCli } from '../helpers/cli.js';

// Each run of the executable costs seconds here (main.ts loads every command, node-llama-cpp included),
// so the rendering and filtering are tested in-process and the executable end to end.

/** A store with the default model's GGUF (10 bytes), an HF folder and an unfinished download. */
function homeWithModels(): string {
  const home = emptyHome();
  const models = join(home, 'models');
  mkdirSync(join(models, 'shareAI', 'llama3.1-8b-instruct-dpo-zh'), { recursive: true });
  writeFileSync(join(models, 'shareAI', 'llama3.1-8b-instruct-dpo-zh', 'x.gguf'), '0123456789');
  mkdirSync(join(models, 'UnicomLLM', 'Unichat-llama3-Chinese-8B-28K'), { recursive: true });
  writeFileSync(join(models, 'UnicomLLM', 'Unichat-llama3-Chinese-8B-28K', 'config.json'), '{"a":1}');
  writeFileSync(join(models, 'UnicomLLM', 'Unichat-llama3-Chinese-8B-28K', 'pytorch_model.bin.part'), '12345');
  return home;
}

/**
 * Where each catalog size runs in a browser at Q4_K_M, worked out here from the configs: [layers, hidden, FFN,
 * heads, experts]; head size 128, 8 KV heads, 128,256 tokens, untied output. 19B is the generic shape the
 * estimator makes for it; 8x8B is 8 experts of Llama-3-8B's FFN with a router.
 */
const DIMS: Record<string, [number, number, number, number, number]> = {
  '8B': [32, 4096, 14336, 32, 1], '70B': [80, 8192, 28672, 64, 1], '405B': [126, 16384, 53248, 128, 1],
  '19B': [44, 5632, 19712, 44, 1], '8x8B': [32, 4096, 14336, 32, 8],
};
const BROWSER = Object.fromEntries(Object.entries(DIMS).map(([size, [layers, hidden, ffn, heads, experts]]) => {
  const perLayer = 2 * hidden * heads * 128 + 2 * hidden * 8 * 128 + 3 * hidden * ffn * experts + (experts > 1 ? hidden * experts : 0) + 2 * hidden;
  const params = 2 * 128256 * hidden + layers * perLayer + hidden;
  // Q4_K_M: llama-quantize's 4.58 GiB for Llama-3-8B's 8,030,261,248 parameters.
  const weightBytes = Math.round((params * 4.58 * 2 ** 30) / 8030261248);
  const kv = 2 * layers * 4096 * 8 * 128 * 2; // K and V, 4096 tokens, f16
  const compute = 4 * 256 * (hidden + 4096 * heads) + 4 * 256 * 128256; // one 256-token batch: scores, logits
  const q4Bytes = weightBytes + kv + compute + 64 * 2 ** 20;
  return [size, { weightBytes, q4Bytes, ctx: 4096, phone: q4Bytes <= 1.5 * 2 ** 30, tab: q4Bytes <= 4 * 2 ** 30 }];
}));

test('browser fit: exact needs at Q4_K_M, and no catalog model fits a phone or a tab', () => {
  assert.deepEqual(BROWSER['8B'], { weightBytes: 4917737554, q4Bytes: 4917737554 + 536870912 + 138412032 + 131334144 + 67108864, ctx: 4096, phone: false, tab: false });
  assert.deepEqual(Object.values(BROWSER).map((b) => b.q4Bytes), [5791463506, 45024583110, 251410916944, 13006532788, 29957444372]);
  assert.deepEqual(new Set(CATALOG.map((m) => m.size)), new Set(Object.keys(BROWSER)));
  const fit = (phone: boolean, tab: boolean) => ({ weightBytes: 0, q4Bytes: 1, ctx: 4096, phone, tab });
  assert.deepEqual([fit(true, true), fit(false, true), fit(false, false)].map(browserMark), ['phone', 'tab', '-']);
  assert.equal(browserLine([fit(true, true), fit(false, true), fit(false, false)]),
    'Browser (llama3-zh web export, Q4_K_M, 4096 tokens): 1 of these 3 models fit a phone (1.5 GiB), 2 a laptop\'s browser tab (4.0 GiB).');
});

const BROWSER_LINE = 'Browser (llama3-zh web export, Q4_K_M, 4096 tokens): none of these 31 models fits a phone (1.5 GiB) or a laptop\'s browser tab '
  + '(4.0 GiB, WebAssembly\'s limit); the smallest needs 5.4 GiB. A phone needs a model of about 1B (Llama-3.2-1B: 1.1 GiB), a laptop\'s tab '
  + 'holds one of up to about 3B (Llama-3.2-3B: 2.6 GiB): a Chinese fine-tune of Llama-3.2-1B/3B, say.';

const rowsOf = (stdout: string) => stdout.split('\n').filter((l) => /^\S+ +Llama-3(\.1)? /.test(l));

test('models: the catalog as a table, and an empty store', async () => {
  const home = emptyHome();
  const r = await runCli(['models'], { env: { LLAMA3ZH_HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'Catalog: 31 models; default llama3.1-8b-dpo-zh. Details: llama3-zh models NAME');
  assert.match(lines[2], /^NAME +MODEL +KIND +CONTEXT +TEMPLATE +PULL FROM +BROWSER +LOCAL$/);
  const rows = rowsOf(r.stdout);
  assert.deepEqual(rows.map((l) => l.split(' ')[0]), CATALOG.map((m) => m.name));
  assert.match(r.stdout, /^llama3\.1-8b-dpo-zh +Llama-3\.1 8B +instruct\+DPO +131072 +llama3\.1 +hf ms +-$/m);
  assert.match(r.stdout, /^llama3-8b-sft-zh-v1 +Llama-3 8B +base\+SFT +8192 +llama3-v1 +- \(opencsg, wisemodel\) +-$/m);
  assert.match(r.stdout, /^unichat-8b-28k +Llama-3 8B +instruct\+SFT,long-context +28672 +jinja +hf ms +-$/m);
  assert.match(r.stdout, /^wukong-405b-zh +Llama-3\.1 405B +instruct\+SFT,LoRA adapter +131072 +llama3\.1 +hf +-$/m);
  assert.match(r.stdout, /^cogvlm2-llama3 +Llama-3 19B +multimodal +8192 +llama3 +- \(github\) +-$/m);
  assert.ok(!r.stdout.includes('✓'), 'nothing is in an empty store');
  assert.equal(lines[3 + CATALOG.length], '');
  assert.equal(lines[4 + CATALOG.length], BROWSER_LINE);
  assert.equal(lines.at(-2), `Local models in ${join(home, 'models')}: none (llama3-zh pull NAME downloads one)`);
});

test('models --json prints {catalog, local}', async () => {
  const r = await runCli(['models', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ['catalog', 'local']);
  assert.deepEqual(j.local, []);
  assert.deepEqual(j.catalog, CATALOG.map((m) => ({ ...m, inStore: false, browser: BROWSER[m.size] })));
});

test('--kind and --search filter the catalog', () => {
  const names = (f: { kind?: string; search?: string }) => filterCatalog(f).map((m) => m.name);
  assert.deepEqual(names({}), CATALOG.map((m) => m.name));
  assert.deepEqual(names({ kind: 'dpo' }),
    ['llama3.1-8b-dpo-zh', 'llama3-8b-dpo-zh', 'zhuangxialie-8b-dpo', 'zte-llama3-70b-zh', 'orion-llama3-70b-zh']);
  assert.deepEqual(names({ kind: 'LoRA adapter' }), ['wukong-405b-zh', 'llama3-8b-doc2markmap-lora']);
  assert.deepEqual(names({ kind: 'long-context' }), ['unichat-8b-28k', 'llama3-8b-instruct-262k']);
  assert.deepEqual(names({ search: 'unicom' }), ['unichat-8b-28k', 'unichat-8b']);
  assert.deepEqual(names({ search: 'FastChat' }), ['zhuangxialie-8b-sft', 'zhuangxialie-8b-orpo', 'zhuangxialie-8b-dpo']);
  assert.deepEqual(names({ search: 'hf-mirror' }), ['llama3.1-8b-dpo-zh']);
  assert.deepEqual(names({ kind: 'orpo', search: 'shenzhi' }), ['shenzhi-llama3-8b-chat']);
  assert.deepEqual(names({ kind: 'moe', search: 'dolphin' }), []);
  assert.throws(() => filterCatalog({ kind: 'rlhf' }), (e: unknown) => e instanceof UserError && e.exitCode === 2);
  assert.throws(() => filterCatalog({ kind: '' }), UserError);
  assert.deepEqual(catalogTable([], true), ['Catalog: no model matches (31 in all; llama3-zh models lists them)']);
});

test('models --kind on the command line', async () => {
  const some = await runCli(['models', '--kind', 'multimodal']);
  assert.equal(some.code, 0, some.stderr);
  assert.match(some.stdout, /^Catalog: 3 of 31 models; /);
  assert.deepEqual(rowsOf(some.stdout).map((l) => l.split(' ')[0]), ['bunny-llama3-8b-v', 'llava-llama3-8b', 'cogvlm2-llama3']);
  assert.match(some.stdout, /^Browser \(llama3-zh web export, Q4_K_M, 4096 tokens\): none of these 3 models fits .*; the smallest needs 5\.4 GiB\. /m);
  const bad = await runCli(['models', '--kind', 'rlhf']);
  assertOneLineError(bad, /^llama3-zh models: unknown --kind "rlhf"; kinds: base\+SFT, instruct\+SFT, .*, added blocks$/);
  assert.equal(bad.code, 2);
});

test('models NAME shows one entry in full', async () => {
  const r = await runCli(['models', 'llama3.1-8b-dpo-zh']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n'), [
    'llama3.1-8b-dpo-zh — shareAI-DPO中文 8B版本（RLHF中文） (the default model)',
    '  publisher  shareAI',
    '  model      Llama-3.1 8B',
    '  kind       instruct+DPO',
    '  recipe     DPO beta 0.5 + LoRA rank 128, alpha 256; lm_head, input_layernorm, post_attention_layernorm and norm trained; '
      + 'data shareAI/DPO-zh-en-emoji; 8 × A100, 5 minutes',
    '  template   llama3.1, replies end with <|eot_id|>',
    '  context    131072 tokens',
    '  browser    at Q4_K_M needs 5.4 GiB (4.6 GiB of weights, 4096 tokens of context): fits neither a phone nor a browser tab',
    '  weights    https://modelscope.cn/models/shareAI/llama3.1-8b-instruct-dpo-zh',
    '             https://opencsg.com/models/shareAI/llama3.1-8b-instruct-dpo-zh',
    '  gguf       https://huggingface.co/shareAI/llama3.1-8b-instruct-dpo-zh',
    '               Q4_K_M  llama3.1_8b_chinese_chat_q4_k_m-shareAI.gguf',
    '  notes      The default model. The Hugging Face repo (and its mirror hf-mirror.com) holds only the Q4_K_M GGUF, 4.92 GB; '
      + 'the safetensors are on ModelScope. Also on ollama: ollama run shareai/llama3.1-dpo-zh',
    '  in store   no',
    '  pull       llama3-zh pull llama3.1-8b-dpo-zh',
    '',
  ]);

  // By repo id, any case (findModel); a GGUF repo with unknown file names; a model with no hub says where to get it.
  const details = (q: string) => modelDetails(findModel(q)!, [], '/store').join('\n');
  const dpo = details('BAICAI003/Llama3-Chinese-instruct-DPO-beta0.5');
  assert.match(dpo, /^llama3-8b-dpo-zh — /);
  assert.match(dpo, /^ {2}gguf {7}https:\/\/modelscope\.cn\/models\/shareAI\/llama-3-8b-Instruct-dpo-chinese-loftq-gguf\n {15}\(file names not recorded; pull lists them\)$/m);
  const v1 = details('llama3-8b-sft-zh-v1');
  assert.match(v1, /^ {2}template {3}llama3-v1, replies end with <\|end_of_text\|>$/m);
  assert.match(v1, /^ {2}weights {4}https:\/\/opencsg\.com\/models\/shareAI\/llama3-Chinese-chat-8b\n {13}https:\/\/wisemodel\.cn\/models\/shareAI\/llama3-Chinese-chat-8b$/m);
  assert.match(v1, /^ {2}pull {7}not on Hugging Face or ModelScope: get it from the links above$/m);
  assert.ok(!v1.includes('gguf'), 'no gguf line when there is none');
  const agent = details('llama3-8b-agent-zh');
  assert.match(agent, /^ {2}weights {4}https:\/\/huggingface\.co\/modelscope\/Llama3-Chinese-8B-Instruct-Agent-v1\n {13}https:\/\/modelscope\.cn\/models\/swift\/Llama3-Chinese-8B-Instruct-Agent-v1$/m);
  assert.match(agent, /^ {15}Q4_K_M {2}Llama3-Chinese-8B-Instruct-Agent-v1\.Q4_K_M\.gguf$/m);
  const here = modelDetails(findModel('unichat-8b-28k')!, [{ path: '/store/a/b/config.json', repo: 'a/b', format: 'safetensors', bytes: 3 * 2 ** 30, complete: true, partialBytes: 0 }], '/store');
  assert.ok(here.includes('  in store   a/b  a/b (3.00 GiB)'), here.join('\n'));
});

test('models NAME: an unknown name suggests the closest ones', async () => {
  assertOneLineError(await runCli(['models', 'llama3.1-dpo']),
    /^llama3-zh models: no model "llama3\.1-dpo" in the catalog; closest: llama3\.1-8b-dpo-zh, .+ \(llama3-zh models lists them all\)$/);
  assertOneLineError(await runCli(['models', '--size', '8b']), /^llama3-zh models: unknown option --size; see 'llama3-zh models --help'$/);
});

test('models lists the local store beside the catalog', async () => {
  const home = homeWithModels();
  const root = join(home, 'models');
  const r = await runCli(['models'], { env: { LLAMA3ZH_HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^llama3\.1-8b-dpo-zh +Llama-3\.1 8B +instruct\+DPO +131072 +llama3\.1 +hf ms +- +✓$/m);
  // Unichat's folder has an unfinished download: not ✓ until it is whole.
  assert.match(r.stdout, /^unichat-8b-28k +Llama-3 8B +instruct\+SFT,long-context +28672 +jinja +hf ms +-$/m);
  assert.equal(rowsOf(r.stdout).filter((l) => l.endsWith('✓')).length, 1);
  const local = r.stdout.slice(r.stdout.indexOf('Local models')).split('\n');
  assert.equal(local[0], `Local models in ${root}:`);
  assert.match(local[2], /^NAME +FORMAT +SIZE +SOURCE +PULLED$/);
  assert.match(local[3], /^UnicomLLM\/Unichat-llama3-Chinese-8B-28K +safetensors +7 B +INCOMPLETE, to resume: llama3-zh pull UnicomLLM\/Unichat-llama3-Chinese-8B-28K$/);
  assert.match(local[4], /^shareAI\/llama3\.1-8b-instruct-dpo-zh\/x\.gguf +GGUF +10 B +added by hand$/);
  assert.deepEqual(local.slice(5), ['']);

  const j = JSON.parse((await runCli(['models', '--json'], { env: { LLAMA3ZH_HOME: home } })).stdout);
  assert.deepEqual(j.local.map((l: { name: string; path: string; format: string; bytes: number; complete: boolean }) => [l.name, l.path, l.format, l.bytes, l.complete]), [
    ['UnicomLLM/Unichat-llama3-Chinese-8B-28K', join(root, 'UnicomLLM', 'Unichat-llama3-Chinese-8B-28K', 'config.json'), 'safetensors', 7, false],
    ['shareAI/llama3.1-8b-instruct-dpo-zh/x.gguf', join(root, 'shareAI', 'llama3.1-8b-instruct-dpo-zh', 'x.gguf'), 'gguf', 10, true],
  ]);
  assert.deepEqual(j.catalog.filter((m: { inStore: boolean }) => m.inStore).map((m: { name: string }) => m.name), ['llama3.1-8b-dpo-zh']);

  const one = JSON.parse((await runCli(['models', 'llama3.1-8b-dpo-zh', '--json'], { env: { LLAMA3ZH_HOME: home } })).stdout);
  assert.deepEqual([one.inStore, one.local, one.browser], [true, [j.local[1]], BROWSER['8B']]);
  assert.deepEqual(localTable([], '/s'), ['Local models in /s: none (llama3-zh pull NAME downloads one)']);
});

test('models --help', async () => {
  const r = await runCli(['models', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^llama3-zh models — the model catalog and the models you have$/m);
  assert.match(r.stdout, /--kind K +only models whose kind contains K \(base\+SFT, .*added blocks\)/);
  assert.match(r.stdout, /^  --models-dir DIR  the store \(default \$LLAMA3ZH_MODELS or ~\/\.cache\/llama3-zh\/models\), laid out as owner\/name\/files\.$/m);
});
