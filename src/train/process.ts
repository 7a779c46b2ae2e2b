import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * The trainer's process tree. `llamafactory-cli train` on several GPUs is a Python launcher that runs torchrun,
 * which starts one worker per GPU; killing the launcher alone leaves the workers holding the GPUs (torchrun only
 * forwards a signal it receives). A terminal's Ctrl-C reaches the whole foreground process group; we start the
 * trainer in a group of its own (so a Ctrl-C meant for us is not also delivered to it behind our back) and
 * signal that group ourselves, then make sure nothing of it is left.
 */

/** The executable `name` resolves to on PATH, as a shell would find it; undefined when there is none. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  if (isAbsolute(name)) return isExecutable(name) ? name : undefined;
  for (const d of path.split(delimiter)) {
    if (!d) continue;
    const p = join(d, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Start `command` as the leader of a new process group (its pgid is its pid; Node's `detached` makes it a session
 * leader, so a hangup of our terminal does not reach it either), stdout and stderr to the file descriptor `stdio`.
 */
export function spawnGroup(command: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; stdio: number }): ChildProcess {
  return spawn(command, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', o.stdio, o.stdio] });
}

/**
 * Whether any live (not zombie) process is still in group `pgid`. kill(-pgid, 0) also counts zombies, and a
 * worker orphaned by its launcher stays a zombie for good where PID 1 does not reap (containers), so on Linux
 * /proc is read instead.
 */
export function groupAlive(pgid: number): boolean {
  if (process.platform !== 'linux') {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, sig: NodeJS.Signals) {
  try {
    process.kill(-pgid, sig);
  } catch {
    // the group is gone already
  }
}

/**
 * Stop a process group: `sig` to every member (what Ctrl-C in a terminal does: Python raises KeyboardInterrupt in
 * each, torch and DeepSpeed shut down), then SIGKILL to whatever is left after `graceMs` — a worker stuck in a
 * NCCL collective never returns to Python to see the signal. Resolves once no member is alive.
 */
export async function stopGroup(pgid: number, sig: NodeJS.Signals, graceMs: number, o: { now?: () => boolean } = {}): Promise<void> {
  signalGroup(pgid, sig);
  const end = Date.now() + graceMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= end || o.now?.()) {
      signalGroup(pgid, 'SIGKILL');
      // SIGKILL cannot be ignored; wait for the kernel to take them down.
      for (let i = 0; i < 100 && groupAlive(pgid); i++) await sleep(50);
      return;
    }
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
