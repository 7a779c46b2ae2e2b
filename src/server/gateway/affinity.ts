import { createHash, type Hash } from 'node:crypto';

/**
 * Prefix affinity: the next turn of a conversation should go to the backend that answered the last one, whose KV
 * cache still holds the conversation (vLLM's and SGLang's prefix caches). As vLLM's production-stack router and
 * SGLang's router do, the gateway remembers which backend saw which prompt prefix, by hash.
 *
 * A request's "points" are hashes of its prompt cut where a later request would diverge from it: for a chat, the
 * messages up to each user or tool message (so a shared system prompt alone ties no conversations together, and
 * the whole of the last request is a prefix of the next); for a raw prompt, each 256 characters (few-shot prompts
 * share long heads) and the whole prompt.
 */

const BLOCK_CHARS = 256;
const BLOCK_TOKENS = 64;
/** The longest points are the ones that matter; a very long conversation keeps its last ones. */
const MAX_POINTS = 64;
const MAX_ENTRIES = 65_536;

function digest(h: Hash): string {
  return h.copy().digest('base64url');
}

export function prefixPoints(path: string, body: Record<string, unknown>, model: string): string[] {
  const h = createHash('sha256').update(`${path}\0${model}\0`);
  const points: string[] = [];
  const { messages, prompt } = body;
  if (path.endsWith('/chat/completions') && Array.isArray(messages)) {
    // Tools are rendered into the prompt's head: another tool list is another prefix.
    h.update(JSON.stringify(body.tools ?? null));
    for (const m of messages) {
      h.update(JSON.stringify(m)).update('\0');
      const role = (m as { role?: unknown })?.role;
      if (role === 'user' || role === 'tool') points.push(digest(h));
    }
  } else if (path.endsWith('/completions')) {
    // A list of prompts goes to one backend: its first prompt decides.
    const first = Array.isArray(prompt) && (typeof prompt[0] === 'string' || Array.isArray(prompt[0])) ? prompt[0] : prompt;
    if (typeof first === 'string') {
      for (let i = BLOCK_CHARS; i <= first.length; i += BLOCK_CHARS) points.push(digest(h.update(first.slice(i - BLOCK_CHARS, i))));
      h.update(first.slice(first.length - (first.length % BLOCK_CHARS)));
      if (first.length % BLOCK_CHARS) points.push(digest(h));
    } else if (Array.isArray(first)) {
      for (let i = 0; i < first.length; i += BLOCK_TOKENS) points.push(digest(h.update(JSON.stringify(first.slice(i, i + BLOCK_TOKENS)))));
    }
  }
  return points.slice(-MAX_POINTS);
}

/** Which backend saw each prefix last: a bounded map, least recently used out first. */
export class AffinityTable<B> {
  private map = new Map<string, B>();

  /** The backend of the longest known prefix among `points` that `usable` accepts. */
  lookup(points: string[], usable: (b: B) => boolean): B | undefined {
    for (let i = points.length - 1; i >= 0; i--) {
      const b = this.map.get(points[i]);
      if (b !== undefined && usable(b)) return b;
    }
    return undefined;
  }

  record(points: string[], b: B) {
    for (const p of points) {
      this.map.delete(p);
      this.map.set(p, b);
    }
    while (this.map.size > MAX_ENTRIES) this.map.delete(this.map.keys().next().value!);
  }

  get size(): number {
    return this.map.size;
  }
}
