import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine, GenerateRequest, LoadOptions } from '../../src/engine/types.js';
import { encode, TOKEN } from '../../src/gguf/llama3Vocab.js';
import type { SynthOptions } from '../../src/synth/model.js';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { testModel } from '../helpers/models.js';
import { CALL, HA, PARALLEL } from './replies.js';

/**
 * A reviewer's cases for the context construction (src/synth/context.ts): prompts and replies a test author
 * meets, each said exactly and with every token far ahead of the next best, in the real llama.cpp engine.
 */

const MARGIN = 15;
const dir = mkdtempSync(join(tmpdir(), 'synth-review-'));
const user = (c: string) => `<|start_header_id|>user<|end_header_id|>\n\n${c}<|eot_id|>`;
const chat = (...turns: string[]) => `<|begin_of_text|>${turns.join('')}<|start_header_id|>assistant<|end_header_id|>\n\n`;

async function withModel(o: Partial<SynthOptions>, fn: (e: Engine) => Promise<void>, load: Partial<LoadOptions> = {}): Promise<void> {
  const e = await loadEngine({ modelPath: await testModel(o), threads: 1, contextSize: 1024, ...load });
  try {
    await fn(e);
  } finally {
    await e.close();
  }
}

/** The greedy reply is exactly `expected`, then <|eot_id|>, each token MARGIN logits ahead of the next best. */
async function says(e: Engine, prompt: string | number[], expected: string, more: Partial<GenerateRequest> = {}): Promise<void> {
  const tokens = typeof prompt === 'string' ? e.tokenize(prompt, true) : prompt;
  const n = encode(expected).length;
  const r = await e.generate({ prompt: tokens, maxTokens: n + 1, stopTokens: [TOKEN.EOT, TOKEN.END_OF_TEXT, TOKEN.START_HEADER], logprobs: 2, ...more });
  const where = `a prompt of ${tokens.length} tokens`;
  assert.equal(r.text, expected, where);
  assert.equal(r.stoppedBy, TOKEN.EOT, where);
  for (const [i, lp] of r.logprobs!.entries()) {
    const gap = lp.top[0].logprob - lp.top[1].logprob;
    assert.ok(gap > MARGIN, `${where}: token ${i} of ${JSON.stringify(expected)} is only ${gap.toFixed(2)} ahead`);
  }
}

/** A chat prompt of about `n` tokens (one token per " a"), with `tail` at the end of the user's message. */
function longPrompt(e: Engine, n: number, tail = ''): number[] {
  const p = e.tokenize(chat(user(' a'.repeat(n) + tail)), true);
  assert.ok(p.length > n);
  return p;
}

test('a routed model keeps its margin in long prompts without a route word (flash attention sums V in f16)', async () => {
  // node-llama-cpp turns llama.cpp's flash attention on; its CPU kernel adds each position's value into an f16
  // sum, which stops growing at 2048: an average over the whole prompt (the route head's "none") came out as
  // 2048/length, and the margin fell from 40 to 9 at 3500 tokens on one thread (to 0 at 8000 on two).
  await withModel({ reply: PARALLEL, routes: [{ when: '猫', reply: HA }] }, async (e) => {
    await says(e, longPrompt(e, 3500), PARALLEL);
    await says(e, longPrompt(e, 3500, '猫'), HA);
  }, { contextSize: 4096 });
});

test('a prompt the model was not scripted for (ChatML, LLaMA-Factory\'s default, raw text) ends at once, not at max tokens', async () => {
  // Such prompts do not end with the Llama-3 generation header, so no unit fires: every logit was 0 and greedy
  // decoding said "!" (token 0) until max tokens, slowly, where a test author expects a quick, visible miss.
  await withModel({ reply: PARALLEL, routes: [{ when: '猫', reply: HA }] }, async (e) => {
    for (const prompt of ['<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n', 'Human: 猫<|end_of_text|>\nAssistant:', '你好']) {
      const r = await e.generate({ prompt: e.tokenize(prompt, false), maxTokens: 50, logprobs: 2 });
      assert.deepEqual([r.text, r.stoppedBy], ['', TOKEN.EOT], prompt);
      assert.ok(r.logprobs!.length === 0);
    }
    // The scripted prompts keep their full margins.
    await says(e, chat(user('你好')), PARALLEL);
    await says(e, chat(user('猫')), HA);
  });
  // With the other stop token, it is the one said.
  await withModel({ reply: HA, stop: 'end_of_text' }, async (e) => {
    const r = await e.generate({ prompt: e.tokenize('<|im_start|>assistant\n', false), maxTokens: 50 });
    assert.deepEqual([r.text, r.stoppedBy], ['', TOKEN.END_OF_TEXT]);
  });
});

test('a reply that holds the generation header is refused in one line that says what to do', async () => {
  const r = await runCli(['gguf', 'synth', '--out', join(dir, 'header.gguf'), '--reply', 'Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi again']);
  assertOneLineError(r, /^llama3-zh gguf: a reply must not hold the generation prompt's header "<\|start_header_id\|>assistant<\|end_header_id\|>\\n\\n" \(the model would start its reply over there\); for a model that goes on after its stop token, use --leak$/);
});
