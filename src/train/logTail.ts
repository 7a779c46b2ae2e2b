import { closeSync, openSync, readSync, statSync } from 'node:fs';

/**
 * The lines worth showing when a run fails: the exception lines of its Python traceback (the last line of a
 * traceback names the error — `torch.OutOfMemoryError: CUDA out of memory…`). torchrun prefixes each worker's
 * output with "[rankN]: " and ends with its own ChildFailedError, so prefixes are dropped, repeats (one per rank)
 * collapsed, and the last few distinct errors kept. A log without a traceback gives its last lines.
 */
export function errorLines(text: string, max = 3): string[] {
  const lines = text.split('\n').map((l) => l.slice(l.lastIndexOf('\r') + 1).replace(/^\[(?:default)?rank\d+\]:\s?/, '').trimEnd());
  const errors: string[] = [];
  for (const l of lines) {
    if (!/^[A-Za-z_][\w.]*(Error|Exception|Interrupt)(: .*)?$/.test(l)) continue;
    const at = errors.indexOf(l);
    if (at >= 0) errors.splice(at, 1);
    errors.push(l);
  }
  if (errors.length) return errors.slice(-max);
  return lines.filter((l) => l.trim()).slice(-5);
}

/** The text of `path` from byte `from` (where this start's output began), at most its last `max` bytes. */
export function readFrom(path: string, from: number, max = 256 * 1024): string {
  return readBytes(path, from, max).toString('utf8');
}

/** The bytes of `path` from byte `from`, at most its last `max`. */
export function readBytes(path: string, from: number, max = 256 * 1024): Buffer {
  const size = statSync(path).size;
  const start = Math.max(from, size - max);
  const buf = Buffer.alloc(Math.max(0, size - start));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  return buf;
}
