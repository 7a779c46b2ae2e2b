import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { TensorType } from '../../src/gguf/types.js';
import { encodeHeader, kv } from '../../src/gguf/writer.js';
import { runCli } from '../helpers/cli.js';
import { serveSite } from '../../src/site/serve.js';
import { routedModel } from '../helpers/server.js';

/** web export as a user runs it: the site it writes, and what it refuses (one line, a non-zero exit, nothing written). */

let tmp: string;
let model: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'llama3zh-webexport-'));
  model = await routedModel();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('web export writes the whole site: page, engine, parts, models.json, manifest, service worker', async () => {
  const dir = join(tmp, 'site');
  const r = await runCli(['web', 'export', dir, '--model', model, '--part-size', '20']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8'));
  assert.equal(m.models.length, 1);
  const [x] = m.models;
  assert.ok(x.files.length >= 2);
  for (const f of x.files) assert.ok(existsSync(join(dir, f)), f);
  assert.equal(x.ctx, 4096, 'the model\'s 8192, at most 4096 in a browser');
  assert.match(r.stdout, new RegExp(`^${x.id}: [\\d.]+ MiB in ${x.files.length} parts, needs about [\\d.]+ MiB in a tab at 4096 tokens of context \\(fits a phone\\)$`, 'm'));
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  assert.match(html, /<html lang="zh-CN" data-theme="dark" data-site="static">/);
  assert.match(html, /<link rel="manifest" href="manifest.webmanifest">/);
  assert.match(html, /http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self' 'wasm-unsafe-eval'/);
  for (const f of ['assets/app.js', 'assets/local.js', 'assets/app.css', 'assets/wasm/wllama.wasm', 'assets/wasm/compat/wllama.wasm', 'assets/wasm/compat/wllama.js', 'icon.svg', '_headers']) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  assert.deepEqual(readFileSync(join(dir, 'assets/wasm/wllama.wasm')).subarray(0, 4), Buffer.from([0, 0x61, 0x73, 0x6d]));
  assert.equal(JSON.parse(readFileSync(join(dir, 'manifest.webmanifest'), 'utf8')).display, 'standalone');
  const sw = readFileSync(join(dir, 'sw.js'), 'utf8');
  assert.ok(!sw.includes('__SITE_VERSION__'), 'the worker carries the site\'s version');
  assert.match(readFileSync(join(dir, '_headers'), 'utf8'), /Cross-Origin-Embedder-Policy: require-corp/);
  // Nothing of the export is left beside the site.
  assert.deepEqual(readdirSync(tmp), ['site']);
});

test('a folder of the user\'s is never replaced, even with --force; an earlier export is, with --force only', async () => {
  const dir = join(tmp, 'busy');
  mkdirSync(dir);
  writeFileSync(join(dir, 'mine.txt'), 'keep me');
  for (const force of [[], ['--force']]) {
    const r = await runCli(['web', 'export', dir, '--model', model, ...force]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `llama3-zh web: ${dir} is not empty and holds no earlier web export; give a new or empty folder${force.length ? ' (--force replaces only an earlier export)' : ''}\n`);
    assert.equal(readFileSync(join(dir, 'mine.txt'), 'utf8'), 'keep me');
  }
  const site = join(tmp, 'site');
  const again = await runCli(['web', 'export', site, '--model', model]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `llama3-zh web: ${site} holds an earlier export; pass --force to replace it, or give a new folder\n`);
  writeFileSync(join(site, 'stale.txt'), 'from the old site');
  const forced = await runCli(['web', 'export', site, '--model', model, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.ok(!existsSync(join(site, 'stale.txt')) && existsSync(join(site, 'models.json')));
  // Through a link (site -> releases/v2): the link stays, and what it points at is the new site.
  mkdirSync(join(tmp, 'releases'));
  renameSync(site, join(tmp, 'releases', 'v2'));
  symlinkSync(join(tmp, 'releases', 'v2'), site);
  const linked = await runCli(['web', 'export', site, '--model', model, '--force']);
  assert.equal(linked.code, 0, linked.stderr);
  assert.ok(lstatSync(site).isSymbolicLink() && existsSync(join(tmp, 'releases', 'v2', 'models.json')));
  assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('.')), [], 'no temp or old folder left');
  rmSync(site);
  renameSync(join(tmp, 'releases', 'v2'), site);
  rmSync(join(tmp, 'releases'), { recursive: true });
});

test('bad input: no model, not a GGUF, a model too big for a browser, a bad flag; nothing is written', async () => {
  const dir = join(tmp, 'never');
  const none = await runCli(['web', 'export', dir]);
  assert.equal(none.code, 2);
  assert.equal(none.stderr, 'llama3-zh web: give the model to put on the site: --model FILE.gguf (or a model in the store)\n');
  const text = join(tmp, 'notes.gguf');
  writeFileSync(text, 'hello, this is not a model');
  const bad = await runCli(['web', 'export', dir, '--model', text]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^llama3-zh web: .*notes\.gguf: not a GGUF file \(starts with "hell", expected "GGUF"\)[^\n]*\n$/);
  // An 8B-shaped F16 model: the scripted model's metadata with Llama-3-8B's shape, its 16 GB of tensors a sparse file.
  const big = join(tmp, 'big-8b-f16.gguf');
  const meta = [...readGguf(model).metadata.values()].map((m) => {
    const shape: Record<string, number> = { 'llama.embedding_length': 4096, 'llama.block_count': 32, 'llama.feed_forward_length': 14336, 'llama.attention.head_count': 32, 'llama.attention.head_count_kv': 8, 'llama.rope.dimension_count': 128 };
    return m.key in shape ? kv.u32(m.key, shape[m.key]) : m;
  }).filter((m) => !m.key.startsWith('llama.attention.key_length') && !m.key.startsWith('llama.attention.value_length'));
  const t = (name: string, dims: number[]) => ({ name, dims, type: dims.length === 1 ? TensorType.F32 : TensorType.F16 });
  const tensors = [t('token_embd.weight', [4096, 128256]), t('output_norm.weight', [4096]), t('output.weight', [4096, 128256])];
  for (let i = 0; i < 32; i++) {
    tensors.push(t(`blk.${i}.attn_norm.weight`, [4096]), t(`blk.${i}.attn_q.weight`, [4096, 4096]), t(`blk.${i}.attn_k.weight`, [4096, 1024]),
      t(`blk.${i}.attn_v.weight`, [4096, 1024]), t(`blk.${i}.attn_output.weight`, [4096, 4096]), t(`blk.${i}.ffn_norm.weight`, [4096]),
      t(`blk.${i}.ffn_gate.weight`, [4096, 14336]), t(`blk.${i}.ffn_up.weight`, [4096, 14336]), t(`blk.${i}.ffn_down.weight`, [14336, 4096]));
  }
  const { header, dataBytes } = encodeHeader(meta, tensors);
  writeFileSync(big, header);
  truncateSync(big, header.length + dataBytes);
  const huge = await runCli(['web', 'export', dir, '--model', big]);
  assert.equal(huge.code, 1, huge.stderr);
  assert.match(huge.stderr, /^llama3-zh web: .*big-8b-f16\.gguf needs about 1[56]\.\d\d GiB in a browser \(its weights, a 4096-token KV cache and one batch\), more than the 4\.00 GiB a browser tab can hold \(WebAssembly's limit\); quantize it to Q2_K \(llama3-zh quantize big-8b-f16\.gguf Q2_K\), give a smaller --ctx-size, or use a 1B–3B model\n$/);
  const flag = await runCli(['web', 'export', dir, '--model', model, '--part-size', '3000']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^llama3-zh web: --part-size/);
  const sub = await runCli(['web', 'publish']);
  assert.equal(sub.code, 2);
  assert.equal(sub.stderr, 'llama3-zh web: unknown subcommand "web publish"; use web export or web serve (llama3-zh web --help)\n');
  assert.ok(!existsSync(dir), 'nothing was written');
  assert.ok(!readdirSync(tmp).some((f) => f.startsWith('.never')), 'no temp folder left');
});

test('web serve: the site with COOP/COEP, and nothing outside it, not even through a link', async () => {
  const site = join(tmp, 'site');
  symlinkSync('/', join(site, 'root'));
  const served = await serveSite(site, { port: 0, host: '127.0.0.1' });
  const url = served.url;
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal((await fetch(`${url}/assets/wasm/wllama.wasm`)).headers.get('content-type'), 'application/wasm');
  for (const p of ['/root/etc/hostname', '/root/', '/%2e%2e/%2e%2e/etc/hostname', '/..%2f..%2fetc/hostname', '/assets/../../etc/hostname']) {
    const r = await fetch(`${url}${p}`);
    assert.ok(r.status === 403 || r.status === 404, `${p}: ${r.status}`);
  }
  assert.equal((await fetch(`${url}/`, { method: 'POST' })).status, 405);
  await served.close();
  rmSync(join(site, 'root'));
});
