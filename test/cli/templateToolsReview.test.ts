import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'template-tools-review-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const messages = file('m.json', '[{"role": "user", "content": "几点了？"}]');
const deep = (n: number) => `${'{"x": '.repeat(n)}1${'}'.repeat(n)}`;

test('template render --tools: JSON nested thousands deep is one line naming the field, not "internal error: Maximum call stack size exceeded"', async () => {
  const tools = file('deep.json', `[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": ${deep(5000)}}}}}]`);
  assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', tools]),
    /deep\.json: tools\[0\]\.function\.parameters nests deeper than 64 levels; a tool's JSON Schema cannot be that deep$/);
  const calls = file('calls.json', `[{"role": "user", "content": "q"}, {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": ${deep(5000)}}}]}]`);
  for (const t of ['llama3', 'llama3.1', 'chatml']) {
    assertOneLineError(await runCli(['template', 'render', '--messages', calls, '--template', t]),
      /calls\.json: message 2: tool_calls\[0\]\.function\.arguments nests deeper than 64 levels; a call's arguments cannot be that deep$/);
  }
});

test('template render: a tools or messages file saved with a byte-order mark (Windows Notepad) reads as without one', async () => {
  const tools = [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }];
  const plain = await runCli(['template', 'render', '--messages', messages, '--tools', file('t.json', JSON.stringify(tools))]);
  assert.equal(plain.code, 0, plain.stderr);
  const bom = await runCli(['template', 'render', '--messages', file('mb.json', '\ufeff[{"role": "user", "content": "几点了？"}]'), '--tools', file('tb.json', `\ufeff${JSON.stringify(tools)}`)]);
  assert.equal(bom.code, 0, bom.stderr);
  assert.equal(bom.stdout, plain.stdout);
});

test('template render --tools: a folder, an empty file, a tools list that is null: one line each', async () => {
  mkdirSync(join(dir, 'folder.json'));
  assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', join(dir, 'folder.json')]), /folder\.json is a folder, not a tools file/);
  assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', file('empty.json', '')]), /empty\.json is not valid JSON/);
  assertOneLineError(await runCli(['template', 'render', '--messages', messages, '--tools', file('null.json', '{"tools": null}')]), /null\.json: tools must be a JSON array of tools like/);
});
