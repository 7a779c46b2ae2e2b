import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/** Where llama3-zh keeps models and caches: $LLAMA3ZH_HOME, else ~/.llama3-zh. */
export function homeDir(): string {
  return process.env.LLAMA3ZH_HOME ? resolve(process.env.LLAMA3ZH_HOME) : join(homedir(), '.llama3-zh');
}

export function modelsDir(): string {
  return join(homeDir(), 'models');
}

export interface ModelRef {
  repo: string;
  file: string;
}

/** The default model: shareAI's Llama-3.1 8B Chinese DPO chat model, Q4_K_M GGUF (4.9 GB). */
export const DEFAULT_MODEL: ModelRef = {
  repo: 'shareAI/llama3.1-8b-instruct-dpo-zh',
  file: 'llama3.1_8b_chinese_chat_q4_k_m-shareAI.gguf',
};

/** Store layout: models/<owner>/<repo>/<file>, the same path as on the hub. */
export function storePath(ref: ModelRef): string {
  return join(modelsDir(), ...ref.repo.split('/'), ref.file);
}

/**
 * A model argument is a path to a .gguf file, or a name in the store: "owner/repo" (its only .gguf)
 * or "owner/repo/file.gguf".
 */
export function resolveModel(arg: string): string {
  if (existsSync(arg)) {
    if (statSync(arg).isDirectory()) throw new UserError(`${arg} is a folder; name the .gguf file inside it`);
    return arg;
  }
  const parts = arg.split('/');
  if (parts.length >= 2 && !arg.startsWith('.') && !arg.startsWith('/')) {
    const direct = join(modelsDir(), ...parts);
    if (existsSync(direct) && statSync(direct).isFile()) return direct;
    if (existsSync(direct) && statSync(direct).isDirectory()) {
      const ggufs = readdirSync(direct).filter((f) => f.endsWith('.gguf'));
      if (ggufs.length === 1) return join(direct, ggufs[0]);
      if (ggufs.length > 1) throw new UserError(`${arg} has ${ggufs.length} GGUF files (${ggufs.join(', ')}); name one as ${arg}/FILE.gguf`);
    }
  }
  throw new UserError(`model not found: ${arg}. Give a path to a .gguf file, or a model in ${modelsDir()} as owner/repo/file.gguf`);
}

export function demoModelPath(): string {
  const dir = join(homeDir(), 'demo');
  mkdirSync(dir, { recursive: true });
  return join(dir, 'llama3-zh-demo.gguf');
}
