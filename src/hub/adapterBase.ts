/**
 * Which base model an adapter belongs to. adapter_config.json's base_model_name_or_path is whatever the
 * trainer was given: a hub repo id ("meta-llama/Meta-Llama-3-8B-Instruct") or, as often, a path on the training
 * machine ("/root/models/llama3-8b"). llama.cpp's converter then asks the Hugging Face hub; we never download:
 * --base wins, then that path if it exists here, then the local store by repo id (directly, or through the
 * catalog entry of that repo or name), else an error with the exact --base to pass.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { ADAPTER_CONFIG, type PeftAdapter } from '../convert/peft.js';
import { findModel, modelRepos } from './catalog.js';
import { listStore, repoDir } from './store.js';

const isModelDir = (d: string) => existsSync(join(d, 'config.json')) && statSync(d).isDirectory();

/** A Hugging Face folder in the store for a repo id or catalog name, if one was pulled. */
function stored(id: string): string | undefined {
  const cat = findModel(id);
  const repos = [id, ...(cat ? modelRepos(cat) : [])];
  for (const repo of repos) {
    if (/^[\w.-]+\/[\w.-]+$/.test(repo)) {
      const d = repoDir(repo);
      if (existsSync(d) && isModelDir(d)) return d;
    }
  }
  const lower = repos.map((r) => r.toLowerCase());
  for (const m of listStore()) {
    if (m.format === 'gguf' || !m.complete || !lower.includes(m.repo.toLowerCase())) continue;
    const d = existsSync(m.path) && statSync(m.path).isDirectory() ? m.path : dirname(m.path);
    if (isModelDir(d)) return d;
  }
  return undefined;
}

/** The base model folder (holding config.json) for an adapter. */
export function resolveAdapterBase(adapter: PeftAdapter, given?: string): string {
  if (given !== undefined) {
    if (existsSync(given)) {
      if (!isModelDir(given)) throw new UserError(`--base ${given}: not a Hugging Face model folder (no config.json in it)`);
      return resolve(given);
    }
    const s = stored(given);
    if (s) return s;
    throw new UserError(`--base ${given}: no such folder, and no model of that name is in the store (pull it first: llama3-zh pull ${given})`);
  }
  const named = adapter.baseModel;
  if (!named) {
    throw new UserError(`${join(adapter.dir, ADAPTER_CONFIG)} does not say which model it adapts (no base_model_name_or_path); pass the base model folder: --base DIR`);
  }
  if (existsSync(named) && isModelDir(named)) return resolve(named);
  const s = stored(named);
  if (s) return s;
  const hint = findModel(named) ? ` or pull it (llama3-zh pull ${named})` : '';
  throw new UserError(`the adapter's base model "${named}" is not here; pass its Hugging Face folder: --base /path/to/${basename(named)}${hint}`);
}
