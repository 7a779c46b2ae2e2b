import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ollama } from 'ollama';
import { encode } from '../../src/gguf/llama3Vocab.js';
import type { RunningServer } from '../../src/server/start.js';
import { REPLY } from '../helpers/models.js';
import { postJson, ROUTES, streamLines, testServer } from '../helpers/server.js';

let srv: RunningServer;
let ollama: Ollama;

before(async () => {
  srv = await testServer({ parallel: 4 });
  ollama = new Ollama({ host: srv.url });
});
after(() => srv.close());

test('/api/chat with the ollama client: exact reply and the timing fields', async () => {
  const r = await ollama.chat({ model: 'scripted', messages: [{ role: 'user', content: '你是谁？' }], stream: false });
  assert.equal(r.message.role, 'assistant');
  assert.equal(r.message.content, REPLY);
  assert.equal(r.done, true);
  assert.equal(r.done_reason, 'stop');
  assert.equal(r.eval_count, encode(REPLY).length);
  assert.ok(r.prompt_eval_count > 0);
  for (const k of ['total_duration', 'prompt_eval_duration', 'eval_duration'] as const) assert.ok(r[k] > 0, k);
  assert.ok(r.total_duration >= r.eval_duration);
  assert.ok(!Number.isNaN(new Date(r.created_at).getTime()));
});

test('/api/chat streams NDJSON pieces that add up to the reply, then one done message', async () => {
  const stream = await ollama.chat({ model: 'scripted:latest', messages: [{ role: 'user', content: '猫' }], stream: true });
  const parts: string[] = [];
  let done = 0;
  for await (const p of stream) {
    if (p.done) { done++; assert.equal(p.eval_count, encode(ROUTES.猫).length); assert.equal(p.message.content, ''); }
    else { assert.ok(!p.message.content.includes('\uFFFD')); parts.push(p.message.content); }
  }
  assert.equal(done, 1);
  assert.equal(parts.join(''), ROUTES.猫);
});

test('/api/generate: templated prompt, system, raw mode, options and the context tokens', async () => {
  const r = await ollama.generate({ model: 'scripted', prompt: 'green', system: '简短回答。', stream: false });
  assert.equal(r.response, ROUTES.green);
  assert.equal(r.done_reason, 'stop');
  assert.ok(Array.isArray(r.context) && r.context.length === r.prompt_eval_count + r.eval_count);
  const raw = await ollama.generate({ model: 'scripted', prompt: 'red\n\n', raw: true, stream: false, options: { num_predict: 2, temperature: 0 } });
  assert.equal(raw.response, 'Apples');
  assert.equal(raw.done_reason, 'length');
  let text = '';
  for await (const p of await ollama.generate({ model: 'scripted', prompt: '狗', stream: true, options: { stop: [' loudly'] } })) text += p.response;
  assert.equal(text, 'Dogs bark');
});

test('/api/generate with format: a JSON schema is enforced', async () => {
  const r = await ollama.generate({
    model: 'scripted', prompt: '你是谁', stream: false, options: { temperature: 0 },
    format: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
  });
  assert.equal(typeof JSON.parse(r.response ?? '').ok, 'boolean');
});

test('an empty /api/generate prompt just loads the model, as ollama does', async () => {
  const r = await postJson(`${srv.url}/api/generate`, { model: 'scripted' });
  assert.equal(r.status, 200);
  assert.equal(r.json.done, true);
  assert.equal(r.json.done_reason, 'load');
});

test('/api/tags, /api/show, /api/ps and /api/version', async () => {
  const tags = await ollama.list();
  assert.equal(tags.models.length, 1);
  assert.equal(tags.models[0].name, 'scripted');
  assert.equal(tags.models[0].details.format, 'gguf');
  assert.equal(tags.models[0].details.family, 'llama');
  assert.equal(tags.models[0].details.quantization_level, 'F16');
  assert.ok(tags.models[0].size > 1e6);
  const show = await ollama.show({ model: 'scripted' });
  assert.match(show.template, /start_header_id/);
  assert.equal(show.details.family, 'llama');
  assert.match(show.parameters, /^num_ctx 512$/);
  const ps = await ollama.ps();
  assert.equal(ps.models[0].name, 'scripted');
  assert.deepEqual(await ollama.version(), { version: '0.0.0-test' });
});

test('ollama errors are {"error": "…"}, which the client turns into its message', async () => {
  await assert.rejects(ollama.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), /the model "nope" does not exist; this server has: scripted/);
  await assert.rejects(ollama.chat({ model: 'scripted', messages: [] }), /"messages" is empty/);
  const r = await postJson(`${srv.url}/api/chat`, { model: 'scripted', messages: [{ role: 'user', content: 'x' }], options: { temperature: 'hot' } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { error: '"options.temperature" must be a number (got string)' });
});

test('NDJSON streaming is line by line, read raw', async () => {
  const res = await fetch(`${srv.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'scripted', messages: [{ role: 'user', content: 'blue' }] }) });
  assert.match(res.headers.get('content-type')!, /^application\/x-ndjson/);
  const lines: unknown[] = [];
  for await (const l of streamLines(res)) lines.push(JSON.parse(l));
  assert.equal((lines.at(-1) as { done: boolean }).done, true);
  assert.equal(lines.slice(0, -1).map((l) => (l as { message: { content: string } }).message.content).join(''), ROUTES.blue);
});
