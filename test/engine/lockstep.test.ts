import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lockstep } from '../../src/engine/llamacpp/lockstep.js';

/** Members that each take `steps` steps; records which members each batch carried, in issue order. */
async function simulate(ids: number[], steps: Record<number, number>) {
  const l = new Lockstep();
  const batches: number[][] = [];
  let current: number[] | undefined;
  const step = (id: number) => () => {
    if (!current) { current = []; batches.push(current); queueMicrotask(() => (current = undefined)); }
    current.push(id);
    return new Promise<void>((r) => setTimeout(r, 1));
  };
  await Promise.all(ids.map(async (id) => {
    l.join();
    try {
      for (let i = 0; i < steps[id]; i++) await l.next(id, step(id));
    } finally {
      l.leave();
    }
  }));
  return batches;
}

test('every step carries every running request, in ascending sequence order', async () => {
  const batches = await simulate([3, 0, 2, 1], { 0: 3, 1: 3, 2: 1, 3: 2 });
  assert.deepEqual(batches, [[0, 1, 2, 3], [0, 1, 3], [0, 1]]);
});

test('a request that joins while a step runs is in the next step', async () => {
  const l = new Lockstep();
  const seen: number[][] = [];
  let batch: number[] = [];
  const step = (id: number) => async () => { batch.push(id); await new Promise((r) => setTimeout(r, 5)); };
  const run = async (id: number, n: number, delay: number) => {
    await new Promise((r) => setTimeout(r, delay));
    l.join();
    try { for (let i = 0; i < n; i++) { await l.next(id, step(id)); } } finally { l.leave(); }
  };
  const timer = setInterval(() => { if (batch.length) { seen.push(batch); batch = []; } }, 1);
  await Promise.all([run(1, 4, 0), run(0, 2, 7)]);
  clearInterval(timer);
  if (batch.length) seen.push(batch);
  assert.deepEqual(seen[0], [1]);
  assert.ok(seen.some((b) => b.join() === '0,1'), JSON.stringify(seen));
  assert.equal(seen.flat().length, 6);
});

test('a failing step rejects only its own request', async () => {
  const l = new Lockstep();
  l.join(); l.join();
  const ok = l.next(0, async () => 'fine');
  const bad = l.next(1, async () => { throw new Error('boom'); });
  assert.equal(await ok, 'fine');
  await assert.rejects(bad, /boom/);
});

test('a solo task (an embedding) runs between steps, never beside one, once the steps have had as long as the last solo', async () => {
  // A clock of the test's own: each step takes 1, each solo 3, so the order is exact.
  let clock = 0;
  const l = new Lockstep(() => clock);
  const order: string[] = [];
  let steps = 0, solos = 0;
  const tick = () => new Promise<void>((r) => setTimeout(r, 1));
  const step = async () => {
    assert.equal(solos, 0, 'a step ran beside a solo task');
    if (steps++ === 0) order.push('s');
    clock += 0.5; // two requests in each step
    await tick();
    steps--;
  };
  const solo = (name: string) => async () => {
    assert.equal(steps + solos, 0, `${name} ran beside something`);
    solos++;
    order.push(name);
    clock += 3;
    await tick();
    solos--;
    return name;
  };
  const member = async (id: number) => {
    l.join();
    try { for (let i = 0; i < 8; i++) await l.next(id, step); } finally { l.leave(); }
  };
  const results = await Promise.all([member(0), member(1), l.alone(solo('A')), l.alone(solo('B')), l.alone(solo('C'))]);
  assert.deepEqual(results.slice(2), ['A', 'B', 'C']);
  assert.equal(order.join(' '), 's A s s s B s s s C s');
});

test('solo tasks run at once, one after another, when no request is running', async () => {
  const l = new Lockstep();
  const order: string[] = [];
  const solo = (name: string) => async () => { order.push(`${name}<`); await new Promise((r) => setTimeout(r, 1)); order.push(`>${name}`); };
  await Promise.all([l.alone(solo('a')), l.alone(solo('b'))]);
  assert.deepEqual(order, ['a<', '>a', 'b<', '>b']);
});

test('a solo task that fails rejects only itself; the steps go on', async () => {
  const l = new Lockstep();
  l.join();
  const bad = l.alone(async () => { throw new Error('boom'); });
  const ok = l.next(0, async () => 'fine');
  await assert.rejects(bad, /boom/);
  assert.equal(await ok, 'fine');
  l.leave();
  assert.equal(await l.alone(async () => 'after'), 'after');
});
