import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { loadEngine } from '../../src/engine/load.js';
import { SENTENCES } from '../helpers/embeddings.js';
import { testModel } from '../helpers/models.js';

// Review of the embedder: closing an engine while it embeds (a server's shutdown with an embedding in flight).

test('closing the engine while an embedding decodes waits for that decode, then refuses the rest (no crash)', async () => {
  const path = await testModel();
  // Several rounds: disposing the context under a running decode crashed the process (SIGSEGV) often, not always.
  for (let round = 0; round < 6; round++) {
    const engine = await loadEngine({ modelPath: path, threads: 1, contextSize: 256, parallel: 1, embeddingContextSize: 64 });
    await engine.embed(['warm']); // the embedding context exists: the next call decodes at once
    const inputs = Array.from({ length: 40 }, (_, i) => SENTENCES[i % SENTENCES.length]);
    const running = engine.embed(inputs);
    const outcome = running.then(() => 'finished', (e: Error) => e.message);
    await new Promise((r) => setImmediate(r));
    await engine.close();
    assert.match(await outcome, /the model is closed|finished/);
    assert.equal(await outcome === 'finished', false, 'the closed engine stopped embedding');
  }
});

test('--embedding-ctx-size over the model\'s training context is refused at load, not a 500 at every request', async () => {
  const path = await testModel();
  // Each token of it costs vocabulary-sized logits: past the training context the vectors are not the model's either.
  await assert.rejects(loadEngine({ modelPath: path, threads: 1, contextSize: 256, parallel: 1, embeddingContextSize: 8193 }),
    (e: Error) => e instanceof UserError && /^--embedding-ctx-size 8193 is more than the 8192 tokens this model was trained for; give at most 8192$/.test(e.message));
});
