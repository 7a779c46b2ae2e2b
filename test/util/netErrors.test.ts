import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkReason } from '../../src/chat/openaiHttp.js';
import { networkWords, NOT_CONNECTED } from '../../src/util/netErrors.js';

/** fetch's failure as undici throws it: a TypeError whose cause is the system's error. */
const fetchFailed = (code: string, message = `connect ${code} 10.0.0.1:80`) => Object.assign(new TypeError('fetch failed'), { cause: { code, message } });

test('each network error code in words; the chat client adds what to check when nothing listens', () => {
  const expected: Record<string, string> = {
    ECONNREFUSED: 'connection refused; is the server running?',
    ECONNRESET: 'the connection was reset',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name could not be looked up',
    EHOSTUNREACH: 'the host is unreachable',
    ENETUNREACH: 'the network is unreachable',
    EPIPE: 'the connection was closed',
    ETIMEDOUT: 'the connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  };
  for (const [code, words] of Object.entries(expected)) assert.equal(networkReason(fetchFailed(code)), words, code);
  assert.equal(networkWords('ECONNREFUSED'), 'connection refused');
  // A code without words keeps the system's own message, address and all.
  assert.equal(networkReason(fetchFailed('EPROTO', 'write EPROTO 10.0.0.1:443')), 'write EPROTO 10.0.0.1:443');
  assert.equal(networkReason(new Error('plain')), 'plain');
  assert.equal(networkWords(undefined), undefined);
  assert.deepEqual(NOT_CONNECTED, ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
});
