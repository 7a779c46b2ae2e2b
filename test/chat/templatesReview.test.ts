import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Message } from '../../src/chat/messages.js';
import { jinjaTemplate, NATIVE_TEMPLATES, resolveTemplate } from '../../src/chat/templates.js';
import { HERMES, LLAMA3_JSON, type ToolFunction } from '../../src/chat/tools.js';
import { ROOT } from '../helpers/models.js';

/**
 * A hostile review of the templates with tools: Meta's Llama-3.1 template as transformers (Python) renders it,
 * which offered tools are Meta's built-in ones (llama.cpp's rule), and a model's own template that writes tools.
 */
const BRAVE: ToolFunction = { name: 'brave_search', parameters: { type: 'object', properties: { query: { type: 'string' } } } };
const CODE: ToolFunction = { name: 'code_interpreter', parameters: { type: 'object', properties: { code: { type: 'string' } } } };
const text = (t: string) => ({ content: t, calls: [] });

test('llama3.1 and llama3 trim content as Meta\'s template does under transformers (Python\'s str.strip: U+0085 goes, U+FEFF stays)', () => {
  // What test/fixtures/templates/reference.py's jinja2 environment renders from Meta's Llama-3.1 template for these messages.
  const messages: Message[] = [{ role: 'user', content: 'a\u3000' }, { role: 'assistant', content: 'b\u0085\u001c' }, { role: 'user', content: '\ufeffc' }];
  assert.equal(NATIVE_TEMPLATES['llama3.1'].render(messages),
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\na<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nb<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\n\ufeffc<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  assert.equal(NATIVE_TEMPLATES.llama3.render(messages),
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\na<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nb<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\n\ufeffc<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
});

test('Meta\'s built-in tools are built-in only with Meta\'s arguments (query, code), as llama.cpp checks; another code_interpreter is a custom tool', () => {
  const mine: ToolFunction = { name: 'code_interpreter', description: 'Run a script', parameters: { type: 'object', properties: { script: { type: 'string' } }, required: ['script'] } };
  const t = NATIVE_TEMPLATES['llama3.1'];
  const prompt = t.render([{ role: 'user', content: 'q' }], true, [mine]);
  assert.ok(!prompt.includes('Tools:'), prompt);
  assert.match(prompt, /"name": "code_interpreter",\n {8}"description": "Run a script"/);
  // Its calls are JSON, read back with its own argument; code after <|python_tag|> is not its call.
  const call = [{ role: 'user' as const, content: 'q' }, { role: 'assistant' as const, content: '', toolCalls: [{ id: 'c', name: 'code_interpreter', arguments: { script: 'print(1)' } }] }];
  assert.match(t.render(call, false, [mine]), /\{"name": "code_interpreter", "parameters": \{"script": "print\(1\)"\}\}<\|eot_id\|>$/);
  assert.deepEqual(LLAMA3_JSON.parse('<|python_tag|>print(1)', [mine]), text('<|python_tag|>print(1)'));
  assert.deepEqual(LLAMA3_JSON.parse('{"name": "code_interpreter", "parameters": {"script": "print(1)"}}', [mine]), { content: '', calls: [{ name: 'code_interpreter', arguments: { script: 'print(1)' } }] });
  // Meta's own still is one.
  assert.match(t.render([{ role: 'user', content: 'q' }], true, [CODE, BRAVE]), /Environment: ipython\nTools: brave_search\n\n/);
  assert.deepEqual(LLAMA3_JSON.parse('<|python_tag|>print(1)', [CODE]), { content: '', calls: [{ name: 'code_interpreter', arguments: { code: 'print(1)' } }] });
});


test('a model\'s own template that writes tools (Qwen 2.5\'s) renders a conversation offered tools; without tools the native renderer does', () => {
  const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'templates', name), 'utf8');
  const qwen = fixture('qwen2.5-instruct.jinja');
  const tools = [{ name: 'get_time', description: '现在的时间', parameters: { type: 'object', properties: {} } }];
  const q: Message[] = [{ role: 'user', content: '几点了？' }];
  const t = resolveTemplate({ modelSource: qwen });
  assert.equal(t.name, 'chatml');
  // Qwen's own words, its default system prompt included, as transformers and llama.cpp's --jinja give them.
  assert.equal(t.render(q, true, tools), jinjaTemplate(qwen).render(q, true, tools));
  assert.match(t.render(q, true, tools), /^<\|im_start\|>system\nYou are Qwen, created by Alibaba Cloud\. You are a helpful assistant\.\n\n# Tools\n/);
  assert.equal(t.pieces(q, true, tools)!.map((p) => p.text).join(''), t.render(q, true, tools));
  assert.equal(t.toolSyntax, HERMES);
  assert.equal(t.render(q), NATIVE_TEMPLATES.chatml.render(q));
  // A template named on the command line is that template; Meta's Llama 3.1 template is the native llama3.1.
  assert.equal(resolveTemplate({ name: 'chatml', modelSource: qwen }).render(q, true, tools), NATIVE_TEMPLATES.chatml.render(q, true, tools));
  assert.equal(resolveTemplate({ modelSource: fixture('llama3.1-official.jinja') }).render(q, true, tools), NATIVE_TEMPLATES['llama3.1'].render(q, true, tools));
});
