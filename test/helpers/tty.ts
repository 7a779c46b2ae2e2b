import { spawn } from '@lydell/node-pty';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Drive a command in a real pseudo-terminal, as a person at a keyboard would. Each step is [seconds to wait, keys
 * to type] or [text to wait for (60 s at most, looked for only in what came after the previous wait), keys to
 * type]. Resolves with everything the terminal showed and then `\nEXIT <code>\n`. `@lydell/node-pty` ships prebuilt
 * binaries on npm, so this needs neither Python nor a compiler.
 */
export function inTerminal(steps: [number | string, string][], cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    const term = spawn(cmd, args, { name: 'xterm', cols: 120, rows: 40, env: env as Record<string, string> });
    let out = '';
    let seenFrom = 0;
    let exited = false;
    let wake: (() => void) | undefined;
    term.onData((d) => { out += d; wake?.(); });
    // The last output can arrive after the exit event; wait a moment for it, as a terminal would still show it.
    const done = new Promise<number>((r) => term.onExit((e) => { exited = true; wake?.(); setTimeout(() => r(e.signal ? 128 + e.signal : e.exitCode), 200); }));
    const changed = (ms: number) => new Promise<void>((r) => { const t = setTimeout(r, ms); wake = () => { clearTimeout(t); r(); }; });
    const waitFor = async (marker: string) => {
      const end = Date.now() + 60_000;
      while (!out.slice(seenFrom).includes(marker) && !exited && Date.now() < end) await changed(100);
      seenFrom = out.length;
    };
    void (async () => {
      for (const [wait, keys] of steps) {
        if (typeof wait === 'string') await waitFor(wait);
        else await new Promise((r) => setTimeout(r, wait * 1000));
        if (exited) break;
        term.write(keys);
      }
      // The 30 s limit is cleared once the command exits: a pending timer kept the test file's process alive 30 s more.
      const limit = new AbortController();
      const code = await Promise.race([done, sleep(30_000, undefined, { signal: limit.signal }).catch(() => undefined)]);
      limit.abort();
      if (code === undefined) term.kill();
      resolve(`${out}\nEXIT ${code ?? await done}\n`);
    })();
  });
}
