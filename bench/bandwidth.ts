/**
 * Memory read bandwidth, for the decode roofline: single-stream decode reads every weight once per token, so
 * bytes of weights per token ÷ read bandwidth is the fastest a token can come. Measured the way the roofline
 * needs it, with `threads` threads reading at once (as llama.cpp's do): each a worker thread running glibc's
 * memchr (vectorised; it reads at the memory's pace) over a buffer of its own, far larger than the caches,
 * for a byte that is not there. koffi calls memchr directly; no compiler, no native code of ours.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const memchr = koffi.load('libc.so.6').func('void *memchr(const void *s, int c, size_t n)');
// Written, not just allocated: zero-filled pages that were never written all map the kernel's one zero page.
const buf = Buffer.allocUnsafeSlow(workerData.bytes).fill(7);
parentPort.on('message', (passes) => {
  const t = performance.now();
  for (let i = 0; i < passes; i++) if (memchr(buf, 1, buf.length) !== null) throw new Error('found');
  parentPort.postMessage(performance.now() - t);
});
parentPort.postMessage('ready');
`;

/** GB/s (10^9 bytes) read by `threads` threads together, the best of `rounds`. */
export async function readBandwidth(threads: number, { bytesPerThread = 512 << 20, passes = 4, rounds = 3 } = {}): Promise<number> {
  const { createRequire } = await import('node:module');
  const koffi = createRequire(import.meta.url).resolve('koffi');
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { koffi, bytes: bytesPerThread } }));
  const next = (w: Worker) => new Promise<unknown>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  try {
    await Promise.all(workers.map(next));
    let best = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const done = workers.map(next);
      for (const w of workers) w.postMessage(passes);
      await Promise.all(done);
      const s = (performance.now() - t0) / 1000;
      best = Math.max(best, (threads * bytesPerThread * passes) / s / 1e9);
    }
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
