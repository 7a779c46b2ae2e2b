import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decode, encode } from '../../src/gguf/llama3Vocab.js';
import { readGguf } from '../../src/gguf/reader.js';
import { meta } from '../../src/gguf/types.js';
import type { RunningServer } from '../../src/server/start.js';
import { assertOneLineError, type CliResult, cleanEnv, emptyHome, runCli } from '../helpers/cli.js';
import { delta, fakeOpenai, type FakeServer, htmlServer } from '../helpers/fakeOpenai.js';
import { redirectLora, REPLY, ROOT } from '../helpers/models.js';
import { ROUTES, routedModel, testServer } from '../helpers/server.js';
import { FINAL, openaiTools, RESULT, weatherModel, WEATHER } from '../helpers/toolModels.js';
import { inTerminal } from '../helpers/tty.js';

/**
 * `llama3-zh chat --base-url URL`: the terminal chat against a real `llama3-zh serve` (in this process, the scripted
 * model: a prompt with "red" gets "Apples are red.", others REPLY; LoRA module "short" answers REPLY less its first
 * three tokens), run as a user runs it. What a real server never does on cue (an error event mid-stream, a dropped
 * connection, an endless answer) comes from a stand-in server (helpers/fakeOpenai.ts).
 */

const dir = mkdtempSync(join(tmpdir(), 'chat-remote-'));
const SHORT = decode(encode(REPLY).slice(3));
// A developer's own keys never go to the test servers, and never make a test that wants none pass.
const NO_KEYS = { LLAMA3_ZH_API_KEY: '', OPENAI_API_KEY: '' };
let model: string;
let srv: RunningServer;
let base: string;

before(async () => {
  model = await routedModel();
  const embd = meta<number>(readGguf(model, { skipArrays: true }), 'llama.embedding_length')!;
  const lora = await redirectLora(embd, 0, encode(REPLY)[3], 80);
  srv = await testServer({ model, loraModules: [{ name: 'short', path: lora, scale: 1 }] });
  base = `${srv.url}/v1`;
});
after(() => srv.close());

// One server for the context and the API-key cases (each server loads the model anew): a 256-token context, and a key.
const KEY = 'sekret';
const WITH_KEY = { LLAMA3_ZH_API_KEY: KEY };
let small: RunningServer;
before(async () => { small = await testServer({ model, ctx: 256, apiKey: KEY, name: 'small' }); });
after(() => small.close());

/** The local chat's one-shot --json answer to "red", piped (each model-loading spawn costs seconds: made once, for two tests). */
let localRed: Promise<CliResult> | undefined;
const local = () => (localRed ??= run(['chat', '-m', model, '-t', '1', '--json', '--temperature', '0'], { input: 'red\n' }));

const remote = (...args: string[]) => ['chat', '--base-url', base, ...args];
const run = (args: string[], o: { input?: string; env?: Record<string, string> } = {}) => runCli(args, { ...o, env: { ...NO_KEYS, ...o.env } });
const STATS = /^\[(\d+) tokens · [\d.]+ tok\/s · prompt (\d+) tokens(?: \((\d+) cached\))? in [\d.]+ s\]$/;
const statLines = (stderr: string) => stderr.split('\n').map((l) => STATS.exec(l)).filter((m) => m !== null).map((m) => [Number(m[1]), Number(m[2])]);

test('one-shot: the exact reply and a stats line; the server\'s two models: the first, saying which others there are', async () => {
  const r = await run(remote('--model', 'scripted', '-p', 'red', '--temperature', '0'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${ROUTES.red}\n`);
  const here = await local();
  assert.equal(here.code, 0, here.stderr);
  const { usage } = JSON.parse(here.stdout);
  // The server renders the same template: the same prompt, to the token, and the same reply.
  assert.deepEqual(statLines(r.stderr), [[usage.completion_tokens, usage.prompt_tokens]], r.stderr);

  const picked = await run(remote('-p', '你好', '--temperature', '0'));
  assert.equal(picked.code, 0, picked.stderr);
  assert.equal(picked.stdout, `${REPLY}\n`);
  assert.equal(picked.stderr.split('\n')[0], `(${base} serves 2 models: chatting with "scripted"; the others: short; choose one with --model NAME)`);
  // With the demo's sampling defaults (temperature 0.6, top_p 0.9, top_k 50, repetition_penalty 1.1) too.
  const demo = await run(remote('-m', 'scripted', '-p', 'red'));
  assert.equal(demo.stdout, `${ROUTES.red}\n`, demo.stderr);
});

test('--model picks a LoRA module; one the server does not have is refused with the list', async () => {
  const r = await run(remote('-m', 'short', '-p', '你好', '--temperature', '0'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${SHORT}\n`);
  const bad = await run(remote('-m', 'llama3-70b', '-p', '你好'));
  assertOneLineError(bad, new RegExp(`^llama3-zh chat: ${base.replace(/\./g, '\\.')} has no model "llama3-70b"; its models: scripted, short$`));
});

test('--json from piped input: the local shape, with the server\'s model name and URL and no template; the same usage', async () => {
  const r = await run(remote('-m', 'scripted', '--json', '--temperature', '0'), { input: 'red\n' });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ['model', 'base_url', 'reply', 'finish_reason', 'usage', 'timings']);
  assert.deepEqual([j.model, j.base_url, j.reply, j.finish_reason], ['scripted', base, ROUTES.red, 'stop']);
  const here = JSON.parse((await local()).stdout);
  assert.deepEqual(Object.keys(here), ['model', 'template', 'reply', 'finish_reason', 'usage', 'timings']);
  const counts = (u: Record<string, number>) => [u.prompt_tokens, u.completion_tokens, u.total_tokens];
  assert.deepEqual(counts(j.usage), counts(here.usage));
  assert.equal(j.usage.completion_tokens, encode(ROUTES.red).length);
  assert.deepEqual(Object.keys(j.timings), ['prompt_ms', 'generation_ms', 'prompt_tokens_per_second', 'generation_tokens_per_second']);
  assert.ok(j.timings.prompt_ms > 0 && j.timings.generation_tokens_per_second > 0, JSON.stringify(j.timings));
});

test('the REPL: turns carry the conversation, slash commands, /save and /load: the same as a local chat', async () => {
  const saved = join(dir, 'conv.json');
  const input = [
    '/system 你是一个助手',
    'red?',
    // Only a request that carries the first turn (its "red") gets "Apples are red." for this.
    '还有呢？',
    '/history',
    `/save ${saved}`,
    '/reset',
    '/history',
    '还有呢？',
    `/load ${saved}`,
    '"""',
    '还有',
    '呢？',
    '"""',
    '/set temperature 0.5',
    '/set',
    '/exit',
  ].join('\n') + '\n';
  const r = await run(remote('-i', '-m', 'scripted', '--temperature', '0'), { input });
  assert.equal(r.code, 0, r.stderr);
  const red = ROUTES.red;
  assert.equal(r.stdout, [
    red, red,
    '[system] 你是一个助手', '[user] red?', `[assistant] ${red}`, '[user] 还有呢？', `[assistant] ${red}`,
    '[system] 你是一个助手', '(no messages yet)',
    REPLY,
    red,
    'max_tokens=500 temperature=0.5 top_p=0.9 top_k=50 min_p=0 repeat_penalty=1.1 presence_penalty=0 frequency_penalty=0 repeat_last_n=64 seed=random history=6',
    '',
  ].join('\n'));
  assert.equal(r.stderr.split('\n')[0], `llama3-zh chat · scripted · ${base} · context 512`);
  const stats = statLines(r.stderr);
  assert.equal(stats.length, 4, r.stderr);
  // The second turn's prompt holds the first; the server found it in its cache.
  assert.ok(stats[1][1] > stats[0][1] + stats[0][0], JSON.stringify(stats));
  assert.match(r.stderr, /prompt \d+ tokens \(\d+ cached\)/);
  const file = JSON.parse(readFileSync(saved, 'utf8'));
  assert.deepEqual(Object.keys(file), ['model', 'base_url', 'settings', 'messages']);
  assert.deepEqual([file.model, file.base_url, file.settings.temperature], ['scripted', base, 0]);
  assert.deepEqual(file.messages, [
    { role: 'system', content: '你是一个助手' },
    { role: 'user', content: 'red?' }, { role: 'assistant', content: red },
    { role: 'user', content: '还有呢？' }, { role: 'assistant', content: red },
  ]);

  // The same conversation with the model loaded here: the same output, the same prompts to the token.
  const local = await run(['chat', '-m', model, '-t', '1', '-i', '--temperature', '0'], { input: input.replace(saved, join(dir, 'local.json')).replace(saved, join(dir, 'local.json')) });
  assert.equal(local.stdout, r.stdout);
  assert.deepEqual(statLines(local.stderr), stats);
});

test('--tools: the server\'s tool calls, the person plays the tool, its result goes back as a "tool" message', async () => {
  const tools = await testServer({ model: await weatherModel() });
  try {
    const file = join(dir, 'tools.json');
    writeFileSync(file, JSON.stringify(openaiTools(WEATHER)));
    const QUESTION = '北京今天天气怎么样？';
    const SHOWN = '⚙ get_weather {"city": "Beijing"}';
    const args = ['chat', '--base-url', tools.url, '--tools', file, '--temperature', '0'];
    const saved = join(dir, 'tools-conv.json');
    const r = await run([...args, '-i'], { input: [QUESTION, RESULT, '/history', `/save ${saved}`, '/exit'].join('\n') + '\n' });
    assert.equal(r.code, 0, r.stderr);
    // Exactly what the local chat prints (chatTools.test.ts); FINAL comes only from a conversation holding "snow".
    assert.equal(r.stdout, `${SHOWN}\n${FINAL}\n[user] ${QUESTION}\n[assistant] ${SHOWN}\n[tool get_weather] ${RESULT}\n[assistant] ${FINAL}\n`);
    const messages = JSON.parse(readFileSync(saved, 'utf8')).messages;
    const id = messages[1].tool_calls[0].id;
    assert.match(id, /^call_[A-Za-z0-9]{24}$/);
    assert.deepEqual(messages, [
      { role: 'user', content: QUESTION },
      { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Beijing"}' } }] },
      { role: 'tool', tool_call_id: id, name: 'get_weather', content: RESULT },
      { role: 'assistant', content: FINAL },
    ]);

    const j = await run([...args, '-p', QUESTION, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout);
    assert.deepEqual([out.reply, out.finish_reason, out.tool_calls.length], ['', 'tool_calls', 1]);
    assert.deepEqual({ ...out.tool_calls[0], id: 'x' }, { id: 'x', name: 'get_weather', arguments: { city: 'Beijing' } });
    const line = await run([...args, '-p', QUESTION]);
    assert.match(line.stdout, /^\{"id":"call_\w{24}","name":"get_weather","arguments":\{"city":"Beijing"\}\}\n$/);
  } finally {
    await tools.close();
  }
});

test('a conversation over the server\'s context: the oldest rounds go until it fits; a question too long alone is the server\'s error', async () => {
  const question = (i: number) => `第${i}个问题：${'请你详细地说'.repeat(8)}`;
  const input = [1, 2, 3, 4].map(question).join('\n') + '\n/history\n/exit\n';
  const r = await run(['chat', '--base-url', small.url, '-i', '-n', '16', '--temperature', '0'], { input, env: WITH_KEY });
  assert.equal(r.code, 0, r.stderr);
  // The fourth round would make 256 tokens: the server refuses it, the first round goes, the retry fits.
  assert.deepEqual(statLines(r.stderr), [[12, 55], [12, 122], [12, 189], [12, 189]], r.stderr);
  const notice = '(left out the 1 oldest round of the conversation to fit the 256-token context; the system prompt is kept)';
  assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('(left out')).join('\n'), notice);
  assert.ok(r.stderr.indexOf(notice) > r.stderr.indexOf('prompt 189 tokens'), r.stderr);
  // The conversation keeps all four rounds (only what the server is sent is trimmed): four answers, four in /history.
  assert.equal(r.stdout.split(REPLY).length - 1, 4 + 4, r.stdout);
  assert.ok(r.stdout.includes(`[user] ${question(1)}\n`), r.stdout);
  // As a local chat with that context does.
  const local = await run(['chat', '-m', model, '-c', '256', '-t', '1', '-i', '-n', '16', '--temperature', '0'], { input });
  assert.deepEqual(statLines(local.stderr), statLines(r.stderr));
  assert.ok(local.stderr.includes(notice));

  const long = await run(['chat', '--base-url', small.url, '-p', '很长的问题'.repeat(100)], { env: WITH_KEY });
  assertOneLineError(long, new RegExp(`^llama3-zh chat: ${small.url.replace(/\./g, '\\.')}/v1 cannot take the conversation: the prompt is \\d+ tokens but the context holds 256; shorten the prompt or raise --ctx-size \\(the model was trained for 8192\\)$`));
});

test('an API key: asked for when missing, said to be wrong, taken from --api-key, LLAMA3_ZH_API_KEY or OPENAI_API_KEY', async () => {
  const at = small.url.replace(/\./g, '\\.');
  const args = ['chat', '--base-url', small.url, '-p', 'red', '--temperature', '0'];
  assertOneLineError(await run(args), new RegExp(`^llama3-zh chat: the server at ${at}/v1 wants an API key: pass --api-key KEY \\(or set LLAMA3_ZH_API_KEY\\)$`));
  assertOneLineError(await run([...args, '--api-key', 'nope']), new RegExp(`^llama3-zh chat: the API key is wrong: ${at}/v1 refused the one from --api-key \\(401\\)$`));
  assertOneLineError(await run(args, { env: { OPENAI_API_KEY: 'sk-real-openai-key' } }), /the API key is wrong: .* refused the one from OPENAI_API_KEY \(401\)$/);
  const ways: Array<{ args?: string[]; env?: Record<string, string> }> = [
    { args: ['--api-key', 'sekret'] }, { env: { LLAMA3_ZH_API_KEY: 'sekret', OPENAI_API_KEY: 'sk-other' } }, { env: { OPENAI_API_KEY: 'sekret' } },
  ];
  for (const o of ways) {
    const r = await run([...args, ...(o.args ?? [])], { env: o.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${ROUTES.red}\n`);
  }
});

test('a server that is not there, a URL that is no OpenAI API, a URL that is no URL, local-model flags: one line each', async () => {
  const port = await new Promise<number>((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  assertOneLineError(await run(['chat', '--base-url', `http://127.0.0.1:${port}`, '-p', 'x']),
    new RegExp(`^llama3-zh chat: cannot reach http://127\\.0\\.0\\.1:${port}/v1: connection refused; is the server running\\?$`));
  const html = await htmlServer();
  try {
    const r = await run(['chat', '--base-url', html.url, '-p', 'x']);
    assertOneLineError(r, /^llama3-zh chat: http:\/\/127\.0\.0\.1:\d+\/v1 is not an OpenAI-compatible API: GET \/v1\/models answered 200 \(text\/html\): "<!DOCTYPE html> <html><body><h1>Welcome to nginx!<\/h1><\/body><\/html>"$/);
  } finally {
    await html.close();
  }
  const usage: [string[], RegExp][] = [
    [['chat', '--base-url', 'localhost:8000', '-p', 'x'], /^llama3-zh chat: --base-url localhost:8000 is not an http\(s\) URL; give e\.g\. http:\/\/127\.0\.0\.1:8000\/v1$/],
    [['chat', '--base-url', 'not a url', '-p', 'x'], /^llama3-zh chat: --base-url not a url is not an http\(s\) URL/],
    [remote('-c', '4096', '-t', '2', '-p', 'x'), /^llama3-zh chat: --ctx-size, --threads have no effect on a remote server \(--base-url\): the server loads the model, its context and template; leave them out$/],
    [remote('--template', 'llama3', '-p', 'x'), /^llama3-zh chat: --template has no effect on a remote server/],
    [remote('--lora', 'x.gguf', '-p', 'x'), /^llama3-zh chat: --lora has no effect on a remote server/],
    [['chat', '--api-key', 'k', '-p', 'x'], /^llama3-zh chat: --api-key goes with --base-url URL/],
    [remote('--api-key', '', '-p', 'x'), /^llama3-zh chat: --api-key is empty/],
  ];
  const results = await Promise.all(usage.map(([args]) => run(args)));
  results.forEach((r, i) => {
    assertOneLineError(r, usage[i][1]);
    assert.equal(r.code, 2, `${usage[i][0].join(' ')}: ${r.stderr}`);
  });
});

// The stand-in server's cases.

let fake: FakeServer;
before(async () => {
  fake = await fakeOpenai(['fake'], (body) => {
    const q: string = body.messages.at(-1).content;
    if (q === 'error') return { chunks: [delta({ role: 'assistant', content: '' }), delta({ content: '一半' })], error: { message: 'CUDA out of memory', type: 'internal_error', code: 500 } };
    if (q === 'cut') return { chunks: [delta({ role: 'assistant', content: '' }), delta({ content: '一半' })], cut: true };
    if (q === 'long') return { chunks: [delta({ role: 'assistant', content: '' })], forever: 'la' };
    return { chunks: [delta({ content: 'o' }), delta({ content: 'k' }), delta({}, 'stop')], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } };
  });
});
after(() => fake.close());

test('every sampling flag is a request field: OpenAI\'s, vLLM\'s extras, llama-server\'s names; the demo defaults otherwise', async () => {
  const flags = ['--temperature', '0.2', '--top-p', '0.5', '--top-k', '7', '--min-p', '0.1', '--repeat-penalty', '1.2', '--repeat-last-n', '32',
    '--presence-penalty', '0.3', '--frequency-penalty', '-0.4', '--seed', '5', '--stop', 'END', '--stop', '。', '-n', '33', '-s', '系统'];
  const r = await run(['chat', '--base-url', fake.url, ...flags, '-p', '你好']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n');
  assert.deepEqual(fake.requests.at(-1), {
    model: 'fake',
    messages: [{ role: 'system', content: '系统' }, { role: 'user', content: '你好' }],
    stream: true, stream_options: { include_usage: true },
    max_tokens: 33, temperature: 0.2, top_p: 0.5, top_k: 7, min_p: 0.1,
    repetition_penalty: 1.2, repeat_penalty: 1.2, repeat_last_n: 32,
    presence_penalty: 0.3, frequency_penalty: -0.4, seed: 5, stop: ['END', '。'],
  });
  const d = await run(['chat', '--base-url', fake.url, '-p', '你好']);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(fake.requests.at(-1), {
    model: 'fake', messages: [{ role: 'user', content: '你好' }], stream: true, stream_options: { include_usage: true },
    max_tokens: 500, temperature: 0.6, top_p: 0.9, top_k: 50, repetition_penalty: 1.1, repeat_penalty: 1.1, repeat_last_n: 64,
  });
  assert.match(d.stderr, /^\[2 tokens · [\d.]+ tok\/s · prompt 9 tokens in [\d.]+ s\]$/m);
});

test('an error event mid-stream and a connection lost mid-answer: one line; in the REPL the chat goes on', async () => {
  const at = fake.url.replace(/\./g, '\\.');
  const e = await run(['chat', '--base-url', fake.url, '-p', 'error']);
  assert.equal(e.stdout, '一半\n');
  assertOneLineError(e, new RegExp(`^llama3-zh chat: ${at}/v1 stopped the answer with an error: CUDA out of memory$`));
  const c = await run(['chat', '--base-url', fake.url, '-p', 'cut']);
  assertOneLineError(c, new RegExp(`^llama3-zh chat: the connection to ${at}/v1 was lost mid-answer: `));
  const repl = await run(['chat', '--base-url', fake.url, '-i'], { input: 'error\ncut\n你好\n/history\n/exit\n' });
  assert.equal(repl.code, 0, repl.stderr);
  assert.match(repl.stderr, /^error: .* stopped the answer with an error: CUDA out of memory$/m);
  assert.match(repl.stderr, /^error: the connection to .* was lost mid-answer: /m);
  // What came of a failed answer keeps its line, and the answer leaves no turn behind.
  assert.equal(repl.stdout, '一半\n一半\nok\n[user] 你好\n[assistant] ok\n');
});

test('Ctrl-C stops an answer: the HTTP request is aborted and the partial answer kept; one-shot exits 130', async () => {
  const before = fake.abandoned;
  // The question "long" gets an endless answer.
  const keys: [number | string, string][] = [['/exit to leave.', 'long\r'], ['lala', '\u0003'], ['interrupted', '/history\r'], ['[assistant] la', '/exit\r']];
  const out = await inTerminal(keys, process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'chat', '--base-url', fake.url],
    { ...cleanEnv(), ...NO_KEYS, LLAMA3ZH_HOME: emptyHome() });
  assert.match(out, /\[\d+ tokens · [\d.]+ tok\/s · interrupted\]/, out.slice(-800));
  assert.match(out, /\[user\] long\r?\n\[assistant\] (la)+\r?\n/, 'the interrupted answer stays in the history');
  assert.match(out, /\nEXIT 0\n$/);
  assert.equal(fake.abandoned, before + 1, 'the server saw the request go away');

  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'chat', '--base-url', fake.url, '-p', 'long'], { env: { ...cleanEnv(), ...NO_KEYS, LLAMA3ZH_HOME: emptyHome() } });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  let sent = false;
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; if (!sent && stdout.length >= 6) { sent = true; child.kill('SIGINT'); } });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 130, stderr);
  assert.match(stdout, /^(la)+\n$/);
  assert.match(stderr, /interrupted\]/);
});

test('--help names --base-url, --api-key and what a remote model takes', async () => {
  const r = await runCli(['chat', '--help']);
  assert.match(r.stdout, /--base-url URL {12}chat with a model of this OpenAI-compatible server/);
  assert.match(r.stdout, /--api-key KEY {13}sent as "Authorization: Bearer KEY" \(default: \$LLAMA3_ZH_API_KEY,\n\s+then \$OPENAI_API_KEY\)/);
});
