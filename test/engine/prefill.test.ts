import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NATIVE_TEMPLATES } from '../../src/chat/templates.js';
import { promptTokens } from '../../src/chat/conversation.js';
import { loadEngine } from '../../src/engine/load.js';
import { TOKEN } from '../../src/gguf/llama3Vocab.js';
import { REPLY, testModel } from '../helpers/models.js';

const STOPS = [TOKEN.EOT, TOKEN.END_OF_TEXT, TOKEN.START_HEADER];

test('a long prompt is evaluated in chunks beside a running reply, which keeps getting tokens meanwhile', async () => {
  const e = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 1024, parallel: 2 });
  try {
    const ask = (q: string) => promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: q }]));
    const long = ask('请总结下面的文字。'.repeat(100));
    assert.ok(long.length > 600, String(long.length));
    const events: string[] = [];
    const running = e.generate({ prompt: ask('先开始的对话'), maxTokens: 200, ignoreEndOfGeneration: true, onToken: () => events.push('running') });
    while (!events.length) await new Promise((r) => setTimeout(r, 5));
    events.push('long starts');
    const r = await e.generate({ prompt: long, maxTokens: 100, stopTokens: STOPS, onToken: () => events.push('long') });
    assert.equal(r.text, REPLY);
    assert.equal(r.usage.cachedTokens, 0);
    // One lockstep step per 128 prompt tokens, each with the running reply's next token: without chunks the
    // whole prompt would be one step and the running reply would wait for all of it.
    const between = events.slice(events.indexOf('long starts'), events.indexOf('long')).filter((x) => x === 'running').length;
    assert.ok(between >= Math.floor((long.length - 1) / 128), `${between} tokens of the running reply during a ${long.length}-token prompt`);
    assert.equal((await running).tokens.length, 200);
  } finally {
    await e.close();
  }
});

test('an aborted request stops between prompt chunks', async () => {
  const e = await loadEngine({ modelPath: await testModel({ reply: REPLY }), threads: 1, contextSize: 1024 });
  try {
    const long = promptTokens(e, NATIVE_TEMPLATES.llama3.render([{ role: 'user', content: '很长的问题。'.repeat(120) }]));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1);
    const r = await e.generate({ prompt: long, maxTokens: 10, stopTokens: STOPS, signal: ac.signal });
    assert.equal(r.finishReason, 'abort');
    assert.deepEqual(r.tokens, []);
    // The engine is fine afterwards, and the chunks that went in are a cache the next request reuses.
    const again = await e.generate({ prompt: long, maxTokens: 100, stopTokens: STOPS });
    assert.equal(again.text, REPLY);
    assert.ok(again.usage.cachedTokens > 0 && again.usage.cachedTokens % 128 === 0, String(again.usage.cachedTokens));
  } finally {
    await e.close();
  }
});
