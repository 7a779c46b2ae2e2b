import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OpenAIEmbeddings } from '@langchain/openai';
import type { RunningServer } from '../../src/server/start.js';
import { assertClose, reference, type Reference, SENTENCES, unit } from '../helpers/embeddings.js';
import { testModel } from '../helpers/models.js';
import { testServer } from '../helpers/server.js';

let srv: RunningServer;
let ref: Reference;

before(async () => {
  const path = await testModel();
  srv = await testServer({ model: path, name: 'random', parallel: 2, ctx: 256 });
  ref = await reference(path, 'mean');
});
after(async () => {
  await srv.close();
  await ref.close();
});

test('LangChain\'s OpenAIEmbeddings, unchanged but for its base URL and model: documents in batches, and a query', async () => {
  // batchSize 2: five documents go as three requests at once, and come back in order.
  const lc = new OpenAIEmbeddings({ model: 'random', apiKey: 'unused', batchSize: 2, configuration: { baseURL: `${srv.url}/v1` } });
  const docs = await lc.embedDocuments(SENTENCES);
  assert.equal(docs.length, SENTENCES.length);
  for (const [i, s] of SENTENCES.entries()) assertClose(docs[i], unit(await ref.embed(s)), `document ${i}`);
  // LangChain replaces newlines with spaces before it sends a text (stripNewLines).
  const q = await lc.embedQuery('北京\n是中国的首都');
  assertClose(q, unit(await ref.embed('北京 是中国的首都')), 'query');
});

test('LangChain\'s default model name is not this server\'s: the error names the model to use', async () => {
  const lc = new OpenAIEmbeddings({ apiKey: 'unused', configuration: { baseURL: `${srv.url}/v1` } });
  await assert.rejects(lc.embedQuery('你好'), /the model "text-embedding-ada-002" does not exist; this server embeds with "random"/);
});
