import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { humanBytes } from '../../src/util/human.js';
import { assertFinalError, assertOneLineError, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { COMMIT, gitOid, randomBytes, sha256, startHub } from '../helpers/hub.js';
import { REPLY, ROOT, testModel } from '../helpers/models.js';
import { inTerminal } from '../helpers/tty.js';

const MiB = 2 ** 20;
let model: Buffer;

before(async () => {
  model = readFileSync(await testModel({ reply: REPLY }));
});

type Hub = Awaited<ReturnType<typeof startHub>>;
const hubs: Hub[] = [];
after(async () => { for (const h of hubs) await h.close(); });

async function hub(o: Parameters<typeof startHub>[0]): Promise<Hub> {
  const h = await startHub(o);
  hubs.push(h);
  return h;
}

/** A port nothing listens on. */
function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => r(port));
    });
  });
}

/** Every file under a folder, relative, sorted. */
function tree(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tree(join(dir, d.name), base) : [join(dir, d.name).slice(base.length + 1)]).sort();
}

test('pull a GGUF repo from Hugging Face end to end: Q4_K_M picked, verified, stored with a manifest, listed, chatted with, removed', async () => {
  const readme = Buffer.from('# test model\n');
  const h = await hub({
    repos: [{
      hub: 'huggingface', repo: 'shareAI/test-zh-gguf',
      files: [
        { path: 'README.md', data: readme },
        { path: 'test-zh.Q8_0.gguf', data: randomBytes(1000, 8) },
        { path: 'test-zh.Q4_K_M.gguf', data: model },
      ],
    }],
    token: 'hf_secret', pageSize: 2,
  });
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home, HF_TOKEN: 'hf_secret' };
  const r = await runCli(['pull', 'shareAI/test-zh-gguf'], { env });
  assert.equal(r.code, 0, r.stderr);
  const dest = join(home, 'models', 'shareAI', 'test-zh-gguf', 'test-zh.Q4_K_M.gguf');
  assert.equal(r.stdout, `${dest}\n`);
  assert.match(r.stderr, /pulling shareAI\/test-zh-gguf @ a1b2c3d4e5f6 from Hugging Face API at http:\/\/127\.0\.0\.1:\d+: test-zh\.Q4_K_M\.gguf \(Q4_K_M\), 38\.9 MiB$/m);
  assert.ok(readFileSync(dest).equals(model));
  // Only the chosen file is stored (with the manifest); no partials are left.
  assert.deepEqual(tree(join(home, 'models')), ['shareAI/test-zh-gguf/.llama3-zh.json', 'shareAI/test-zh-gguf/test-zh.Q4_K_M.gguf']);
  const manifest = JSON.parse(readFileSync(join(home, 'models', 'shareAI', 'test-zh-gguf', '.llama3-zh.json'), 'utf8'));
  assert.equal(manifest.entries[0].commit, COMMIT);
  assert.deepEqual(manifest.entries[0].files, [{ path: 'test-zh.Q4_K_M.gguf', size: model.length, sha256: sha256(model) }]);
  // The file came from the CDN after a redirect, and the token stayed with the hub.
  const cdn = h.requests.filter((q) => q.server === 'cdn');
  assert.ok(cdn.length >= 1);
  assert.ok(cdn.every((q) => q.authorization === undefined), 'the HF token must not follow the redirect to the CDN');
  assert.ok(h.requests.filter((q) => q.server === 'hub').every((q) => q.authorization === 'Bearer hf_secret'));
  // The paged listing (3 files and a folder, 2 entries a page) was followed to its end.
  assert.equal(h.requests.filter((q) => q.url.includes('/tree/')).length, 2);

  const ls = await runCli(['ls', '--json'], { env });
  assert.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout);
  assert.deepEqual(listed.map((m: { name: string; bytes: number; complete: boolean; hub: string }) => [m.name, m.bytes, m.complete, m.hub]),
    [['shareAI/test-zh-gguf:Q4_K_M', model.length, true, 'huggingface']]);
  const lsText = await runCli(['ls'], { env });
  assert.match(lsText.stdout, /^NAME\s+FORMAT\s+SIZE\s+SOURCE\s+PULLED\nshareAI\/test-zh-gguf:Q4_K_M\s+GGUF Q4_K_M\s+38\.9 MiB\s+huggingface@a1b2c3d/);

  // chat takes the repo id (and the quant) and runs the stored file.
  const chat = await runCli(['chat', '-m', 'shareAI/test-zh-gguf:Q4_K_M', '-t', '1', '-p', '你是谁？', '--temperature', '0'], { env });
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout, `${REPLY}\n`);

  // A second pull fetches nothing.
  const before = h.requests.filter((q) => q.server === 'cdn').length;
  const again = await runCli(['pull', 'shareAI/test-zh-gguf'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /nothing to fetch/);
  assert.equal(h.requests.filter((q) => q.server === 'cdn').length, before);

  const rm = await runCli(['rm', 'shareAI/test-zh-gguf'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /^removed shareAI\/test-zh-gguf:Q4_K_M \(38\.9 MiB\)\n$/);
  assert.deepEqual(tree(join(home, 'models')), []);
});

test('a pull interrupted halfway resumes: the bytes already there are not fetched again', async () => {
  const data = randomBytes(6 * MiB, 42);
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/big-gguf', files: [{ path: 'big.Q4_K_M.gguf', data }] }], throttle: 1.5 * MiB });
  const home = emptyHome();
  const env = { ...cleanEnv(), ...h.env, LLAMA3ZH_HOME: home };
  const dir = join(home, 'models', 'acme', 'big-gguf');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'pull', 'acme/big-gguf', '--connections', '2', '--chunk-size', String(MiB)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  // Wait until the saved progress says a third is there, then Ctrl-C.
  const state = join(dir, 'big.Q4_K_M.gguf.part.json');
  for (let i = 0; i < 400; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).done.reduce((a: number, b: number) => a + b, 0) >= 2 * MiB) break;
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr.trim().split('\n').pop()!, /^llama3-zh pull: interrupted; .* run the same command to resume$/);
  assert.ok(!existsSync(join(dir, 'big.Q4_K_M.gguf')), 'no file that looks complete');
  assert.ok(existsSync(join(dir, 'big.Q4_K_M.gguf.part')));
  const kept = JSON.parse(readFileSync(state, 'utf8')) as { done: number[]; chunkSize: number };
  const keptBytes = kept.done.reduce((a, b) => a + b, 0);
  assert.ok(keptBytes >= 2 * MiB && keptBytes < data.length, `kept ${keptBytes}`);
  // ls shows it as unfinished, with the command that finishes it.
  const ls = await runCli(['ls'], { env: { LLAMA3ZH_HOME: home } });
  assert.match(ls.stdout, new RegExp(`^acme/big-gguf:Q4_K_M +GGUF Q4_K_M +${humanBytes(keptBytes).replace('.', '\\.')} +INCOMPLETE, to resume: llama3-zh pull acme/big-gguf:Q4_K_M$`, 'm'));

  h.requests.length = 0;
  h.served.clear();
  const r = await runCli(['pull', 'acme/big-gguf', '--connections', '2'], { env: { ...h.env, LLAMA3ZH_HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(dir, 'big.Q4_K_M.gguf')).equals(data));
  // Exactly the missing bytes, asked for from where each chunk stopped.
  assert.equal(h.served.get('big.Q4_K_M.gguf'), data.length - keptBytes);
  const starts = h.requests.filter((q) => q.server === 'cdn').map((q) => Number(/^bytes=(\d+)-/.exec(q.range!)![1])).sort((a, b) => a - b);
  const expected = kept.done.map((d, i) => ({ d, i })).filter(({ d, i }) => d < Math.min(kept.chunkSize, data.length - i * kept.chunkSize)).map(({ d, i }) => i * kept.chunkSize + d);
  assert.deepEqual(starts, expected);
  assert.match(r.stderr, /resumed after/);
  assert.deepEqual(tree(dir), ['.llama3-zh.json', 'big.Q4_K_M.gguf']);
});

test('a corrupted download is detected by its sha256, deleted, and said so', async () => {
  const data = randomBytes(300_000, 7);
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/bad', files: [{ path: 'm.Q4_K_M.gguf', data }] }], corrupt: new Set(['m.Q4_K_M.gguf']) });
  const home = emptyHome();
  const r = await runCli(['pull', 'acme/bad'], { env: { ...h.env, LLAMA3ZH_HOME: home } });
  assertFinalError(r, new RegExp(`^llama3-zh pull: m\\.Q4_K_M\\.gguf is corrupt: its sha256 is [0-9a-f]{64}, the hub says ${sha256(data)}; the download was deleted, run the command again$`));
  assert.deepEqual(tree(join(home, 'models')), []);
});

test('a small (non-LFS) file is checked by its git hash', async () => {
  const cfg = Buffer.from('{"architectures":["LlamaForCausalLM"]}\n');
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/tiny-hf', files: [{ path: 'config.json', data: cfg }, { path: 'model.safetensors', data: randomBytes(5000, 3) }] }], corrupt: new Set(['config.json']) });
  const r = await runCli(['pull', 'acme/tiny-hf'], { env: { ...h.env } });
  assertFinalError(r, new RegExp(`config\\.json is corrupt: its git hash is [0-9a-f]{40}, the hub says ${gitOid(cfg)}`));
});

test('hostile file names in a listing are refused and nothing is written outside the store', async () => {
  for (const [hubId, evil] of [['huggingface', '../../evil.gguf'], ['modelscope', '/etc/evil.gguf'], ['huggingface', 'a/../../evil.gguf'], ['modelscope', 'C:\\evil.gguf']] as const) {
    const h = await hub({ repos: [{ hub: hubId, repo: 'acme/evil', files: [{ path: 'ok.Q4_K_M.gguf', data: randomBytes(100, 1) }], extraListing: [evil] }] });
    const home = emptyHome();
    const r = await runCli(['pull', 'acme/evil', '--source', hubId], { env: { ...h.env, LLAMA3ZH_HOME: home } });
    assertOneLineError(r, /^llama3-zh pull: refusing the file name .*evil\.gguf.* from the hub: /);
    assert.deepEqual(tree(home), []);
  }
});

test('ModelScope: --source modelscope lists and downloads through its API, checked by sha256', async () => {
  const h = await hub({ repos: [{ hub: 'modelscope', repo: 'baicai003/test-gguf', files: [{ path: 'q/test.q8_0.gguf', data: model }, { path: 'configuration.json', data: Buffer.from('{}') }] }] });
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  const r = await runCli(['pull', 'baicai003/test-gguf', '--source', 'modelscope'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /from ModelScope API at http:\/\/127\.0\.0\.1:\d+: q\/test\.q8_0\.gguf \(Q8_0\)/);
  const dest = join(home, 'models', 'baicai003', 'test-gguf', 'q', 'test.q8_0.gguf');
  assert.equal(r.stdout, `${dest}\n`);
  assert.ok(readFileSync(dest).equals(model));
  assert.ok(h.requests.some((q) => q.url.startsWith('/api/v1/models/baicai003/test-gguf/repo/files?Revision=master&Recursive=true')));
  const chat = await runCli(['chat', '-m', 'baicai003/test-gguf', '-t', '1', '-p', 'hi', '--temperature', '0'], { env });
  assert.equal(chat.stdout, `${REPLY}\n`, chat.stderr);
});

test('gated and missing repos, missing quants and revisions are one-line errors that say what to do', async () => {
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'meta-llama/gated', gated: true, files: [{ path: 'x.Q4_K_M.gguf', data: randomBytes(2000, 9) }] }], token: 'hf_good' });
  const env = { ...h.env };
  const closed = await freePort();
  // Side by side: each has its own empty store, and one at a time they were seconds of waiting.
  const [gatedNoToken, gatedWrong, ok, missing, missingMs, noQuant, noRev, badSource, unknown, didYouMean, both, refused] = await Promise.all([
    runCli(['pull', 'meta-llama/gated'], { env }),
    runCli(['pull', 'meta-llama/gated'], { env: { ...env, HF_TOKEN: 'hf_wrong' } }),
    runCli(['pull', 'meta-llama/gated'], { env: { ...env, HF_TOKEN: 'hf_good' } }),
    runCli(['pull', 'nobody/nothing'], { env }),
    runCli(['pull', 'nobody/nothing', '--source', 'ms'], { env }),
    runCli(['pull', 'meta-llama/gated:Q8_0'], { env: { ...env, HF_TOKEN: 'hf_good' } }),
    runCli(['pull', 'meta-llama/gated', '--revision', 'v9'], { env: { ...env, HF_TOKEN: 'hf_good' } }),
    runCli(['pull', 'x/y', '--source', 'github']),
    runCli(['pull', 'no-such-model']),
    runCli(['pull', 'llama3.1-8b-dpo']),
    runCli(['pull', 'a/b/c:d']),
    runCli(['pull', 'x/y'], { env: { HF_ENDPOINT: `http://127.0.0.1:${closed}` } }),
  ]);
  // As on Hugging Face, the listing is public and the file itself is refused: the message still says what to do.
  assertFinalError(gatedNoToken,
    /^llama3-zh pull: meta-llama\/gated is gated: accept its terms at http:\/\/127\.0\.0\.1:\d+\/meta-llama\/gated, then set HF_TOKEN to an access token of that account$/);
  assertFinalError(gatedWrong,
    /^llama3-zh pull: meta-llama\/gated is gated and your HF_TOKEN has no access yet: accept its terms at http:\/\/127\.0\.0\.1:\d+\/meta-llama\/gated with that account$/);
  assert.equal(ok.code, 0, ok.stderr);
  assertOneLineError(missing, /^llama3-zh pull: nobody\/nothing not found on Hugging Face API at .* \(if it is private, set HF_TOKEN\); check the name at /);
  assertOneLineError(missingMs, /^llama3-zh pull: ModelScope API at .*: cannot list nobody\/nothing@master: model nobody\/nothing not exists$|not found on ModelScope/);
  assertOneLineError(noQuant, /^llama3-zh pull: meta-llama\/gated has no Q8_0 GGUF; it has: Q4_K_M$/);
  assertOneLineError(noRev, /^llama3-zh pull: meta-llama\/gated has no revision "v9" on Hugging Face/);
  assertOneLineError(badSource, /^llama3-zh pull: --source must be hf .* or modelscope \(got "github"\)$/);
  assertOneLineError(unknown, /^llama3-zh pull: unknown model "no-such-model"; 'llama3-zh models' lists the catalog, or give owner\/name or a path$/);
  assertOneLineError(didYouMean, /^llama3-zh pull: unknown model "llama3\.1-8b-dpo" \(did you mean llama3\.1-8b-dpo-zh, llama3-8b-dpo-zh\?\); /);
  assertOneLineError(both, /give a file as owner\/name:FILE or owner\/name\/FILE, not both/);
  assertOneLineError(refused, /^llama3-zh pull: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); if huggingface\.co is slow or blocked where you are, set HF_ENDPOINT=https:\/\/hf-mirror\.com or use --source modelscope$/);
});

test('a repo without GGUF gives the safetensors folder: config, tokenizer and shards, not Meta\'s original/ checkpoint', async () => {
  const files = [
    'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
    'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json',
    'original/consolidated.00.pth', 'README.md', '.gitattributes', 'train.py',
  ].map((path, i) => ({ path, data: randomBytes(200 + i, i + 1) }));
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'shareAI/hf-folder', files }] });
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  const r = await runCli(['pull', 'shareAI/hf-folder'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(tree(join(home, 'models', 'shareAI', 'hf-folder')), [
    '.llama3-zh.json', 'README.md', 'config.json', 'generation_config.json', 'model-00001-of-00002.safetensors',
    'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json',
  ]);
  const ls = JSON.parse((await runCli(['ls', '--json'], { env })).stdout);
  assert.deepEqual([ls[0].name, ls[0].format], ['shareAI/hf-folder', 'safetensors']);
  // chat needs a GGUF and says how to get one.
  // chat converts it first, with --yes or after asking; in a script it says how (test/convert/create.test.ts converts).
  assertOneLineError(await runCli(['chat', '-m', 'shareAI/hf-folder', '-p', 'hi'], { env }),
    /^llama3-zh chat: shareAI\/hf-folder is a Hugging Face \(safetensors\) model folder and llama\.cpp runs GGUF: convert it once with {2}llama3-zh create hf-folder --from shareAI\/hf-folder --quantize q4_k_m {2}and run that name, or add --yes to convert it now/);
});

test('a connection cut mid-file is retried from where it stopped; a server without ranges still works', async () => {
  const data = randomBytes(3 * MiB, 5);
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/flaky', files: [{ path: 'f.Q4_K_M.gguf', data }] }], cutOnce: { path: 'f.Q4_K_M.gguf', after: MiB } });
  const home = emptyHome();
  const r = await runCli(['pull', 'acme/flaky', '--connections', '1'], { env: { ...h.env, LLAMA3ZH_HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(home, 'models', 'acme', 'flaky', 'f.Q4_K_M.gguf')).equals(data));
  // The retry asks from the byte the cut left it at (what was in flight when the socket died is asked again).
  const ranges = h.requests.filter((q) => q.server === 'cdn').map((q) => q.range!);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], `bytes=0-${data.length - 1}`);
  const resumedAt = Number(/^bytes=(\d+)-(\d+)$/.exec(ranges[1])![1]);
  assert.ok(resumedAt > MiB - 256 * 1024 && resumedAt <= MiB, `resumed at ${resumedAt}`);
  assert.equal(h.served.get('f.Q4_K_M.gguf'), MiB + data.length - resumedAt);

  const plain = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/plain', files: [{ path: 'p.Q4_K_M.gguf', data }] }], noRanges: true });
  const home2 = emptyHome();
  const r2 = await runCli(['pull', 'acme/plain', '--connections', '4', '--chunk-size', String(MiB)], { env: { ...plain.env, LLAMA3ZH_HOME: home2 } });
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(readFileSync(join(home2, 'models', 'acme', 'plain', 'p.Q4_K_M.gguf')).equals(data));
});

test('chat and serve with a model that is not downloaded: the exact pull command without a terminal, a pull with --yes', async () => {
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'shareAI/llama3.1-8b-instruct-dpo-zh', files: [{ path: 'llama3.1_8b_chinese_chat_q4_k_m-shareAI.gguf', data: model }] }] });
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  assertOneLineError(await runCli(['chat', '-m', 'llama3.1-8b-dpo-zh', '-p', 'hi'], { env }),
    /^llama3-zh chat: llama3\.1-8b-dpo-zh is not downloaded; run: llama3-zh pull llama3\.1-8b-dpo-zh {2}\(or add --yes to fetch it now\)$/);
  assertOneLineError(await runCli(['serve', 'llama3.1-8b-dpo-zh', '--source', 'modelscope'], { env }),
    /^llama3-zh serve: llama3\.1-8b-dpo-zh is not downloaded; run: llama3-zh pull llama3\.1-8b-dpo-zh --source modelscope/);
  const r = await runCli(['chat', '-m', 'llama3.1-8b-dpo-zh', '--yes', '-t', '1', '-p', 'hi', '--temperature', '0'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${REPLY}\n`);
  assert.match(r.stderr, /llama3\.1-8b-dpo-zh is not downloaded: shareAI\/llama3\.1-8b-instruct-dpo-zh @ a1b2c3d4e5f6 from Hugging Face/);
  // Now it is the default model: no -m, and no demo.
  const d = await runCli(['chat', '-t', '1', '-p', 'hi', '--temperature', '0'], { env });
  assert.equal(d.stdout, `${REPLY}\n`);
  assert.doesNotMatch(d.stderr, /DEMO/);
});

test('--models-dir and LLAMA3ZH_MODELS choose the store; ls lists hand-placed GGUFs and unfinished pulls', async () => {
  const store = join(emptyHome(), 'elsewhere');
  mkdirSync(join(store, 'lmstudio-community', 'Meta-Llama-3-8B-Instruct-GGUF'), { recursive: true });
  writeFileSync(join(store, 'lmstudio-community', 'Meta-Llama-3-8B-Instruct-GGUF', 'Meta-Llama-3-8B-Instruct-Q4_K_M.gguf'), 'x'.repeat(10));
  const ls = await runCli(['ls', '--models-dir', store]);
  assert.match(ls.stdout, /^NAME\s+FORMAT\s+SIZE\s+SOURCE\s+PULLED\nlmstudio-community\/Meta-Llama-3-8B-Instruct-GGUF:Q4_K_M\s+GGUF Q4_K_M\s+10 B\s+added by hand\n/);
  const ls2 = await runCli(['ls', '--json'], { env: { LLAMA3ZH_MODELS: store } });
  assert.equal(JSON.parse(ls2.stdout).length, 1);
  const empty = await runCli(['ls']);
  assert.match(empty.stdout, /^no models in .* yet; 'llama3-zh models' lists what to pull/);
  assertOneLineError(await runCli(['rm', 'acme/none']), /^llama3-zh rm: acme\/none is not in the store; 'llama3-zh ls' lists what is$/);
});

/** Run llama3-zh in a pseudo-terminal, typing each [seconds, text] step; the terminal's output and exit code. */
function runInTerminal(steps: [number | string, string][], args: string[], env: Record<string, string>): Promise<string> {
  return inTerminal(steps, process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), ...args], { ...cleanEnv(), ...env });
}

test('on a terminal, chat asks before pulling a model that is not downloaded: no keeps it so, yes pulls it and chats', async () => {
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/tty-zh', files: [{ path: 'tty-zh.Q4_K_M.gguf', data: model }] }] });
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  const no = await runInTerminal([['Download it now?', 'n\r']], ['chat', '-m', 'acme/tty-zh', '-t', '1'], env);
  assert.match(no, /acme\/tty-zh is not downloaded: acme\/tty-zh @ a1b2c3d4e5f6 from Hugging Face API at \S+: tty-zh\.Q4_K_M\.gguf \(Q4_K_M\), 38\.9 MiB/);
  assert.match(no, /Download it now\? \[y\/N\] (\x1b\[\d+G)?n\r/);
  assert.match(no, /llama3-zh chat: not downloaded; to fetch it later: llama3-zh pull acme\/tty-zh/);
  assert.match(no, /\nEXIT 1\n$/);
  assert.deepEqual(tree(join(home, 'models')), []);

  const yes = await runInTerminal([['Download it now?', 'y\r'], ['/exit to leave.', '你好\r'], ['tok/s · prompt', '/exit\r']], ['chat', '-m', 'acme/tty-zh', '-t', '1', '--temperature', '0'], env);
  assert.match(yes, /pulled acme\/tty-zh: 38\.9 MiB, fetched 38\.9 MiB/);
  assert.ok(yes.includes(REPLY), yes.slice(-600));
  assert.match(yes, /\nEXIT 0\n$/);
  assert.ok(readFileSync(join(home, 'models', 'acme', 'tty-zh', 'tty-zh.Q4_K_M.gguf')).equals(model));
});

test('HTTPS_PROXY / HTTP_PROXY carry hub traffic through a proxy, as curl and huggingface_hub do', async () => {
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/proxied', files: [{ path: 'p.Q4_K_M.gguf', data: randomBytes(300_000, 11) }] }] });
  // A forward proxy: CONNECT tunnels, and plain requests in absolute form.
  const seen: string[] = [];
  const proxy = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const up = httpRequest(req.url!, { method: req.method, headers: req.headers }, (r) => { res.writeHead(r.statusCode!, r.headers); r.pipe(res); });
    req.pipe(up);
  });
  proxy.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const up = connect(Number(port), host, () => { socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'); up.write(head); up.pipe(socket); socket.pipe(up); });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const home = emptyHome();
    const r = await runCli(['pull', 'acme/proxied'], { env: { ...h.env, LLAMA3ZH_HOME: home, HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: '' } });
    assert.equal(r.code, 0, r.stderr);
    const hubHost = new URL(h.url).host;
    const cdnHost = new URL(h.cdnUrl).host;
    assert.ok(seen.some((s) => s.includes(hubHost)), `the hub was reached through the proxy: ${seen.join(', ')}`);
    assert.ok(seen.some((s) => s.includes(cdnHost)), `the CDN was reached through the proxy: ${seen.join(', ')}`);
    assert.ok(existsSync(join(home, 'models', 'acme', 'proxied', 'p.Q4_K_M.gguf')));
  } finally {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  }
});

test('an interrupted pull of several files is unfinished in ls, not a model for chat; rm takes it all away', async () => {
  const parts = [randomBytes(2 * MiB, 21), randomBytes(4 * MiB, 22)];
  const files = parts.map((data, i) => ({ path: `split-Q4_K_M-0000${i + 1}-of-00002.gguf`, data }));
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/split', files }], throttle: MiB });
  const home = emptyHome();
  const env = { ...cleanEnv(), ...h.env, LLAMA3ZH_HOME: home };
  const dir = join(home, 'models', 'acme', 'split');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'pull', 'acme/split', '--connections', '1'], { env, stdio: 'ignore' });
  const exited = new Promise((r) => child.on('close', r));
  // Stop it once the first part is in and the second has begun.
  for (let i = 0; i < 400 && !(existsSync(join(dir, files[0].path)) && existsSync(join(dir, `${files[1].path}.part.json`))); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  await exited;
  assert.ok(existsSync(join(dir, files[0].path)), 'the first part is in');
  const ls = JSON.parse((await runCli(['ls', '--json'], { env })).stdout);
  assert.deepEqual(ls.map((m: { name: string; complete: boolean }) => [m.name, m.complete]), [['acme/split:Q4_K_M', false]]);
  assertOneLineError(await runCli(['chat', '-m', 'acme/split', '-p', 'hi'], { env }), /^llama3-zh chat: acme\/split is not downloaded; run: llama3-zh pull acme\/split/);
  const rm = await runCli(['rm', 'acme/split:Q4_K_M'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(tree(join(home, 'models')), []);
});

test('a second pull of a file being downloaded is refused while the first runs; a pull left by a dead process is taken over', async () => {
  const data = randomBytes(4 * MiB, 31);
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/busy', files: [{ path: 'b.Q4_K_M.gguf', data }] }], throttle: MiB });
  const home = emptyHome();
  const env = { ...cleanEnv(), ...h.env, LLAMA3ZH_HOME: home };
  const dir = join(home, 'models', 'acme', 'busy');
  const first = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'pull', 'acme/busy', '--connections', '1'], { env, stdio: 'ignore' });
  const exited = new Promise((r) => first.on('close', r));
  for (let i = 0; i < 200 && !existsSync(join(dir, 'b.Q4_K_M.gguf.lock')); i++) await new Promise((r) => setTimeout(r, 50));
  assertFinalError(await runCli(['pull', 'acme/busy'], { env }), new RegExp(`^llama3-zh pull: another llama3-zh \\(pid ${first.pid}\\) is downloading b\\.Q4_K_M\\.gguf; wait for it to finish, or stop it and run this again$`));
  first.kill('SIGKILL');
  await exited;
  // The lock of a killed process does not stop the next pull.
  assert.ok(existsSync(join(dir, 'b.Q4_K_M.gguf.lock')));
  const r = await runCli(['pull', 'acme/busy'], { env: { ...h.env, LLAMA3ZH_HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(dir, 'b.Q4_K_M.gguf')).equals(data));
  assert.ok(!existsSync(join(dir, 'b.Q4_K_M.gguf.lock')));
});

test('a server that stops answering ranges half-way: an error that says to run again, and the run again gets the file right', async () => {
  const data = randomBytes(6 * MiB, 41);
  const h = await hub({ repos: [{ hub: 'huggingface', repo: 'acme/fickle', files: [{ path: 'f.Q4_K_M.gguf', data }] }], rangesFor: 2 });
  const home = emptyHome();
  const env = { ...h.env, LLAMA3ZH_HOME: home };
  assertFinalError(await runCli(['pull', 'acme/fickle', '--connections', '2', '--chunk-size', String(MiB)], { env }),
    /^llama3-zh pull: the hub stopped answering range requests for f\.Q4_K_M\.gguf; run the command again to resume$/);
  const again = await runCli(['pull', 'acme/fickle', '--connections', '2'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.ok(readFileSync(join(home, 'models', 'acme', 'fickle', 'f.Q4_K_M.gguf')).equals(data));
});

test('file choice on real repo layouts: two files of the default quant are a question, not a guess; a folder needs weights', async () => {
  const h = await hub({ repos: [
    { hub: 'huggingface', repo: 'acme/twins', files: [{ path: 'm-v2-Q4_K_M.gguf', data: randomBytes(100, 1) }, { path: 'm-v2.1-Q4_K_M.gguf', data: randomBytes(100, 2) }, { path: 'm-Q8_0.gguf', data: randomBytes(100, 3) }] },
    { hub: 'huggingface', repo: 'acme/noweights', files: [{ path: 'config.json', data: Buffer.from('{}') }, { path: 'checkpoint-100/model.safetensors', data: randomBytes(100, 4) }] },
    { hub: 'huggingface', repo: 'acme/arm', files: [{ path: 'm-Q4_0_4_4.gguf', data: randomBytes(100, 5) }, { path: 'm-Q4_0.gguf', data: randomBytes(100, 6) }] },
  ] });
  const env = { ...h.env };
  assertOneLineError(await runCli(['pull', 'acme/twins', '--dry-run'], { env }),
    /^llama3-zh pull: acme\/twins has 2 Q4_K_M files \(m-v2-Q4_K_M\.gguf, m-v2\.1-Q4_K_M\.gguf\); name one as acme\/twins:FILE$/);
  const one = await runCli(['pull', 'acme/twins:m-v2.1-Q4_K_M.gguf', '--dry-run'], { env });
  assert.equal(one.stdout.split('\t')[0], 'm-v2.1-Q4_K_M.gguf');
  assertOneLineError(await runCli(['pull', 'acme/noweights', '--dry-run'], { env }), /^llama3-zh pull: acme\/noweights has a config\.json but no weights/);
  const arm = await runCli(['pull', 'acme/arm:Q4_0', '--dry-run'], { env });
  assert.equal(arm.stdout.split('\t')[0], 'm-Q4_0.gguf', arm.stderr);
  const arm44 = await runCli(['pull', 'acme/arm:Q4_0_4_4', '--dry-run'], { env });
  assert.equal(arm44.stdout.split('\t')[0], 'm-Q4_0_4_4.gguf', arm44.stderr);
});
