import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission } from '../../src/server/admission.js';

/** Admission on its own: who decodes, who waits, and what a waiter that leaves hands on. */

test('a waiter that leaves the head of the queue lets the one behind it in, when it fits', async () => {
  const a = new Admission(4, 8);
  const releaseFirst = await a.acquire(2);
  // Four sequences do not fit beside the running two; one would, but waits behind the four (first come, first served).
  const big = new AbortController();
  const bigWait = a.acquire(4, big.signal);
  let smallIn = false;
  const smallWait = a.acquire(1).then((release) => { smallIn = true; return release; });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([smallIn, a.active, a.waiting], [false, 2, 2]);
  // The big request's client goes away: the small one fits now, and must not wait for the first to finish.
  big.abort();
  await assert.rejects(bigWait, { name: 'AbortError' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([smallIn, a.active, a.waiting], [true, 3, 0]);
  (await smallWait)();
  releaseFirst();
  assert.deepEqual([a.active, a.waiting], [0, 0]);
});
