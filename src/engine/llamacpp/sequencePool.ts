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
export class SequencePool {
  private free: LlamaContextSequence[];
  private waiting: Array<() => void> = [];
  /** A fresh context hands out sequence ids 0, 1, 2… in order, so the creation index is the id. */
  private ids = new Map<LlamaContextSequence, number>();

  constructor(context: LlamaContext, count: number) {
    this.free = Array.from({ length: count }, (_, i) => {
      const s = context.getSequence();
      this.ids.set(s, i);
      return s;
    });
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

  /** Forget the whole cache, so the next prompt is evaluated from its first token. */
  static async clear(seq: LlamaContextSequence): Promise<0> {
    if (seq.nextTokenIndex > 0) await seq.eraseContextTokenRanges([{ start: 0, end: seq.nextTokenIndex }]);
    return 0;
  }
}
