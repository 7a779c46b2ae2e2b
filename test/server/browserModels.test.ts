import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningServer } from '../../src/server/start.js';
import type { SiteManifest } from '../../src/web/siteModels.js';
import { routedModel, testServer } from '../helpers/server.js';

/** serve's /web/models.json and the GGUF parts the page's "run in this browser" downloads. */

const KEY = 'sk-browser-test';
let srv: RunningServer;
let model: string;
const auth = { authorization: `Bearer ${KEY}` };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

before(async () => {
  model = await routedModel();
  srv = await testServer({ apiKey: KEY, ctx: 512 });
});
after(() => srv?.close());

async function manifest(): Promise<SiteManifest> {
  const r = await fetch(`${srv.url}/web/models.json`, { headers: auth });
  assert.equal(r.status, 200);
  return r.json() as Promise<SiteManifest>;
}

test('/web/models.json lists the served model as the browser takes it: its file, its size, the context', async () => {
  const m = await manifest();
  assert.equal(m.format, 1);
  assert.equal(m.engine, JSON.parse(readFileSync('node_modules/@wllama/wllama/package.json', 'utf8')).version);
  assert.equal(m.models.length, 1);
  const [x] = m.models;
  assert.equal(x.id, 'scripted');
  // The server's context (512) is the browser's too; the file fits one part, sent as it is.
  assert.equal(x.ctx, 512);
  assert.equal(x.bytes, statSync(model).size);
  assert.equal(x.files.length, 1);
  assert.match(x.files[0], /^models\/scripted-[0-9a-f]{16}-[0-9a-f]{12}\/scripted-[0-9a-f]{16}\.gguf$/);
  assert.ok(x.need > x.bytes, 'the tab needs the weights and more');
});

test('a part: HEAD says its size, GET sends the file\'s exact bytes, a Range its exact slice', async () => {
  const url = `${srv.url}/web/${(await manifest()).models[0].files[0]}`;
  const file = readFileSync(model);
  const head = await fetch(url, { method: 'HEAD', headers: auth });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(file.length));
  assert.equal(head.headers.get('accept-ranges'), 'bytes');
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const whole = await fetch(url, { headers: auth });
  assert.equal(sha(new Uint8Array(await whole.arrayBuffer())), sha(file));
  const part = await fetch(url, { headers: { ...auth, range: 'bytes=100-1123' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1123/${file.length}`);
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), new Uint8Array(file.subarray(100, 1124)));
  const tail = await fetch(url, { headers: { ...auth, range: 'bytes=-16' } });
  assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), new Uint8Array(file.subarray(file.length - 16)));
  // A range it cannot read (reversed) is no range: the whole part, as RFC 9110 says.
  const reversed = await fetch(url, { headers: { ...auth, range: 'bytes=50-10' } });
  assert.equal(reversed.status, 200);
  assert.equal(sha(new Uint8Array(await reversed.arrayBuffer())), sha(file));
  const outside = await fetch(url, { headers: { ...auth, range: `bytes=${file.length}-` } });
  assert.equal(outside.status, 416);
  assert.equal(outside.headers.get('content-range'), `bytes */${file.length}`);
});

test('the model is the server\'s to give: the API key is needed, and only listed parts are sent', async () => {
  const m = await manifest();
  assert.equal((await fetch(`${srv.url}/web/models.json`)).status, 401);
  assert.equal((await fetch(`${srv.url}/web/${m.models[0].files[0]}`)).status, 401);
  for (const path of ['/web/models/x/y.gguf', `/web/${m.models[0].files[0]}.bak`, `/web/${m.models[0].files[0].replace(/[0-9a-f]{12}/, '000000000000')}`]) {
    const r = await fetch(`${srv.url}${path}`, { headers: auth });
    assert.equal(r.status, 404, path);
    assert.match((await r.json()).error.message, /^no model part .*; the parts are listed in \/web\/models\.json$/);
  }
});

test('the page is cross-origin isolated (threads) and may compile WebAssembly and start its worker', async () => {
  const r = await fetch(`${srv.url}/`);
  assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.match(r.headers.get('content-security-policy')!, /script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:/);
  const wasm = await fetch(`${srv.url}/assets/wasm/wllama.wasm`);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.deepEqual(new Uint8Array(await wasm.arrayBuffer()).subarray(0, 4), new Uint8Array([0, 0x61, 0x73, 0x6d]));
});

test('a model file changed on disk gets new URLs: the old ones are gone, never old headers over new bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama3zh-browsermodels-'));
  const copy = join(dir, 'copy.gguf');
  copyFileSync(model, copy);
  const own = await testServer({ model: copy, ctx: 512 });
  try {
    const first = (await (await fetch(`${own.url}/web/models.json`)).json() as SiteManifest).models[0].files[0];
    assert.equal((await fetch(`${own.url}/web/${first}`, { method: 'HEAD' })).status, 200);
    utimesSync(copy, new Date(), new Date(Date.now() + 60_000));
    const second = (await (await fetch(`${own.url}/web/models.json`)).json() as SiteManifest).models[0].files[0];
    assert.notEqual(second, first);
    assert.equal((await fetch(`${own.url}/web/${first}`)).status, 404);
    assert.equal((await fetch(`${own.url}/web/${second}`, { method: 'HEAD' })).status, 200);
  } finally {
    await own.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
