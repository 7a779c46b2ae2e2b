import { ApiError } from './http.js';

interface Waiter {
  n: number;
  admit: () => void;
}

/**
 * Who may start decoding on an engine: at most `slots` sequences run at once (they are decoded together), the
 * next `maxQueue` requests wait in order, and any more get 429 at once, so a burst cannot pile up unbounded.
 */
export class Admission {
  private running = 0;
  private queue: Waiter[] = [];

  constructor(readonly slots: number, readonly maxQueue: number) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Wait for `n` sequences; the returned function gives them back. Leaves the queue if `signal` aborts. */
  async acquire(n: number, signal?: AbortSignal): Promise<() => void> {
    if (n > this.slots) throw new ApiError(400, `n is ${n} but the server decodes at most ${this.slots} sequences at once (--parallel)`, 'invalid_request_error', 'n');
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.running -= n;
      this.admitWaiting();
    };
    if (this.queue.length === 0 && this.running + n <= this.slots) {
      this.running += n;
      return release;
    }
    if (this.queue.length >= this.maxQueue) {
      throw new ApiError(429, `the server is busy: ${this.running} requests running and ${this.queue.length} waiting (--max-queue ${this.maxQueue}); retry shortly`,
        'rate_limit_error', null, 'queue_full', { 'retry-after': '1' });
    }
    if (signal?.aborted) throw signal.reason;
    await new Promise<void>((resolve, reject) => {
      const leave = () => {
        const i = this.queue.indexOf(w);
        if (i < 0) return;
        this.queue.splice(i, 1);
        reject(signal!.reason);
        // A big request that leaves the head of the queue may have been all that kept smaller ones behind it out.
        this.admitWaiting();
      };
      // Once admitted, the listener goes: a signal that outlives the wait (a request's) would collect one per wait.
      const w: Waiter = { n, admit: () => { signal?.removeEventListener('abort', leave); resolve(); } };
      this.queue.push(w);
      signal?.addEventListener('abort', leave, { once: true });
    });
    return release;
  }

  private admitWaiting() {
    // First come, first served: a big request at the head is not overtaken by smaller ones behind it.
    while (this.queue.length && this.running + this.queue[0].n <= this.slots) {
      const w = this.queue.shift()!;
      this.running += w.n;
      w.admit();
    }
  }
}
