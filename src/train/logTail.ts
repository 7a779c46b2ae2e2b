import { closeSync, openSync, readSync, statSync } from 'node:fs';

/**
 * The lines worth showing when a run fails: the exception lines of its Python traceback (the last line of a
 * traceback names the error — `torch.OutOfMemoryError: CUDA out of memory…`). torchrun prefixes each worker's
 * output with "[rankN]: " and ends with its own ChildFailedError, so prefixes are dropped, repeats (one per rank)
 * collapsed, and the last few distinct errors kept. A worker that dies in C++ leaves no Python traceback: a NCCL
 * watchdog timeout is "terminate called after throwing an instance of 'c10::DistBackendError'" then "  what():
 * …" (shown as one error), and torchrun's ChildFailedError block names the signal ("traceback : Signal 6
 * (SIGABRT) received by PID …"; Signal 9 is the kernel's OOM killer). A log without any of these gives its
 * last lines.
 */
export function errorLines(text: string, max = 3): string[] {
  const lines = text.split('\n').map((l) => l.slice(l.lastIndexOf('\r') + 1).replace(/^\[(?:default)?rank\d+\]:\s?/, '').trimEnd());
  const errors: string[] = [];
  const add = (l: string) => {
    const at = errors.indexOf(l);
    if (at >= 0) errors.splice(at, 1);
    errors.push(l);
  };
  let thrown: string | undefined;
  for (const l of lines) {
    const cpp = /^terminate called after throwing an instance of '([^']+)'$/.exec(l);
    if (cpp) {
      thrown = cpp[1];
      continue;
    }
    const what = /^\s*what\(\):\s+(.*)$/.exec(l);
    if (what) {
      add(thrown ? `${thrown}: ${what[1]}` : what[1]);
      thrown = undefined;
      continue;
    }
    const signal = /^\s*traceback\s*: (Signal \d+ \(\w+\) received by PID \d+)$/.exec(l);
    if (signal) add(signal[1]);
    else if (/^[A-Za-z_][\w.]*(Error|Exception|Interrupt)(: .*)?$/.test(l)) add(l);
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
