import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp';

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The sequences of one context, handed out one request at a time. A request gets the free sequence whose
 * cached tokens share the longest prefix with its prompt (as llama-server picks slots), so a chat's next
 * turn only evaluates the new tokens.
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
    // Longest cached prefix first; on a tie the lowest sequence id, which keeps the busy ids contiguous
    // (each gap in the ids of a batch costs llama.cpp an extra forward pass).
    let best = 0;
    let bestLen = -1;
    this.free.forEach((s, i) => {
      const len = commonPrefix(s.contextTokens, prompt);
      if (len > bestLen || (len === bestLen && this.id(s) < this.id(this.free[best]))) { best = i; bestLen = len; }
    });
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
}
