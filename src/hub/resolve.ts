import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { LoraAdapter } from '../engine/types.js';
import { UserError } from '../errors.js';
import { type CatalogModel, DEFAULT_MODEL_NAME, findModel } from './catalog.js';
import type { HubId } from './hubs.js';
import { findStored, ggufFromPath, type ModelRef, NeedsConversionError, parseModelRef } from './modelRef.js';
import { remakeHint } from './created.js';
import { type CreatedInfo, matchLocal } from './store.js';

/** A model ready to load, and what is known of it. */
export interface ResolvedModel {
  path: string;
  /** The catalog entry, when the model is one (its template and stop token are known to be right). */
  catalog?: CatalogModel;
  /** The name to serve it under: what the user typed, or the file name. */
  name: string;
  /** A model made by `create`: its recorded template (a name, or Jinja source) and system prompt. */
  template?: string;
  templateSource?: string;
  system?: string;
  created?: CreatedInfo;
  /** The store repo it is in. */
  repo?: string;
  /** Adapters loaded with it (a catalog LoRA: the adapter over its base). */
  lora?: LoraAdapter[];
}

/** A hub model that is not in the store: the message says the exact command that fetches it. */
export class NotDownloadedError extends UserError {
  constructor(readonly ref: Extract<ModelRef, { kind: 'hub' }>, source?: HubId) {
    super(`${ref.raw} is not downloaded; run: llama3-zh pull ${ref.raw}${source ? ` --source ${source}` : ''}  (or add --yes to fetch it now)`);
  }
}

/** A path, or a model in the store; never downloads. */
export function resolveLocal(arg: string, source?: HubId): ResolvedModel {
  const ref = parseModelRef(arg);
  if (ref.kind === 'path') {
    const path = ggufFromPath(ref.path);
    return { path, name: basename(path).replace(/\.gguf$/i, ''), catalog: undefined };
  }
  const stored = findStored(ref);
  if (!stored) {
    // A model made here whose file is gone: there is nothing to pull.
    const made = ref.repo ? matchLocal(ref.repo, ref.spec).find((m) => m.entry?.created && !m.entry.created.auto) : undefined;
    if (made) throw new UserError(`${arg}: its file ${made.path} is gone; ${remakeHint(made)}`);
    throw new NotDownloadedError(ref, source);
  }
  const catalog = ref.catalog ?? (stored.entry?.catalogName ? findModel(stored.entry.catalogName) : undefined);
  if (stored.format !== 'gguf') throw new NeedsConversionError(dirname(stored.path), arg, stored.repo, catalog);
  const c = stored.entry?.created;
  if (c?.base) {
    if (!existsSync(c.base)) throw new UserError(`${arg} is a LoRA adapter for ${c.base}, which is gone; run llama3-zh rm ${arg} and chat -m ${arg} --yes again to fetch its base`);
    return { path: c.base, lora: [{ path: stored.path, scale: 1 }], catalog, name: arg, created: c, repo: stored.repo };
  }
  return { path: stored.path, catalog, name: arg, template: c?.template, templateSource: c?.templateSource, system: c?.system, created: c, repo: stored.repo };
}

/** The default model, if it has been pulled. */
export function defaultStored(): ResolvedModel | undefined {
  try {
    return resolveLocal(DEFAULT_MODEL_NAME);
  } catch (e) {
    if (e instanceof NotDownloadedError) return undefined;
    throw e;
  }
}
