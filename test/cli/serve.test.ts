import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEMO_REPLY } from '../../src/hub/demoModel.js';
import { assertOneLineError, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';
import { postJson, routedModel } from '../helpers/server.js';

/** Servers a failed test left running: killed at the end, or the test file never exits (their pipes hold it). */
const children = new Set<ReturnType<typeof spawn>>();
after(() => { for (const c of children) c.kill('SIGKILL'); });

/** Start `llama3-zh serve` as a user would; resolves with its URL once it says it is serving. */
function startServe(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'serve', '--port', '0', '-t', '1', '-c', '512', ...args], {
    env: { ...process.env, LLAMA3ZH_HOME: emptyHome(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('close', (code) => { children.delete(child); r(code); }));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      const m = / on (http:\/\/[\d.]+:\d+) /.exec(stderr);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

test('serve without a model runs the demo model, says so at start-up and in /v1/models, and stops cleanly on Ctrl-C', async () => {
  const s = startServe([]);
  const url = await s.url;
  assert.match(s.stderr(), /llama3-zh-demo \(DEMO model\) on http/);
  assert.match(s.stderr(), /DEMO model/);
  const models = await (await fetch(`${url}/v1/models`)).json();
  assert.equal(models.data[0].id, 'llama3-zh-demo');
  assert.equal(models.data[0].demo, true);
  assert.match(models.data[0].description, /DEMO model/);
  const simple = await postJson(`${url}/`, { prompt: '你好' });
  assert.deepEqual([simple.status, simple.json.response, simple.json.status], [200, DEMO_REPLY, 200]);
  s.child.kill('SIGINT');
  assert.equal(await s.exited, 0);
  assert.match(s.stderr(), /POST \/ 200 \d+ ms/);
  assert.match(s.stderr(), /stopping/);
});

test('serve MODEL with --served-model-name, --api-key from the environment and --quiet', async () => {
  const s = startServe([await routedModel(), '--served-model-name', 'zh-chat', '--quiet'], { LLAMA3_ZH_API_KEY: 'k-123' });
  const url = await s.url;
  assert.match(s.stderr(), /zh-chat on http.*API key required/);
  const denied = await postJson(`${url}/v1/chat/completions`, { model: 'zh-chat', messages: [{ role: 'user', content: 'red' }] });
  assert.equal(denied.status, 401);
  const r = await postJson(`${url}/v1/chat/completions`, { model: 'zh-chat', messages: [{ role: 'user', content: 'red' }] }, { authorization: 'Bearer k-123' });
  assert.equal(r.json.choices[0].message.content, 'Apples are red.');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  assert.doesNotMatch(s.stderr(), /POST \/v1/);
});

test('serve --quiet prints the start-up lines and nothing per request: no grammar dump from llama.cpp either', async () => {
  const s = startServe([await routedModel(), '--quiet', '--served-model-name', 'zh']);
  const url = await s.url;
  const banner = s.stderr();
  // A NUL in a schema once reached llama.cpp's grammar parser, which printed the whole grammar to stderr.
  const nul = await postJson(`${url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'red' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { const: 'a\u0000b' } } } });
  assert.equal(nul.status, 400);
  assert.equal(nul.json.error.message, 'the JSON schema is not supported: #/const is a string with a NUL character (\\u0000), which the grammar cannot hold');
  const ollama = await postJson(`${url}/api/chat`, { model: 'zh', messages: [{ role: 'user', content: 'red' }], format: { type: 'object', properties: { ['k\u0000']: { type: 'string' } } }, stream: false });
  assert.equal(ollama.status, 400);
  // A bound over llama.cpp's repetition limit made it print the grammar; a $ref node-llama-cpp cannot follow, a warning.
  const schema = (s: unknown) => postJson(`${url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'red' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: s } } });
  const big = await schema({ type: 'array', minItems: 1e9 });
  assert.deepEqual([big.status, big.json.error.message], [400, 'the JSON schema is not supported: #/minItems is 1000000000; it must be a whole number from 0 to 1000']);
  const ref = await schema({ $ref: '#/x' });
  assert.deepEqual([ref.status, ref.json.error.message], [400, 'the JSON schema is not supported: #/$ref is "#/x"; only "#/$defs/NAME" references are supported']);
  const ok = await postJson(`${url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'red' }], response_format: { type: 'json_object' }, max_tokens: 8 });
  assert.equal(ok.status, 200);
  await rawGetTarget(url, '//a:b');
  s.child.kill('SIGINT');
  assert.equal(await s.exited, 0);
  assert.equal(s.stderr(), `${banner}llama3-zh serve: stopping\n`);
});

/** A request target fetch would normalize away. */
async function rawGetTarget(url: string, target: string) {
  const { rawHttp } = await import('../helpers/server.js');
  return rawHttp(url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
}

test('serve: bad flags and a busy port are one-line errors', async () => {
  assertOneLineError(await runCli(['serve', '--port', 'abc']), /^llama3-zh serve: --port must be a whole number from 0 to 65535 \(got "abc"\)$/);
  assertOneLineError(await runCli(['serve', '--parallel', '0']), /^llama3-zh serve: --parallel must be a whole number from 1 to 256/);
  assertOneLineError(await runCli(['serve', 'a.gguf', 'b.gguf']), /serve takes one MODEL \(got 2: a.gguf b.gguf\)/);
  assertOneLineError(await runCli(['serve', '--lora-modules', 'noequals']), /--lora-modules takes NAME=FILE\[:SCALE\]/);
  assertOneLineError(await runCli(['serve', '--lora-modules', 'x=/nope.gguf']), /LoRA adapter not found: \/nope.gguf \(--lora-modules x\)/);
  assertOneLineError(await runCli(['serve', '--max-model-len', '64', '--ctx-size', '64']), /give --max-model-len or --ctx-size, not both/);
  assertOneLineError(await runCli(['serve', '/nope/model.gguf', '--port', '0']), /model not found: \/nope\/model.gguf/);
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    const r = await runCli(['serve', await routedModel(), '--port', String(port)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim().split('\n').at(-1)!, new RegExp(`^llama3-zh serve: port ${port} on 127.0.0.1 is already in use; stop the other server or pass --port N$`));
  } finally {
    busy.close();
  }
});
