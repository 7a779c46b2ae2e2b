import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import { UserError } from '../../src/errors.js';
import { assertClose, cosine, reference, type Reference, SENTENCES } from '../helpers/embeddings.js';
import { redirectLora, testModel } from '../helpers/models.js';

// A random-weight model: its vectors differ from text to text (a scripted one's are built to be alike).
let path: string;
let engine: Engine;
let mean: Reference;
let last: Reference;

before(async () => {
  path = await testModel();
  engine = await loadEngine({ modelPath: path, threads: 1, contextSize: 256, parallel: 2, embeddingContextSize: 48 });
  mean = await reference(path, 'mean');
  last = await reference(path, 'last');
});
after(async () => {
  await engine.close();
  await mean.close();
  await last.close();
});

test('a chat model embeds mean-pooled: what it says in info', () => {
  assert.deepEqual(engine.info.embedding, { size: 64, maxTokens: 48, pooling: 'mean' });
});

test('the vector is the mean of the token vectors: node-llama-cpp\'s last-token vector of every prefix, averaged', async () => {
  // Causal attention: token i's vector in the whole input is the last one of the input cut after token i.
  const tokens = engine.embeddingTokens(SENTENCES[0]);
  const sum = new Array<number>(64).fill(0);
  for (let i = 1; i <= tokens.length; i++) (await last.embed(tokens.slice(0, i))).forEach((x, j) => (sum[j] += x / tokens.length));
  const { vectors } = await engine.embed([SENTENCES[0]]);
  assertClose(vectors[0], sum, 'mean of prefixes');
});

test('embed equals node-llama-cpp\'s getEmbeddingFor, in order, with the token counts', async () => {
  const r = await engine.embed(SENTENCES);
  assert.equal(r.vectors.length, SENTENCES.length);
  for (const [i, s] of SENTENCES.entries()) {
    assertClose(r.vectors[i], await mean.embed(s), `sentence ${i}`, 1e-6);
    assert.equal(r.tokens[i], mean.tokens(s).length);
  }
  // Not degenerate: different sentences, different directions.
  assert.ok(cosine(r.vectors[0], r.vectors[1]) < 0.99, String(cosine(r.vectors[0], r.vectors[1])));
});

test('BOS once: a text gets it, token ids get it unless they have it; both embed alike', async () => {
  const text = SENTENCES[3];
  const tokens = engine.tokenize(text);
  assert.deepEqual(engine.embeddingTokens(text), [TOKEN.BOS, ...tokens]);
  assert.deepEqual(engine.embeddingTokens(tokens), [TOKEN.BOS, ...tokens]);
  assert.deepEqual(engine.embeddingTokens([TOKEN.BOS, ...tokens]), [TOKEN.BOS, ...tokens]);
  const r = await engine.embed([text, tokens, [TOKEN.BOS, ...tokens]]);
  assertClose(r.vectors[1], r.vectors[0], 'ids', 0);
  assertClose(r.vectors[2], r.vectors[0], 'ids with BOS', 0);
  // Special-token names in a text are its characters, as in chat content.
  assert.ok(engine.embeddingTokens('<|eot_id|>').length > 2);
});

test('an input over the limit, a token id outside the vocabulary: one clear UserError each', async () => {
  const long = '我们继续讨论这个问题，请详细说明每一个步骤。'.repeat(6);
  await assert.rejects(engine.embed(['ok', long]), (e: Error) => e instanceof UserError && /^input 1 is \d+ tokens; at most 48 are embedded at once/.test(e.message));
  await assert.rejects(engine.embed([[1, 128256]]), (e: Error) => e instanceof UserError && /token id that is not one of this model's \(0 to 128255\)/.test(e.message));
  // The engine still embeds afterwards.
  assert.equal((await engine.embed(['ok'])).vectors.length, 1);
});

test('embedding while generating: both give what they give alone', async () => {
  const prompt = engine.tokenize('<|begin_of_text|>你好', true);
  const alone = await engine.generate({ prompt, maxTokens: 12, ignoreEndOfGeneration: true });
  const vectors = (await engine.embed(SENTENCES)).vectors;
  const [gen, emb] = await Promise.all([
    engine.generate({ prompt, maxTokens: 12, ignoreEndOfGeneration: true }),
    engine.embed(SENTENCES),
  ]);
  assert.deepEqual(gen.tokens, alone.tokens);
  emb.vectors.forEach((v, i) => assertClose(v, vectors[i], `sentence ${i}`, 0));
});

test('an aborted embedding stops before its next input', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(engine.embed(SENTENCES, { signal: ac.signal }), { name: 'AbortError' });
});

test('an engine with LoRA adapters does not embed (its embeddings would be the base model\'s)', async () => {
  const withAdapter = await engine.withAdapters([{ path: await redirectLora(64, 0, 1000, 1), scale: 1 }]);
  try {
    assert.equal(withAdapter.info.embedding, undefined);
    assert.throws(() => withAdapter.embeddingTokens('x'), /LoRA adapters does not embed here/);
  } finally {
    await withAdapter.close();
  }
});
