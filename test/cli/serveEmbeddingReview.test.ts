import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyHome } from '../helpers/cli.js';
import { redirectLora, ROOT, testModel } from '../helpers/models.js';
import { postJson } from '../helpers/server.js';

test('serve MODEL --lora A --embedding-model MODEL: the same file without the adapter embeds, as asked (it was refused)', async () => {
  const model = await testModel();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'serve', model, '--lora', await redirectLora(64, 0, 1000, 1), '--port', '0', '-t', '1', '-c', '256',
    '--embedding-model', model, '--embedding-model-name', 'plain', '--embedding-ctx-size', '32', '--quiet'], { env: { ...process.env, LLAMA3ZH_HOME: emptyHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d) => {
        stderr += d;
        const m = / on (http:\/\/[\d.]+:\d+) [\s\S]*embeddings: .*\n/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child.on('close', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    assert.match(stderr, /\n {2}embeddings: plain, 64 numbers, mean-pooled, at most 32 tokens per input\n/);
    const r = await postJson(`${url}/v1/embeddings`, { model: 'plain', input: '你好' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data[0].embedding.length, 64);
  } finally {
    child.kill('SIGKILL');
  }
});
