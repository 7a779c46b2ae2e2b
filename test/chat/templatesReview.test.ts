import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/chat/messages.js';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';

/**
 * A hostile review of the templates with tools: Meta's Llama-3.1 template as transformers (Python) renders it.
 */

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
