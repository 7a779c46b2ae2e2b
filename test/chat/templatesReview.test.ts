import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/chat/messages.js';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { LLAMA3_JSON, type ToolFunction } from '../../src/chat/tools.js';

/**
 * A hostile review of the templates with tools: Meta's Llama-3.1 template as transformers (Python) renders it, and
 * which offered tools are Meta's built-in ones (llama.cpp's rule).
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

