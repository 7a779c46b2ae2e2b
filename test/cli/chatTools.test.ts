import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { assertOneLineError, emptyHome, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/models.js';
import { CALL, FINAL, openaiTools, PREAMBLE, PREAMBLE_WORD, RESULT, weatherModel, WEATHER } from '../helpers/toolModels.js';
import { inTerminal } from '../helpers/tty.js';

/**
 * `llama3-zh chat --tools FILE`: the person plays the tool. The scripted model calls get_weather (CALL) and, once
 * the conversation holds the result "snow", answers FINAL.
 */

const dir = mkdtempSync(join(tmpdir(), 'chat-tools-'));
const toolsFile = join(dir, 'tools.json');
const QUESTION = '北京今天天气怎么样？';
const SHOWN = '⚙ get_weather {"city": "Beijing"}';
const CALL_ID = /^call_[A-Za-z0-9]{24}$/;
let model: string;

before(async () => {
  model = await weatherModel();
  writeFileSync(toolsFile, JSON.stringify(openaiTools(WEATHER), null, 2));
});

const chat = (...args: string[]) => ['chat', '-m', model, '--tools', toolsFile, '-t', '1', '--temperature', '0', ...args];
/** What a terminal shows, less its colours and cursor moves. */
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');

test('in a real terminal: the call is shown, the person types its result, the model answers; cancelling; /history, /save and /load', async () => {
  const saved = join(dir, 'conv.json');
  const keys: [string, string][] = [
    ['/exit to leave.', `${QUESTION}\r`],
    // An empty line cancels the calls, and so does Ctrl-C.
    ['result of get_weather> ', '\r'],
    ['>>> ', '上海呢？\r'],
    ['result of get_weather> ', 'sn\u0003'],
    ['>>> ', `${QUESTION}\r`],
    // A result of several lines, between """ as the chat's messages are.
    ['result of get_weather> ', '"""\r'],
    ['... ', `${RESULT}\r`],
    ['... ', '零下三度"""\r'],
    [FINAL, '/history\r'],
    [`[assistant] ${FINAL}`, `/save ${saved}\r`],
    ['(saved', '/reset\r'],
    ['(conversation cleared)', `/load ${saved}\r`],
    ['(loaded', '/history\r'],
    [`[assistant] ${FINAL}`, '/tools\r'],
    ['get_weather(city)', '/exit\r'],
  ];
  const out = await inTerminal(keys, process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), ...chat()], { ...process.env, LLAMA3ZH_HOME: emptyHome() });
  const text = plain(out);
  assert.match(text, /\nEXIT 0\n$/, text.slice(-600));
  // On a terminal the call is coloured: the function in cyan, its arguments dimmed.
  assert.ok(out.includes('\x1b[36m⚙ get_weather\x1b[0m \x1b[2m{"city": "Beijing"}\x1b[0m'), JSON.stringify(out.slice(0, 1200)));
  assert.ok(!text.includes(CALL), 'the raw reply JSON is never shown');
  assert.match(text, /tools: get_weather \(you play them: each call asks you for its result\)/);
  assert.equal(text.split('(you are the tool: type each call\'s result; """ for several lines; an empty line or Ctrl-C cancels the calls)').length, 2, 'the hint, once');
  assert.equal(text.split('(tool calls cancelled)').length, 3, text);
  const history = [
    `[user] ${QUESTION}`,
    `[assistant] ${SHOWN}`,
    `[tool get_weather] ${RESULT}`,
    '零下三度',
    `[assistant] ${FINAL}`,
  ].join('\n');
  // The cancelled rounds left no trace; the conversation saved is the one loaded.
  // (Each listing is one block; what the terminal echoes of the next typed line may come before it.)
  assert.equal(text.split(`${history}\n`).length, 3, text.slice(text.indexOf('/history')));
  assert.match(text, /\(saved 4 messages to .*conv\.json\)\n/);
  assert.match(text, /\(loaded 4 messages from .*conv\.json\)\n/);
  assert.ok(text.includes(`/tools\nget_weather(city) — ${WEATHER.description}\n`), text);
  const messages = JSON.parse(readFileSync(saved, 'utf8')).messages;
  const id = messages[1].tool_calls[0].id;
  assert.match(id, CALL_ID);
  assert.deepEqual(messages, [
    { role: 'user', content: QUESTION },
    { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Beijing"}' } }] },
    { role: 'tool', tool_call_id: id, name: 'get_weather', content: `${RESULT}\n零下三度` },
    { role: 'assistant', content: FINAL },
  ]);
});

// One session for both piped cases (each model-loading spawn costs seconds): the loaded conversation replaces the one before.
test('piped (-i): plain text, the call, the result read from the next line, the final answer; a loaded conversation that ends in a call asks for its result', async () => {
  const file = join(dir, 'pending.json');
  writeFileSync(file, JSON.stringify([
    { role: 'user', content: QUESTION },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "北京"}' } }] },
  ]));
  const input = [QUESTION, RESULT, '/history', `/load ${file}`, RESULT, '/history', '/exit'].join('\n') + '\n';
  const r = await runCli(chat('-i'), { input });
  assert.equal(r.code, 0, r.stderr);
  const piped = `${SHOWN}\n${FINAL}\n[user] ${QUESTION}\n[assistant] ${SHOWN}\n[tool get_weather] ${RESULT}\n[assistant] ${FINAL}\n`;
  const loaded = `${FINAL}\n[user] ${QUESTION}\n[assistant] ⚙ get_weather {"city": "北京"}\n[tool get_weather] ${RESULT}\n[assistant] ${FINAL}\n`;
  assert.ok(r.stdout.startsWith(piped), `the piped round: ${JSON.stringify(r.stdout)}`);
  assert.equal(r.stdout.slice(piped.length), loaded, 'the loaded conversation that ends in a call');
});

test('one-shot: the calls one per line as JSON, text before them first; --json has tool_calls; exit 0', async () => {
  const r = await runCli(chat('-p', QUESTION));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.length, 2, r.stdout);
  const call = JSON.parse(lines[0]);
  assert.match(call.id, CALL_ID);
  assert.equal(lines[0], `{"id":"${call.id}","name":"get_weather","arguments":{"city":"Beijing"}}`);

  const pre = await runCli(chat('-p', `${PREAMBLE_WORD}?`));
  assert.equal(pre.code, 0, pre.stderr);
  assert.match(pre.stdout, new RegExp(`^${PREAMBLE.replace('.', '\\.')}\\n\\{"id":"call_\\w{24}","name":"get_weather","arguments":\\{"city":"Beijing"\\}\\}\\n$`));

  const j = await runCli(chat('-p', QUESTION, '--json'));
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout);
  assert.equal(out.reply, '');
  assert.equal(out.finish_reason, 'tool_calls');
  assert.equal(out.tool_calls.length, 1);
  assert.deepEqual({ ...out.tool_calls[0], id: 'x' }, { id: 'x', name: 'get_weather', arguments: { city: 'Beijing' } });
  assert.match(out.tool_calls[0].id, CALL_ID);

  // A reply in text is printed as it is, and its tool_calls are none.
  const text = await runCli(chat('-p', RESULT, '--json'));
  assert.deepEqual([JSON.parse(text.stdout).reply, JSON.parse(text.stdout).finish_reason, JSON.parse(text.stdout).tool_calls], [FINAL, 'stop', []]);
  // Without --tools nothing is parsed: the call is the reply.
  const none = await runCli(['chat', '-m', model, '-t', '1', '--temperature', '0', '-p', QUESTION, '--json']);
  assert.deepEqual([JSON.parse(none.stdout).reply, JSON.parse(none.stdout).tool_calls], [CALL, undefined]);
});

test('a bad --tools file: one line, exit 2, before the model loads', async () => {
  const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const noName = write('noname.json', '[{"type": "function", "function": {"description": "x"}}]');
  const notJson = write('notjson.json', '[{"name": "get_weather"');
  const badParams = write('params.json', '[{"name": "get_weather", "parameters": {"type": "string"}}]');
  const noModel = join(dir, 'no-such-model.gguf');
  const cases: [string[], RegExp][] = [
    [['chat', '-m', noModel, '--tools', noName, '-p', 'x'], /^llama3-zh chat: --tools .*noname\.json: tools\[0\]\.function\.name is missing: every tool needs a name$/],
    [['chat', '-m', noModel, '--tools', notJson, '-p', 'x'], /^llama3-zh chat: --tools .*notjson\.json is not valid JSON \(.*\); expected a list of tools like \[\{"type":"function"/],
    [['chat', '-m', noModel, '--tools', badParams, '-p', 'x'], /^llama3-zh chat: --tools .*params\.json: tools\[0\]\.parameters\.type is "string"; the parameters of a function are an object/],
    [['chat', '-m', noModel, '--tools', join(dir, 'missing.json'), '-p', 'x'], /^llama3-zh chat: --tools .*missing\.json/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    assertOneLineError(r, cases[i][1]);
    assert.equal(r.code, 2, r.stderr);
  });
  // A template with no tool format says so before the first question.
  const jinja = write('plain.jinja', '{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}### assistant:');
  const r = await runCli(['chat', '-m', model, '--tools', toolsFile, '--template-file', jinja, '-p', 'x', '-t', '1']);
  assertOneLineError(r, /^llama3-zh chat: --tools: the chat template .* has no tool format \(it never mentions "tools"\)/);
  assert.equal(r.code, 2);
});

test('--help names --tools', async () => {
  const r = await runCli(['chat', '--help']);
  assert.match(r.stdout, /--tools FILE {14}offer these tools \(a JSON list, OpenAI's shape\); you play the tool/);
});
