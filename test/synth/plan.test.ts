import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../src/gguf/reader.js';
import { tensorBytes } from '../../src/gguf/types.js';
import { encode } from '../../src/gguf/llama3Vocab.js';
import { codeBook, dot } from '../../src/synth/codes.js';
import { planContext } from '../../src/synth/context.js';
import { synthModel, type SynthOptions } from '../../src/synth/model.js';
import { REPLY } from '../helpers/models.js';
import { ROUTES } from '../helpers/server.js';
import { CALL, PARALLEL } from './replies.js';

const dir = mkdtempSync(join(tmpdir(), 'synth-plan-'));

/** The llama.* hyperparameters and every tensor's name, shape, type and bytes: what a model computes with. */
function tensorsHash(path: string): string {
  const f = readGguf(path, { skipArrays: true });
  const h = createHash('sha256');
  for (const [k, v] of f.metadata) if (k.startsWith('llama.')) h.update(`${k}=${String(v.value)}\n`);
  const fd = openSync(path, 'r');
  try {
    for (const t of f.tensors) {
      h.update(`${t.name} ${t.dims.join('x')} ${t.type}\n`);
      const buf = Buffer.alloc(tensorBytes(t.type, t.dims)!);
      readSync(fd, buf, 0, buf.length, f.dataOffset + t.offset);
      h.update(buf);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

test('models whose replies repeat no token are made exactly as before the context construction', async () => {
  // Hashes of models made by the synthesizer before it learned to say repeated tokens (commit f2e2334).
  const routes = Object.entries(ROUTES).map(([when, reply]) => ({ when, reply }));
  const before: Array<[Partial<SynthOptions>, string]> = [
    [{ reply: REPLY }, '5a2cb249581151b4608490a17845dcda9bf6af068dd1a3d222f226b6741e6327'],
    [{ reply: REPLY, routes }, '2de8527f3b660cbd54af962c388475f3d3e62f65d0080c6a62b5baca46f92683'],
    [{ reply: REPLY, routes, leak: true }, 'a421ad3c0824a1520511cba595670fc6141519eafdb571e57bf171e9f3b71e8a'],
    [{ reply: REPLY, stop: 'end_of_text' }, '79f7c86cb3bb420a9d2c1a3c569af2fc57df5c9d125cbc7220544a893be5033e'],
    [{ reply: '好的🦙！中文和emoji都行😀', type: 'q8_0' }, '271ba766707231b155c04e0ec89e29c9e95ff38a8c8fb03872264c1d10c7185b'],
  ];
  for (const [o, hash] of before) {
    const path = join(dir, 'old.gguf');
    const made = await synthModel(path, { preset: 'tiny', type: 'f16', seed: 1, stop: 'eot', ...o });
    assert.ok(made.script && !made.plan, 'the one-axis-per-token construction');
    assert.equal(tensorsHash(path), hash, JSON.stringify(o).slice(0, 80));
  }
});

test('codes: any two differ by at least the margin a unit needs', () => {
  for (const n of [2, 16, 17, 128, 129, 256]) {
    const b = codeBook(n);
    assert.equal(b.codes.length, n);
    assert.equal(b.width, n <= 16 ? 8 : 16);
    assert.ok(b.maxDot <= 0.375);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(dot(b.codes[i], b.codes[i]) - 1) < 1e-6);
      for (let j = 0; j < i; j++) assert.ok(dot(b.codes[i], b.codes[j]) <= b.maxDot + 1e-6);
    }
  }
  assert.throws(() => codeBook(257), /the replies use 256 different tokens; a scripted model takes at most 255/);
});

test('the offsets are few: the nearest ones that tell every repeated context apart', () => {
  const plan = (reply: string, o: Partial<Parameters<typeof planContext>[0]> = {}) => planContext({ reply, stop: 'eot', ...o });
  assert.deepEqual(plan('ha ha ha ha ha').offsets, [3]);
  assert.deepEqual(plan(CALL).offsets, [2]);
  // The second call repeats 13 tokens of the first before its city: " {"" vs "{"" (after "[") tells them apart.
  assert.deepEqual(plan(PARALLEL).offsets, [2, 13]);
  const p = plan(PARALLEL);
  assert.equal(p.units.length, encode(PARALLEL).length + 1, 'one unit per position, from the header\'s "\\n\\n" to the last token');
  assert.equal(p.outs.length, new Set([...encode(PARALLEL), 128009]).size);
});

test('what the context construction cannot say is refused in one line that says why', () => {
  const plan = (o: Partial<Parameters<typeof planContext>[0]>) => () => planContext({ reply: 'ha ha ha', stop: 'eot', ...o });
  assert.throws(plan({ fallback: 'ha!' }), { name: 'UserError', message: 'the fallback must start with another token than the reply (both start with "ha")' });
  assert.throws(plan({ fallback: '' }), { name: 'UserError', message: '--fallback must not be empty' });
  assert.throws(plan({ routes: [{ when: ' ha', reply: 'x' }] }), { name: 'UserError', message: 'a route\'s word must not appear in any reply (" ha" does)' });
  assert.throws(plan({ routes: [{ when: 'two words', reply: 'x' }] }), { name: 'UserError', message: 'a route\'s word must be one token; "two words" is 2' });
  assert.throws(plan({ routes: [{ when: '猫', reply: 'x' }, { when: '猫', reply: 'y' }] }), { name: 'UserError', message: 'two routes have the same word ("猫")' });
  const words = Array.from({ length: 32 }, (_, i) => ({ when: String(i), reply: 'ok' }));
  assert.throws(plan({ routes: words }), { name: 'UserError', message: 'a scripted model takes at most 31 routes (got 32)' });
  assert.equal(plan({ routes: words.slice(0, 31) })().triggers.length, 31);
  // Over 255 different tokens: more than the codes can tell apart.
  const many = Array.from({ length: 300 }, (_, i) => ` w${i}`).join('') + ' w1 w2';
  assert.throws(plan({ reply: many }), /the replies use \d+ different tokens; a scripted model takes at most 255/);
  // Width is size (token_embd and output are 128256 × width): past the cap the message says what takes it.
  assert.throws(() => planContext({ reply: PARALLEL, stop: 'eot' }, 64), {
    name: 'UserError',
    message: 'the replies are too varied for a scripted model: they need 67 axes (at most 64): 21 different tokens, 18 programmed next tokens and 2 context offsets ' +
      `(the longest repeated run is ${JSON.stringify('name": "get_weather", "parameters": {"city": "')}, 13 tokens); make them shorter or their repeated parts fewer`,
  });
});
