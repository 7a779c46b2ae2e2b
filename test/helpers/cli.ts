import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './models.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh, empty llama3-zh home, so tests never see a user's models. */
const homes: string[] = [];
process.on('exit', () => { for (const h of homes) rmSync(h, { recursive: true, force: true }); });

export function emptyHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'llama3-zh-home-'));
  homes.push(h);
  return h;
}

/** The environment without a developer's hub tokens, mirrors, proxies or store: tests must not send a real token anywhere. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_ENDPOINT', 'MODELSCOPE_API_TOKEN', 'MODELSCOPE_DOMAIN', 'LLAMA3ZH_MODELS',
    'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']) delete env[k];
  return env;
}

/** Run the real executable, as a user would. */
export function runCli(args: string[], o: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'llama3-zh.js'), ...args], {
      cwd: o.cwd,
      env: { ...cleanEnv(), LLAMA3ZH_HOME: o.env?.LLAMA3ZH_HOME ?? emptyHome(), ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

/** What every bad-input error must look like: one line, no stack trace. */
export function assertOneLineError(r: CliResult, pattern: RegExp) {
  const lines = r.stderr.trim().split('\n');
  if (r.code === 0) throw new Error(`expected a non-zero exit, got 0; stderr: ${r.stderr}`);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${r.stderr}`);
  if (/\n\s+at /.test(r.stderr) || /node:internal/.test(r.stderr)) throw new Error(`stack trace on stderr:\n${r.stderr}`);
  if (!pattern.test(lines[0])) throw new Error(`stderr ${JSON.stringify(lines[0])} does not match ${pattern}`);
}

/** A command that showed progress first and then failed: the last line is the one error, no stack trace. */
export function assertFinalError(r: CliResult, pattern: RegExp) {
  const lines = r.stderr.trim().split('\n');
  if (r.code === 0) throw new Error(`expected a non-zero exit, got 0; stderr: ${r.stderr}`);
  if (/\n\s+at /.test(r.stderr) || /node:internal/.test(r.stderr)) throw new Error(`stack trace on stderr:\n${r.stderr}`);
  const last = lines[lines.length - 1];
  if (!pattern.test(last)) throw new Error(`last stderr line ${JSON.stringify(last)} does not match ${pattern}`);
  if (lines.slice(0, -1).some((l) => /^llama3-zh /.test(l))) throw new Error(`more than one error line:\n${r.stderr}`);
}
