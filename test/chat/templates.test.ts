import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Template } from '@huggingface/jinja';
import type { Message } from '../../src/chat/messages.js';
import { parseMessages } from '../../src/chat/messages.js';
import { LLAMA3_JINJA, LLAMA3_V1_JINJA } from '../../src/chat/officialTemplates.js';
import { detectTemplateName, jinjaTemplate, lfDefaultJinja, NATIVE_TEMPLATES, resolveTemplate, V1_SYSTEM } from '../../src/chat/templates.js';
import { ROOT } from '../helpers/models.js';

const official = (src: string, messages: Message[], gen = true) =>
  new Template(src).render({ messages, bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', add_generation_prompt: gen });

const CONVERSATIONS: Message[][] = [
  [{ role: 'user', content: '你是谁' }],
  [{ role: 'system', content: '你是一个调皮活泼的中文智者。' }, { role: 'user', content: '  你好 \n' }],
  [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: '1+1=?' },
    { role: 'assistant', content: '2 😀' },
    { role: 'user', content: 'code: `print("hi")`\n\nthanks' },
  ],
  [{ role: 'user', content: '' }],
  [],
];

test('llama3 is byte-identical to Meta\'s official Jinja template', () => {
  for (const c of CONVERSATIONS) {
    for (const gen of [true, false]) assert.equal(NATIVE_TEMPLATES.llama3.render(c, gen), official(LLAMA3_JINJA, c, gen), JSON.stringify(c));
  }
  assert.equal(
    NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: '你是谁' }]),
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n你是谁<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
});

test('llama3.1 is byte-identical to Meta\'s official Llama-3.1 Jinja template', () => {
  const src = readFileSync(join(ROOT, 'test', 'fixtures', 'llama3.1-instruct.jinja'), 'utf8');
  for (const c of CONVERSATIONS.slice(0, 4)) {
    assert.equal(NATIVE_TEMPLATES['llama3.1'].render(c), official(src, c), JSON.stringify(c));
  }
  assert.match(NATIVE_TEMPLATES['llama3.1'].render([{ role: 'user', content: 'x' }]),
    /^<\|begin_of_text\|><\|start_header_id\|>system<\|end_header_id\|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<\|eot_id\|>/);
  assert.ok(NATIVE_TEMPLATES['llama3.1'].stops.includes('<|eom_id|>'));
});

test('llama3-v1 is shareAI\'s v1 training format', () => {
  const t = NATIVE_TEMPLATES['llama3-v1'];
  assert.equal(
    t.render([{ role: 'system', content: 'S' }, { role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' }]),
    '<|begin_of_text|><<SYS>>\nS\n<</SYS>>\n\n' +
      '<|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nA1<|end_of_text|>\n' +
      '<|start_header_id|>user<|end_header_id|>\n\nQ2<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
  );
  // Without a system prompt it uses the one v1 was trained with, as the Python demo does.
  assert.ok(t.render([{ role: 'user', content: 'Q' }]).startsWith(`<|begin_of_text|><<SYS>>\n${V1_SYSTEM}\n<</SYS>>\n\n`));
  assert.ok(t.stops.includes('<|end_of_text|>'));
  // The Jinja form synthesized v1 models carry renders the same.
  const c: Message[] = [{ role: 'system', content: 'S' }, { role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' }];
  assert.equal(official(LLAMA3_V1_JINJA, c), t.render(c));
});

test('every template stops on each end-of-turn token it implies', () => {
  assert.deepEqual(NATIVE_TEMPLATES.llama3.stops, ['<|eot_id|>', '<|end_of_text|>', '<|start_header_id|>']);
  assert.deepEqual(NATIVE_TEMPLATES.chatml.stops.slice(0, 1), ['<|im_end|>']);
  assert.equal(NATIVE_TEMPLATES.chatml.render([{ role: 'user', content: 'hi' }]), '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
});

test('templates are detected from the GGUF chat template', () => {
  const src31 = readFileSync(join(ROOT, 'test', 'fixtures', 'llama3.1-instruct.jinja'), 'utf8');
  assert.equal(detectTemplateName(LLAMA3_JINJA), 'llama3');
  assert.equal(detectTemplateName(src31), 'llama3.1');
  // Llama 3.2 puts today's date in its system header: rendered by its own template.
  const src32 = readFileSync(join(ROOT, 'test', 'fixtures', 'llama3.2-instruct.jinja'), 'utf8');
  assert.equal(detectTemplateName(src32), 'jinja');
  const today = new Date().toLocaleDateString('en-GB', { day: '2-digit', month: 'short', year: 'numeric' }).replace(/Sept/, 'Sep');
  assert.ok(resolveTemplate({ modelSource: src32 }).render([{ role: 'user', content: 'hi' }]).includes(`Today Date: ${today}\n`), today);
  assert.equal(detectTemplateName(LLAMA3_V1_JINJA), 'llama3-v1');
  assert.equal(detectTemplateName("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"), 'chatml');
  assert.equal(detectTemplateName('{{ messages[0].content }}'), 'jinja');
  assert.equal(detectTemplateName(undefined), 'llama3');
});

test('jinja templates render with @huggingface/jinja; names and files resolve', () => {
  const t = jinjaTemplate("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
  assert.equal(t.render([{ role: 'user', content: '你好' }]), '<|begin_of_text|>[user]你好<|eot_id|>[assistant]');
  assert.deepEqual(t.stops, ['<|eot_id|>']);
  assert.equal(resolveTemplate({ modelSource: LLAMA3_JINJA }).name, 'llama3');
  assert.equal(resolveTemplate({ name: 'chatml', modelSource: LLAMA3_JINJA }).name, 'chatml');
  assert.equal(resolveTemplate({ name: 'jinja', modelSource: '{{ messages[0].content }}' }).render([{ role: 'user', content: 'x' }]), 'x');
  assert.equal(resolveTemplate({ fileSource: '{{ "F" }}', name: 'llama3' }).render([]), 'F');
  assert.throws(() => resolveTemplate({ name: 'llama2' }), /unknown template "llama2"; choose one of: llama3, llama3.1, llama3-v1, chatml, lf-default, jinja/);
  assert.throws(() => resolveTemplate({ name: 'jinja' }), /pass --template-file/);
  assert.throws(() => jinjaTemplate('{% for %}'), /does not parse as Jinja/);
});

test('messages are validated with errors that say what to fix', () => {
  assert.deepEqual(parseMessages({ messages: [{ role: 'user', content: 'a' }] }, 'm.json'), [{ role: 'user', content: 'a' }]);
  assert.throws(() => parseMessages({}, 'm.json'), /m.json: expected a JSON array of messages/);
  assert.throws(() => parseMessages([{ role: 'bot', content: 'a' }], 'm.json'), /message 1 has role "bot"; use "system", "user" or "assistant"/);
  assert.throws(() => parseMessages([{ role: 'user' }], 'm.json'), /message 1 has no "content" string/);
  // OpenAI's newer clients write the system prompt as "developer"; the server's messages take the same roles.
  assert.deepEqual(parseMessages([{ role: 'developer', content: 'd' }, { role: 'user', content: 'u' }], 'm.json'),
    [{ role: 'system', content: 'd' }, { role: 'user', content: 'u' }]);
});

/**
 * LLaMA-Factory's Jinja for its `default` template with the Meta-Llama-3-8B tokenizer (eos <|end_of_text|>), as
 * Template._get_jinja_template writes it into tokenizer_config.json (src/llamafactory/data/template.py, LF
 * 0.9.6.dev0): written out here by hand from that code, not by lfDefaultJinja.
 */
const LF_DEFAULT_JINJA =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  "{% else %}{% set loop_messages = messages %}{% endif %}{% if system_message is defined %}{{ 'System: ' + system_message + '<|end_of_text|>' + '\n' }}{% endif %}" +
  "{% for message in loop_messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}" +
  "{{ 'Human: ' + content + '<|end_of_text|>' + '\nAssistant:' }}{% elif message['role'] == 'assistant' %}{{ content + '<|end_of_text|>' + '\n' }}{% endif %}{% endfor %}";

test('lf-default is LLaMA-Factory\'s default template: System/Human/Assistant with the base eos, no BOS', () => {
  const t = NATIVE_TEMPLATES['lf-default'];
  assert.equal(
    t.render([{ role: 'system', content: 'S' }, { role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' }]),
    'System: S<|end_of_text|>\nHuman: Q1<|end_of_text|>\nAssistant:A1<|end_of_text|>\nHuman: Q2<|end_of_text|>\nAssistant:',
  );
  // "Assistant:" is part of the user turn in LLaMA-Factory: the generation prompt adds nothing.
  assert.equal(t.render([{ role: 'user', content: '你好' }], false), 'Human: 你好<|end_of_text|>\nAssistant:');
  assert.equal(t.noBos, true);
  assert.deepEqual(t.stops, ['<|end_of_text|>', '<|eot_id|>']);
  assert.equal(t.defaultSystem, undefined);
  // Byte-identical to LLaMA-Factory's own Jinja (content is not trimmed), and that Jinja is detected as lf-default.
  assert.equal(lfDefaultJinja(), LF_DEFAULT_JINJA);
  for (const c of CONVERSATIONS) {
    for (const gen of [true, false]) assert.equal(t.render(c, gen), official(LF_DEFAULT_JINJA, c, gen), JSON.stringify(c));
  }
  assert.equal(detectTemplateName(LF_DEFAULT_JINJA), 'lf-default');
  assert.equal(resolveTemplate({ modelSource: LF_DEFAULT_JINJA }).name, 'lf-default');
  // An Instruct tokenizer's eos goes in instead; that Jinja is rendered as it is.
  const eot = lfDefaultJinja('<|eot_id|>');
  assert.equal(official(eot, [{ role: 'user', content: 'x' }]), 'Human: x<|eot_id|>\nAssistant:');
  assert.equal(detectTemplateName(eot), 'jinja');
  // The message content stays text: pieces mark it.
  assert.deepEqual(t.pieces([{ role: 'user', content: '<|eot_id|>' }]), [{ text: 'Human: ' }, { text: '<|eot_id|>', content: true }, { text: '<|end_of_text|>\nAssistant:' }]);
});

test('LLaMA-Factory\'s default Jinja with an Instruct tokenizer\'s eos: rendered as that Jinja, but with no BOS and slot by slot, as trained', () => {
  const eot = lfDefaultJinja('<|eot_id|>');
  for (const t of [resolveTemplate({ modelSource: eot }), resolveTemplate({ fileSource: eot })]) {
    assert.equal(t.noBos, true);
    assert.deepEqual(t.stops, ['<|eot_id|>', '<|end_of_text|>']);
    for (const c of CONVERSATIONS) {
      for (const gen of [true, false]) assert.equal(t.render(c, gen), official(eot, c, gen), JSON.stringify(c));
    }
    assert.deepEqual(t.pieces([{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }, { role: 'user', content: 'R' }]), [
      { text: 'Human: ' }, { text: 'Q', content: true }, { text: '<|eot_id|>\nAssistant:' },
      { text: 'A', content: true, cut: true }, { text: '<|eot_id|>\n' },
      { text: 'Human: ', cut: true }, { text: 'R', content: true }, { text: '<|eot_id|>\nAssistant:' },
    ]);
  }
  assert.deepEqual([resolveTemplate({ modelSource: eot }).name, resolveTemplate({ fileSource: eot }).name], ['jinja (model)', 'jinja (file)']);
  // Any other Jinja is rendered by the Jinja and keeps the tokenizer's BOS.
  assert.equal(resolveTemplate({ fileSource: eot.replace('Human: ', 'User: ') }).noBos, undefined);
});
