import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp';

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The sequences of one context, created once (so sequence k has id k) and handed out one request at a time:
 * the lowest free id, or the sequence whose cache already holds most of the prompt (as llama-server picks
 * slots by prompt similarity), so a chat's next turn only evaluates the new tokens.
 */
/** Fewer shared tokens than this are evaluated again: a copy moves a whole KV stream, which costs more than a few tokens. */
const MIN_SHARED = 16;

/** A prompt being evaluated: `done` settles when it is all in the cache (or its request failed), `step` after each chunk. */
type Prefill = { prompt: readonly number[]; done: Promise<void>; step: Promise<void>; stepped: () => void };

export class SequencePool {
  private free: LlamaContextSequence[];
  private all: LlamaContextSequence[];
  /** Prompts being evaluated now, by sequence; settled when the sequence's cache holds them (or its request failed). */
  private prefills = new Map<LlamaContextSequence, Prefill>();
  private waiting: Array<() => void> = [];
  /** A fresh context hands out sequence ids 0, 1, 2… in order, so the creation index is the id. */
  private ids = new Map<LlamaContextSequence, number>();

  constructor(context: LlamaContext, count: number) {
    this.free = Array.from({ length: count }, (_, i) => {
      const s = context.getSequence();
      this.ids.set(s, i);
      return s;
    });
    this.all = [...this.free];
  }

  id(seq: LlamaContextSequence): number {
    return this.ids.get(seq)!;
  }

  async acquire(prompt: readonly number[]): Promise<LlamaContextSequence> {
    while (this.free.length === 0) await new Promise<void>((r) => this.waiting.push(r));
    // The lowest free id keeps the busy ids contiguous: llama.cpp makes one forward pass per run of consecutive
    // ids in a batch, so a gap costs a whole extra pass. A sequence whose cache holds a large part of the
    // prompt (the previous turn of the same chat) is worth that.
    let best = 0;
    let bestLen = -1;
    this.free.forEach((s, i) => {
      const len = commonPrefix(s.contextTokens, prompt);
      if (len > bestLen) { best = i; bestLen = len; }
    });
    if (bestLen < Math.max(16, prompt.length / 2)) {
      best = this.free.reduce((lo, s, i) => (this.id(s) < this.id(this.free[lo]) ? i : lo), 0);
    }
    return this.free.splice(best, 1)[0];
  }

  release(seq: LlamaContextSequence) {
    this.free.push(seq);
    this.waiting.shift()?.();
  }

  /**
   * Drop the cached tokens that differ from `prompt` and return how many prompt tokens are already in the
   * cache. At least one token is always left to evaluate, because its logits give the next token.
   */
  static async reuse(seq: LlamaContextSequence, prompt: readonly number[]): Promise<number> {
    const cached = Math.min(commonPrefix(seq.contextTokens, prompt), prompt.length - 1);
    if (cached < seq.nextTokenIndex) {
      await seq.eraseContextTokenRanges([{ start: cached, end: seq.nextTokenIndex }]);
    }
    return cached;
  }

  /**
   * Start `seq` off with the longest prefix of `prompt` that any other sequence's cache holds (a shared system
   * prompt, a few-shot block, the n choices of one request), copied instead of evaluated. A prompt that another
   * sequence is evaluating right now is waited for rather than evaluated twice (until the shared part is in that
   * sequence's cache: `stepped` tells after each chunk; or until `signal` aborts, which returns at once with
   * nothing registered); `seq`'s own prompt is then
   * registered (before this returns, with no await in between, so of requests that arrive together exactly one
   * evaluates) and `done` must be called once seq's cache holds it, or its request failed. Returns the prompt
   * tokens now cached: at least `cached` (what `reuse` kept of seq's own cache) unless a copy replaced that cache
   * with one that had changed since it was chosen. llama-server's `--cache-reuse`
   * and vLLM's prefix caching do this within one slot; llama.cpp's `llama_memory_seq_cp` copies between sequences
   * (between KV streams when the cache is not unified, as node-llama-cpp's never is).
   */
  async share(seq: LlamaContextSequence, prompt: readonly number[], cached: number, signal?: AbortSignal): Promise<{ cached: number; done: () => void }> {
    const usable = (tokens: readonly number[]) => Math.min(commonPrefix(tokens, prompt), prompt.length - 1);
    let wait: { s: LlamaContextSequence; p: Prefill } | undefined;
    let waitLen = cached + MIN_SHARED - 1;
    for (const [s, p] of this.prefills) {
      const len = usable(p.prompt);
      if (s !== seq && len > waitLen) { wait = { s, p }; waitLen = len; }
    }
    // Wait only until the shared part is in the other sequence's cache (a long prompt shares a short system prompt
    // after its first chunks: waiting for all of it would hold this request back for the whole long prompt), and
    // not past this request's abort.
    if (wait && !signal?.aborted) {
      let onAbort!: () => void;
      const aborted = new Promise<void>((r) => { onAbort = r; signal?.addEventListener('abort', onAbort, { once: true }); });
      try {
        while (this.prefills.get(wait.s) === wait.p && usable(wait.s.contextTokens) < waitLen && !signal?.aborted) {
          await Promise.race([wait.p.done, wait.p.step, aborted]);
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
    if (signal?.aborted) return { cached, done: () => {} };
    let donor: LlamaContextSequence | undefined;
    let best = cached + MIN_SHARED - 1;
    for (const s of this.all) {
      const len = usable(s.contextTokens);
      if (s !== seq && len > best) { donor = s; best = len; }
    }
    if (!donor) return { cached, done: this.register(seq, prompt) };
    const done = this.register(seq, prompt);
    try {
      // node-llama-cpp's copy (internal, pinned with the package): under the context lock, seq takes the donor's
      // tokens and cache as they are then, and drops what follows `best`. The donor may have changed since it was
      // chosen (decodes queued for the lock before ours: another request erased it and evaluated its own prompt),
      // and the copy only compares lengths, so its answer says nothing about the tokens: reuse keeps what of the
      // copied cache matches the prompt and drops the rest.
      const copy = (seq as unknown as { _copyStateFromOtherSequence(o: LlamaContextSequence, upTo: number): Promise<boolean> })._copyStateFromOtherSequence;
      await copy.call(seq, donor, best);
      return { cached: await SequencePool.reuse(seq, prompt), done };
    } catch (e) {
      done();
      throw e;
    }
  }

  private register(seq: LlamaContextSequence, prompt: readonly number[]): () => void {
    let settle!: () => void;
    const entry: Prefill = { prompt, done: new Promise<void>((r) => { settle = r; }), step: Promise.resolve(), stepped: () => {} };
    entry.step = new Promise<void>((r) => { entry.stepped = r; });
    this.prefills.set(seq, entry);
    return () => {
      if (this.prefills.get(seq) === entry) this.prefills.delete(seq);
      settle();
    };
  }

  /** `seq`'s cache took another chunk of its registered prompt: requests waiting for a part of it look again. */
  stepped(seq: LlamaContextSequence) {
    const p = this.prefills.get(seq);
    if (!p) return;
    const wake = p.stepped;
    p.step = new Promise<void>((r) => { p.stepped = r; });
    wake();
  }

  /** Forget the whole cache, so the next prompt is evaluated from its first token. */
  static async clear(seq: LlamaContextSequence): Promise<0> {
    if (seq.nextTokenIndex > 0) await seq.eraseContextTokenRanges([{ start: 0, end: seq.nextTokenIndex }]);
    return 0;
  }
}
