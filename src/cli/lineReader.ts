import type { Interface } from 'node:readline';

export const CANCELLED = Symbol('cancelled');

/**
 * The lines a person types, for every question the terminal chat asks (the next message, a tool's result), read
 * through one iterator over readline's lines: lines piped in before a question is asked are queued there, where
 * rl.question() would never see them. A read can be cancelled (Ctrl-C at a tool's prompt); the line it was waiting
 * for then goes to the next read.
 */
export class LineReader {
  private lines: AsyncIterator<string>;
  private waiting?: Promise<IteratorResult<string>>;
  private cancel?: () => void;

  constructor(rl: Interface) {
    this.lines = rl[Symbol.asyncIterator]();
  }

  /** The next line (without a trailing \r), undefined at the end of input, CANCELLED when cancelRead ended the wait. */
  async next(): Promise<string | undefined | typeof CANCELLED> {
    this.waiting ??= this.lines.next();
    const cancelled = new Promise<typeof CANCELLED>((resolve) => { this.cancel = () => resolve(CANCELLED); });
    const got = await Promise.race([this.waiting, cancelled]);
    this.cancel = undefined;
    if (got === CANCELLED) return got;
    this.waiting = undefined;
    return got.done ? undefined : got.value.replace(/\r$/, '');
  }

  /** End the read in progress with CANCELLED. */
  cancelRead(): void {
    this.cancel?.();
  }
}

/**
 * The rest of a message that starts with """ (after its first line `first`), read up to the closing """ as the
 * chat's messages are: """text""" on one line is a whole message. '' when it holds nothing.
 */
export async function readQuoted(first: string, read: () => Promise<string | undefined | typeof CANCELLED>, more: () => void): Promise<string | undefined | typeof CANCELLED> {
  const rest = first.slice(3);
  if (rest.trimEnd().endsWith('"""') && rest.trim().length >= 3) return rest.trimEnd().slice(0, -3).trim();
  const parts = rest ? [rest] : [];
  for (;;) {
    more();
    const line = await read();
    if (typeof line !== 'string') return line;
    if (line.trimEnd().endsWith('"""')) {
      parts.push(line.trimEnd().slice(0, -3));
      return parts.join('\n').trim();
    }
    parts.push(line);
  }
}
