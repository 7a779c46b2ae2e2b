import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after } from 'node:test';
import { cleanEnv, emptyHome } from './cli.js';
import { ROOT } from './models.js';

/** Servers a failed test left running: killed at the end, or the test file never exits (their pipes hold it). */
const children = new Set<ReturnType<typeof spawn>>();
after(() => { for (const c of children) c.kill('SIGKILL'); });

export interface ServeProcess {
  child: ReturnType<typeof spawn>;
  /** Once it says where it serves. */
  url: Promise<string>;
  exited: Promise<number | null>;
  stderr(): string;
}

/** `llama3-zh serve ARGS` started as a user would, as its own process (so a test can kill it). */
export function serveProcess(args: string[], env: Record<string, string> = {}): ServeProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), 'serve', ...args], {
    env: { ...cleanEnv(), LLAMA3ZH_HOME: emptyHome(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('close', (code) => { children.delete(child); r(code); }));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      const m = / on (http:\/\/[\d.]+:\d+) /.exec(stderr);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  // A test that expects the exit never asks for the URL: its rejection is not an error then.
  url.catch(() => {});
  return { child, url, exited, stderr: () => stderr };
}

/** A llama3-zh backend: the scripted model as "scripted", one thread, a small context; `port` 0 for any. */
export function backendProcess(model: string, port = 0, extra: string[] = []): ServeProcess {
  return serveProcess([model, '--port', String(port), '-t', '1', '-c', '512', '--served-model-name', 'scripted', '--parallel', '4', '--quiet', ...extra]);
}

/** Wait until `check` holds, polling; fails with `what` after `ms`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One counter's value in a Prometheus text page (0 when absent). */
export function metric(page: string, name: string): number {
  const line = page.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}
