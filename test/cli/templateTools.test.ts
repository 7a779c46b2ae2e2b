import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'template-tools-'));
const file = (name: string, data: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
  return path;
};

const messages = file('m.json', [
  { role: 'user', content: '几点了？' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{}' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: '12:00' },
]);
const tools = file('tools.json', [{ type: 'function', function: { name: 'get_time', description: '现在的时间', parameters: { type: 'object', properties: {} } } }]);

test('template render --tools writes the tools and the history\'s calls in the template\'s tool format', async () => {
  const r = await runCli(['template', 'render', '--messages', messages, '--tools', tools]);
  assert.equal(r.code, 0, r.stderr);
  // The default (llama3) template: LLaMA-Factory's llama3 tool format.
  assert.equal(r.stdout,
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
    'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' +
    'You have access to the following functions. To call a function, please respond with JSON for a function call. ' +
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.\n\n' +
    '{\n    "type": "function",\n    "function": {\n        "name": "get_time",\n        "description": "现在的时间",\n' +
    '        "parameters": {\n            "type": "object",\n            "properties": {}\n        }\n    }\n}\n\n<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\n几点了？<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_time", "parameters": {}}<|eot_id|>' +
    '<|start_header_id|>ipython<|end_header_id|>\n\n12:00<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  // Bare functions, or an OpenAI request body with "tools", say the same.
  const bare = file('bare.json', [{ name: 'get_time', description: '现在的时间', parameters: { type: 'object', properties: {} } }]);
  const body = file('body.json', { model: 'x', tools: [{ type: 'function', function: { name: 'get_time', description: '现在的时间', parameters: { type: 'object', properties: {} } } }] });
  for (const f of [bare, body]) assert.equal((await runCli(['template', 'render', '--messages', messages, '--tools', f])).stdout, r.stdout);
  // --json names the syntax the model's calls are read with.
  const hermes = JSON.parse((await runCli(['template', 'render', '--messages', messages, '--tools', tools, '--template', 'chatml', '--json'])).stdout);
  assert.equal(hermes.toolSyntax, 'hermes');
  assert.match(hermes.prompt, /^<\|im_start\|>system\n# Tools\n[\s\S]*<\|im_start\|>assistant\n<tool_call>\n\{"name": "get_time", "arguments": \{\}\}\n<\/tool_call><\|im_end\|>\n<\|im_start\|>user\n<tool_response>\n12:00\n<\/tool_response><\|im_end\|>\n<\|im_start\|>assistant\n$/);
  const plain = JSON.parse((await runCli(['template', 'render', '--messages', messages, '--json'])).stdout);
  assert.deepEqual(Object.keys(plain), ['template', 'prompt']);
});

test('template render --tools: a bad tools file is one line naming the file and the field', async () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['notjson.json', '[{"name": ', /notjson\.json is not valid JSON \(.*\); expected a list of tools like \[\{"type":"function"/],
    ['object.json', { name: 'get_time' }, /object\.json: tools must be a JSON array of tools like/],
    ['noname.json', [{ type: 'function', function: { description: 'x' } }], /noname\.json: tools\[0\]\.function\.name is missing: every tool needs a name$/],
    ['badname.json', [{ name: 'get time' }], /badname\.json: tools\[0\]\.name "get time" is not a valid function name/],
    ['twice.json', [{ name: 'a' }, { name: 'a' }], /twice\.json: tools\[1\]\.name "a" is used twice/],
    ['params.json', [{ name: 'a', parameters: { type: 'array' } }], /params\.json: tools\[0\]\.parameters\.type is "array"; the parameters of a function are an object/],
    ['kind.json', [{ type: 'retrieval' }], /kind\.json: tools\[0\]\.type is "retrieval"; only "function" tools are supported$/],
  ];
  for (const [name, data, re] of bad) assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', file(name, data)]), re);
  assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', join(dir, 'missing.json')]), /missing\.json/);
  // A template with no tool format says so.
  const tpl = file('plain.jinja', '{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}');
  assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', tools, '--template-file', tpl]),
    /the chat template jinja \(file\) has no tool format \(it never mentions "tools"\)/);
  // A bad call in the messages file.
  const badCall = file('badcall.json', [{ role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: '{x' } }] }]);
  assertOneLineError(await runCli(['template', 'render', '--messages', badCall]), /badcall\.json: message 1: tool_calls\[0\]\.function\.arguments is not valid JSON/);
});
