/**
 * Advances the token iterators of all running requests together, one step at a time, the way llama-server's
 * single scheduler drives its slots: a step starts when every running request has asked for its next token,
 * all `next()` calls are issued in the same tick (so node-llama-cpp packs them into one decode batch), and the
 * next step starts only when all of them are back.
 *
 * Left alone, each request's loop asks for its next token as soon as it has sampled its last one, and
 * node-llama-cpp decodes whatever is queued, in the order sampling finished: batches come partial and out of
 * sequence order, and llama.cpp then runs one full forward pass per run of consecutive ids (see `next`), so a
 * batch of 8 tokens costs 2–4 passes over the weights instead of one.
 */
export class Lockstep {
  private members = 0;
  private queued: Array<{ order: number; step: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  private running = false;
  private scheduled = false;
  /** Duration of the last step: how long a gathering pause may be. */
  private lastStepMs = 0;
  /** The next step starts from an empty engine (nothing was running). */
  private fresh = false;
  /** Work that runs between steps, alone (see `alone`). */
  private solos: Array<{ task: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  /** How long the last solo task took, and the steps since it: a solo waits until the steps have had as long. */
  private lastSoloMs = 0;
  private stepMsSinceSolo = 0;

  /** `now`: the clock that times steps and solo tasks (tests give one of their own). */
  constructor(private now: () => number = () => performance.now()) {}

  /** A request starts taking part; call right before its first `next`. */
  join(): void {
    if (this.members === 0 && !this.running) this.fresh = true;
    this.members++;
  }

  /** A request is done (finished, stopped or failed); it no longer holds the others back. */
  leave(): void {
    this.members--;
    this.dispatch();
  }

  /**
   * Run `step` (an iterator's next()) in the next batch. Steps are issued in ascending `order` (the sequence
   * id): llama.cpp's non-unified KV cache splits a batch into one forward pass per run of consecutive,
   * ascending sequence ids, so an unordered batch costs several passes over the weights instead of one.
   */
  next<T>(order: number, step: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ order, step, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /**
   * Run `task` (another context's decode: an embedding) between steps, with no step running: two decodes at once
   * would share the cores, and llama.cpp's spinning worker threads make that far slower than taking turns (an
   * embedding of 16 tokens: 13 ms alone, 178 ms beside another process's decode on 2 cores). Solo tasks run in
   * order, each when nothing is running or when the steps since the last one have taken as long as it did: while
   * both have work, generation keeps at least half the engine's time. (Strict turns, one solo per step, would
   * make a chat crawl at one token per embedding: 400 tokens/s down to 60 on the tiny model.)
   */
  alone<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.solos.push({ task, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch() {
    if (this.running || this.scheduled) return;
    const stepReady = this.queued.length > 0 && this.queued.length >= this.members;
    // A solo's turn: no request is running, or the steps have had their share since the last solo.
    if (this.solos.length && (this.members === 0 || this.stepMsSinceSolo >= this.lastSoloMs)) {
      this.runSolo();
      return;
    }
    if (!stepReady) return;
    // Requests that arrive together (a burst of HTTP requests, Promise.all) should start in one batch rather
    // than the first one running a whole prompt step alone while the others wait for it. Between steps of a
    // busy engine one event-loop turn is enough; when the engine starts from empty, wait a little longer for
    // the rest of a burst (HTTP requests of a burst arrive over several milliseconds): 5% of a step, at most
    // 20 ms, like vLLM's --scheduler-delay-factor. A lone request loses at most 5% of a step; a burst saves one.
    const pause = this.fresh ? Math.min(20, this.lastStepMs / 20) : 0;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      if (!this.running && this.queued.length >= this.members) this.start();
      else this.dispatch();
    };
    if (pause >= 1) setTimeout(go, pause);
    else setImmediate(go);
  }

  private start() {
    const batch = this.queued.sort((a, b) => a.order - b.order);
    this.queued = [];
    this.running = true;
    this.fresh = false;
    const t0 = this.now();
    // Promise.resolve().then: a step that throws at once still settles, so the scheduler never stays stuck.
    void Promise.allSettled(batch.map((b) => Promise.resolve().then(b.step))).then((results) => {
      this.lastStepMs = this.now() - t0;
      this.stepMsSinceSolo += this.lastStepMs;
      this.running = false;
      // Members queue their next step (or leave) from these continuations; the last one starts the next batch.
      results.forEach((r, i) => (r.status === 'fulfilled' ? batch[i].resolve(r.value) : batch[i].reject(r.reason)));
    });
  }

  private runSolo() {
    const s = this.solos.shift()!;
    this.running = true;
    const t0 = this.now();
    const done = () => {
      this.lastSoloMs = this.now() - t0;
      this.stepMsSinceSolo = 0;
      this.running = false;
      this.dispatch();
    };
    void Promise.resolve().then(s.task).then((v) => { done(); s.resolve(v); }, (e: unknown) => { done(); s.reject(e); });
  }
}
