/**
 * Models made in the store (by `create`, or by chat / serve / eval converting a Hugging Face folder first): their
 * names, where they live, and whether the source they were made from is still what it was.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { findModel } from './catalog.js';
import { checkRepoId } from './hubs.js';
import { type LocalModel, listStore } from './store.js';

/**
 * The owner folder of models named without one (`create mymodel`): models/local/mymodel/. A name with an owner
 * (`create me/mymodel`) lives at models/me/mymodel/, as a pulled repo of that id would.
 */
export const LOCAL_OWNER = 'local';

const BARE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** The repo folder a created model's NAME is kept in; a bad NAME is one line saying what a name may be. */
export function createdRepo(name: string): string {
  if (name.includes(':')) throw new UserError(`"${name}": a model name has no ':' (the quant is part of the model, not of its name)`, 2);
  if (!name.includes('/')) {
    // chat -m x.gguf and rm x.gguf read such a name as a file (hub/modelRef.ts looksLikePath): a model no command could name.
    if (/\.(gguf|json)$/i.test(name)) throw new UserError(`"${name}" reads as a file name (it ends in ${name.slice(name.lastIndexOf('.'))}); choose a model name without it`, 2);
    if (!BARE.test(name)) throw new UserError(`"${name}" is not a model name: use letters, digits, '.', '_' and '-' (at most 96), or owner/name`, 2);
    return `${LOCAL_OWNER}/${name}`;
  }
  return checkRepoId(name);
}

/** A name `create` may give: not a catalog model's (chat -m NAME would mean that model). */
export function checkCreateName(name: string): string {
  const repo = createdRepo(name);
  const c = findModel(name);
  if (c) throw new UserError(`"${name}" is the name of the catalog model ${c.name}; choose another name for yours`, 2);
  return repo;
}

/** The created model a bare name means, if there is one in the store (its file may be gone: rm NAME must still work). */
export function findCreated(name: string): LocalModel | undefined {
  const n = name.toLowerCase();
  const named = listStore().filter((m) => m.entry?.created?.name?.toLowerCase() === n);
  return named.find((m) => m.complete) ?? named[0];
}

/** What to tell a user whose created model's file is gone: pull cannot bring it back, create can. */
export function remakeHint(m: LocalModel): string {
  const c = m.entry!.created!;
  const name = c.name ?? m.repo;
  // A path as typed (./sft) means nothing from another folder: the absolute one then (as ls shows it).
  const from = resolve(c.from) === c.source ? c.source : c.from;
  return `make it again (llama3-zh create ${name} --from ${from} --force) or remove it (llama3-zh rm ${name})`;
}

/** The files of a Hugging Face folder (or a PEFT adapter folder) that decide what converting it writes. */
const INPUTS = /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|adapter_config|model\.safetensors\.index)\.json$|^chat_template\.jinja$|\.safetensors$/;

/**
 * What a source is now, in 16 hex digits: the names, sizes and modification times of the files that go into a
 * conversion (of the file itself, for a GGUF). Hashing gigabytes of weights on every chat would cost more than the
 * chat; a changed file changes its size or mtime, which is what make and ollama's blob cache trust too.
 */
export function sourceKey(path: string): string {
  const abs = resolve(path);
  const st = statSync(abs);
  const files = st.isDirectory()
    ? readdirSync(abs).filter((f) => INPUTS.test(f)).sort().map((f) => {
      const s = statSync(`${abs}/${f}`);
      return [f, s.size, Math.round(s.mtimeMs)];
    })
    : [[basename(abs), st.size, Math.round(st.mtimeMs)]];
  return createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
}

/** The cached conversion of `source` to `type` that chat, serve or eval made before, if its source is unchanged. */
export function findConversion(source: string, type: string, adapter?: string): LocalModel | undefined {
  const abs = resolve(source);
  const key = existsSync(abs) ? sourceKey(abs) : undefined;
  const adapterKey = adapter && existsSync(adapter) ? sourceKey(adapter) : undefined;
  return listStore().find((m) => {
    const c = m.entry?.created;
    return m.complete && c?.auto && c.source === abs && c.type === type && c.sourceKey === key
      && (c.adapter ? c.adapter === resolve(adapter ?? '') && c.adapterKey === adapterKey : !adapter);
  });
}

/**
 * Earlier cached conversions of `source` to `type` (its files have changed since), with the same adapter merged or
 * none: replaced by a new one. A catalog LoRA merged into this folder is another model, not an old copy of this one.
 */
export function staleConversions(source: string, type: string, adapter?: string): LocalModel[] {
  const abs = resolve(source);
  const merged = adapter === undefined ? undefined : resolve(adapter);
  return listStore().filter((m) => m.entry?.created?.auto && m.entry.created.source === abs && m.entry.created.type === type
    && m.entry.created.adapter === merged);
}

/**
 * The name a cached conversion of a folder goes by: the folder's name, a hash of its path (two folders both called
 * `model` stay apart), and the type — e.g. my-sft-3f9a1c-q4_k_m.
 */
export function conversionName(source: string, type: string): string {
  const abs = resolve(source);
  const base = basename(abs).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 60).toLowerCase() || 'model';
  const h = createHash('sha256').update(abs).digest('hex').slice(0, 6);
  return `${base}-${h}-${type.toLowerCase()}`;
}
