import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ollama } from 'ollama';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import type { RunningServer } from '../../src/server/start.js';
import { assertClose, reference, type Reference, SENTENCES, unit } from '../helpers/embeddings.js';
import { testModel } from '../helpers/models.js';
import { postJson, testServer } from '../helpers/server.js';

// A hostile review of the embedding APIs: what ollama's own EmbedHandler (server/routes.go) does, and what must not
// end or wedge the server.
let srv: RunningServer;
let ref: Reference;
let ollama: Ollama;

before(async () => {
  const path = await testModel();
  srv = await testServer({ model: path, name: 'random', parallel: 2, ctx: 256, embeddingCtx: 48 });
  ref = await reference(path, 'mean');
  ollama = new Ollama({ host: srv.url });
});
after(async () => {
  await srv.close();
  await ref.close();
});

test('/api/embed: an empty string inside a list is embedded as ollama does (its BOS alone), not a 400 for the whole batch', async () => {
  // ollama's EmbedHandler appends every string of the list, empty ones too, and its runner embeds the BOS it adds.
  const r = await ollama.embed({ model: 'random', input: [SENTENCES[0], '', SENTENCES[1]] });
  assert.equal(r.embeddings.length, 3);
  assertClose(r.embeddings[0], unit(await ref.embed(SENTENCES[0])), 'input 0');
  assertClose(r.embeddings[1], unit(await ref.embed([TOKEN.BOS])), 'the empty string: its BOS');
  assertClose(r.embeddings[2], unit(await ref.embed(SENTENCES[1])), 'input 2');
  assert.equal(r.prompt_eval_count, ref.tokens(SENTENCES[0]).length + 1 + ref.tokens(SENTENCES[1]).length);
  // A lone empty string is still ollama's load request.
  assert.deepEqual((await postJson(`${srv.url}/api/embed`, { model: 'random', input: '' })).json, { model: 'random', embeddings: [] });
});
