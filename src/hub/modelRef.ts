import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { CATALOG, type CatalogModel, findModel } from './catalog.js';
import { checkRepoId, type HubId } from './hubs.js';
import { createdRepo, findCreated } from './created.js';
import { findLocal, type LocalModel } from './store.js';
import { closest, editDistance } from '../util/similar.js';

/**
 * What a user may name a model by: a path, a catalog name (llama3.1-8b-dpo-zh), or a repo id
 * (owner/name), each hub name with an optional :QUANT or :FILE (also owner/name/FILE).
 */
export type ModelRef =
  | { kind: 'path'; raw: string; path: string }
  | { kind: 'hub'; raw: string; repo?: string; catalog?: CatalogModel; spec?: string };

/** A name that is meant as a file or folder path (./x, /x, ~/x, x.gguf, config.json), not a model name. */
export function looksLikePath(arg: string): boolean {
  return /^(\.{0,2}\/|~)/.test(arg) || /\.(gguf|json)$/i.test(arg);
}

export function parseModelRef(raw: string): ModelRef {
  // A name made with `create` beats a file or folder of that name in the working directory: `create my-sft --from
  // my-sft` is the natural (and convert-first's suggested) command, and chat -m my-sft / rm my-sft must then mean the
  // model, not the folder it came from (which would be converted again, or refused by rm as a path).
  const bare = raw.split(':')[0];
  if (!raw.includes('/') && !raw.includes('\\') && !raw.endsWith(':') && !looksLikePath(bare) && findCreated(bare)) {
    const colon = raw.indexOf(':');
    return { kind: 'hub', raw, repo: createdRepo(bare), spec: colon >= 0 ? raw.slice(colon + 1) : undefined };
  }
  if (existsSync(raw)) return { kind: 'path', raw, path: raw };
  if (/^[A-Za-z]:[\\/]/.test(raw) || raw.includes('\\')) {
    throw new UserError(`model not found: ${raw}; give a path to a .gguf file, a model name from 'llama3-zh models', or owner/name`);
  }
  const colon = raw.indexOf(':');
  let base = colon >= 0 ? raw.slice(0, colon) : raw;
  let spec = colon >= 0 ? raw.slice(colon + 1) : undefined;
  if (spec === '') throw new UserError(`"${raw}" ends with ':'; give a quant (e.g. :Q4_K_M) or a file after it`, 2);
  if (/^(\.{0,2}\/|~)/.test(base) || /\.gguf$/i.test(base) && !base.includes('/')) {
    throw new UserError(`model not found: ${raw}; give a path to a .gguf file, a model name from 'llama3-zh models', or owner/name`);
  }
  const parts = base.split('/');
  if (parts.length > 2) {
    if (spec !== undefined) throw new UserError(`"${raw}": give a file as owner/name:FILE or owner/name/FILE, not both`, 2);
    spec = parts.slice(2).join('/');
    base = parts.slice(0, 2).join('/');
  }
  if (parts.length === 1) {
    const catalog = findModel(base);
    // A model made with `create NAME` (kept as local/NAME): create refuses catalog names, so the two never clash.
    if (!catalog && findCreated(base)) return { kind: 'hub', raw, repo: createdRepo(base), spec };
    if (!catalog) throw new UserError(`unknown model "${base}"${suggest(base)}; 'llama3-zh models' lists the catalog, or give owner/name or a path`);
    return { kind: 'hub', raw, catalog, spec };
  }
  const repo = checkRepoId(base);
  return { kind: 'hub', raw, repo, catalog: findModel(repo), spec };
}

function suggest(name: string): string {
  // Only names that are near: a hint for a typo, not three random models.
  const close = closest(name, CATALOG.map((m) => m.name))
    .filter((c) => c.includes(name.toLowerCase()) || editDistance(name.toLowerCase(), c) <= Math.max(3, name.length / 3));
  return close.length ? ` (did you mean ${close.join(', ')}?)` : '';
}

/** The repos a hub ref may live in, in the order to try: GGUF repos first unless safetensors are asked for. */
export function reposOf(ref: Extract<ModelRef, { kind: 'hub' }>, hub?: HubId, format?: 'gguf' | 'safetensors'): { hub: HubId; repo: string }[] {
  if (ref.repo) return [{ hub: hub ?? 'huggingface', repo: ref.repo }];
  const c = ref.catalog!;
  const out: { hub: HubId; repo: string }[] = [];
  const hubs: HubId[] = hub ? [hub] : ['huggingface', 'modelscope'];
  for (const h of hubs) {
    const gguf = c.gguf?.[h]?.repo;
    const weights = c.sources[h];
    if (format !== 'safetensors' && gguf) out.push({ hub: h, repo: gguf });
    if (weights && weights !== gguf) out.push({ hub: h, repo: weights });
    if (format === 'safetensors' && gguf && gguf === weights) out.push({ hub: h, repo: gguf });
  }
  return out.filter((x, i) => out.findIndex((y) => y.hub === x.hub && y.repo === x.repo) === i);
}

/** The stored model a hub ref names, if it was pulled. */
export function findStored(ref: Extract<ModelRef, { kind: 'hub' }>): LocalModel | undefined {
  for (const { repo } of reposOf(ref)) {
    const m = findLocal(repo, ref.spec);
    if (m) return m;
  }
  return undefined;
}

/** A path the engine can load, from a file or a folder holding one GGUF. */
export function ggufFromPath(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const ggufs = readdirSync(path).filter((f) => f.toLowerCase().endsWith('.gguf') && !/mmproj/i.test(f));
  if (ggufs.length === 1) return join(path, ggufs[0]);
  if (ggufs.length > 1) throw new UserError(`${path} has ${ggufs.length} GGUF files (${ggufs.join(', ')}); name one`);
  if (existsSync(join(path, 'config.json'))) throw new NeedsConversionError(path, path);
  if (existsSync(join(path, 'adapter_config.json'))) {
    throw new UserError(`${path} is a PEFT LoRA adapter, not a model; merge it into its base with llama3-zh create NAME --from BASE --adapter ${path}, or make a GGUF adapter for --lora with llama3-zh convert ${path} --base BASE --out adapter.gguf`);
  }
  throw new UserError(`${path} is a folder with no .gguf file in it`);
}

/**
 * A Hugging Face (safetensors) model folder where a GGUF is needed: llama.cpp runs GGUF, so it is converted first
 * (cli/convertFirst.ts asks, or takes --yes). `asked` is what the user called it: the path, or a store name.
 */
export class NeedsConversionError extends UserError {
  constructor(readonly dir: string, readonly asked: string, readonly repo?: string, readonly catalog?: CatalogModel) {
    super(`${asked} is a Hugging Face (safetensors) model folder; llama.cpp runs GGUF files: convert it with llama3-zh create NAME --from ${asked} (or add --yes to convert it now)`);
  }
}
