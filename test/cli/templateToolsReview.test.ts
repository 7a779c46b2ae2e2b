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
