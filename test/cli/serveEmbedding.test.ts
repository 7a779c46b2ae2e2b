import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertFinalError, assertOneLineError, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT, testModel } from '../helpers/models.js';
import { postJson, routedModel } from '../helpers/server.js';

const children = new Set<ReturnType<typeof spawn>>();
after(() => { for (const c of children) c.kill('SIGKILL'); });

/** `llama3-zh serve ARGS` as a user runs it; resolves once it has printed its embeddings line. */
function startServe(args: string[]) {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'serve', '--port', '0', '-t', '1', '-c', '256', ...args], {
    env: { ...process.env, LLAMA3ZH_HOME: emptyHome() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('close', (code) => { children.delete(child); r(code); }));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      const m = / on (http:\/\/[\d.]+:\d+) [\s\S]*embeddings: /.exec(stderr);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

test('serve --embedding-model FILE --embedding-model-name NAME --embedding-ctx-size N: says what embeds, and it does', async () => {
  const s = startServe([await routedModel(), '--served-model-name', 'zh', '--embedding-model', await testModel(), '--embedding-model-name', 'zh-embed', '--embedding-ctx-size', '32', '--quiet']);
  const url = await s.url;
  assert.match(s.stderr(), /\n {2}embeddings: zh-embed, 64 numbers, mean-pooled, at most 32 tokens per input\n/);
  const r = await postJson(`${url}/v1/embeddings`, { model: 'zh-embed', input: ['你好', '世界'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.map((d: { embedding: number[] }) => d.embedding.length), [64, 64]);
  const long = await postJson(`${url}/v1/embeddings`, { model: 'zh-embed', input: '你好'.repeat(40) });
  assert.equal(long.status, 400);
  assert.match(long.json.error.message, /at most 32 are embedded at once/);
  s.child.kill('SIGINT');
  assert.equal(await s.exited, 0);
});

test('serve MODEL: the served model embeds, and the start-up lines say so', async () => {
  const s = startServe([await testModel(), '--served-model-name', 'zh', '--quiet']);
  const url = await s.url;
  assert.match(s.stderr(), /\n {2}embeddings: zh \(the served model\), 64 numbers, mean-pooled, at most 512 tokens per input\n/);
  const r = await postJson(`${url}/api/embed`, { model: 'zh', input: '你好' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.embeddings[0].length, 64);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('serve: bad embedding flags are one-line errors', async () => {
  assertOneLineError(await runCli(['serve', '--embedding-model-name', 'x']), /^llama3-zh serve: --embedding-model-name names the --embedding-model; give that too$/);
  assertOneLineError(await runCli(['serve', '--embedding-ctx-size', '0']), /^llama3-zh serve: --embedding-ctx-size must be a whole number of at least 1/);
  assertOneLineError(await runCli(['serve', '--embedding-model', ' ']), /^llama3-zh serve: --embedding-model takes a model: a .gguf file or a name$/);
  const model = await routedModel();
  assertOneLineError(await runCli(['serve', model, '--embedding-model', '/nope/e.gguf']), /model not found: \/nope\/e.gguf/);
  assertOneLineError(await runCli(['serve', model, '--embedding-model', model, '--embedding-model-name', 'x']), /--embedding-model is the served model's own file, which embeds under the served name; leave out --embedding-model-name$/);
  assertFinalError(await runCli(['serve', model, '--port', '0', '--served-model-name', 'same', '--embedding-model', await testModel(), '--embedding-model-name', 'same']),
    /^llama3-zh serve: the embedding model's name "same" is also a served model's; give it another \(--embedding-model-name\)$/);
});
