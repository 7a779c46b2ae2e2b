/**
 * The local store. Models live as models/<owner>/<name>/<file>, the paths they have on the hub —
 * the layout LM Studio uses, so its models folder can be shared. Each repo folder has a small
 * manifest saying where its files came from and what they hash to.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/files.js';
import type { HubId, RemoteFile } from './hubs.js';
import { pathInside } from './hubPath.js';
import { type PullFormat, quantOf } from './pick.js';

/** Where llama3-zh keeps models and caches: $LLAMA3ZH_HOME, else the user's cache dir. */
export function homeDir(): string {
  if (process.env.LLAMA3ZH_HOME) return resolve(process.env.LLAMA3ZH_HOME);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'llama3-zh');
}

let modelsDirOverride: string | undefined;

/** --models-dir: for this run, the store is there. */
export function useModelsDir(dir: string | undefined) {
  modelsDirOverride = dir ? resolve(dir) : undefined;
}

/** --models-dir, else $LLAMA3ZH_MODELS, else HOME/models. */
export function modelsDir(): string {
  if (modelsDirOverride) return modelsDirOverride;
  if (process.env.LLAMA3ZH_MODELS) return resolve(process.env.LLAMA3ZH_MODELS);
  return join(homeDir(), 'models');
}

export function repoDir(repo: string): string {
  return join(modelsDir(), ...repo.split('/'));
}

export const MANIFEST = '.llama3-zh.json';

/** One pull: a GGUF (with its split parts) or a safetensors folder; or a GGUF `create` (or chat's convert) made. */
export interface StoreEntry {
  format: PullFormat;
  quant?: string;
  /** The file to load, relative to the repo folder. */
  primary: string;
  files: RemoteFile[];
  /** Where a pull came from; absent for a model made here (see `created`). */
  hub?: HubId;
  endpoint?: string;
  revision?: string;
  commit?: string;
  catalogName?: string;
  /** When it was pulled, or made. */
  pulledAt: string;
  /** false while the pull is under way (or was interrupted); absent or true once every file is in. */
  complete?: boolean;
  created?: CreatedInfo;
}

/**
 * A model made in the store by `llama3-zh create` (or by chat, serve and eval converting a Hugging Face folder
 * first): what it was made from, and the template and system prompt it runs with, as an ollama Modelfile's
 * FROM / ADAPTER / TEMPLATE / SYSTEM are kept with an ollama model.
 */
export interface CreatedInfo {
  /** The name it goes by (ls, chat -m, rm); absent for a conversion kept beside the pulled folder it came from. */
  name?: string;
  /** SRC as the user gave it. */
  from: string;
  /** The folder or GGUF file it was made from (absolute). */
  source: string;
  /** What the source's files were when it was made (see hub/created.ts sourceKey): a changed folder is converted again. */
  sourceKey: string;
  adapter?: string;
  adapterKey?: string;
  /** The GGUF type written (BF16, Q4_K_M, …). */
  type: string;
  /** --template NAME */
  template?: string;
  /** --template-file: the Jinja source itself (the file may move or change; the model keeps what was checked). */
  templateSource?: string;
  /** --system: used when a conversation has no system prompt of its own. */
  system?: string;
  /** Made by chat, serve or eval on the way (a cache), not by `create`. */
  auto?: boolean;
  /**
   * A runtime LoRA (this entry's GGUF is a llama.cpp adapter, convert_lora_to_gguf's kind): the base GGUF it is
   * loaded over, absolute. chat -m of the adapter's name loads the base with --lora this file.
   */
  base?: string;
}

export interface Manifest {
  version: 1;
  repo: string;
  entries: StoreEntry[];
}

export function readManifest(repo: string): Manifest | undefined {
  const p = join(repoDir(repo), MANIFEST);
  if (!existsSync(p)) return undefined;
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as Manifest;
    if (m.version === 1 && Array.isArray(m.entries)) return m;
  } catch { /* fall through */ }
  throw new UserError(`${p} is not a llama3-zh manifest; move it away and pull again`);
}

/** Record a pull; an entry with the same primary file is replaced. */
export function recordEntry(repo: string, entry: StoreEntry) {
  const m = readManifest(repo) ?? { version: 1, repo, entries: [] };
  m.entries = [...m.entries.filter((e) => e.primary !== entry.primary), entry];
  mkdirSync(repoDir(repo), { recursive: true });
  writeFileAtomic(join(repoDir(repo), MANIFEST), JSON.stringify(m, null, 2) + '\n');
}

/** Forget a pull that left nothing behind (it failed before a byte was kept), so it is not listed as unfinished. */
export function dropEmptyEntry(repo: string, primary: string) {
  const m = readManifest(repo);
  const e = m?.entries.find((x) => x.primary === primary);
  if (!m || !e || e.complete !== false) return;
  const dir = repoDir(repo);
  if (e.files.some((f) => existsSync(pathInside(dir, f.path)) || existsSync(pathInside(dir, `${f.path}.part`)))) return;
  m.entries = m.entries.filter((x) => x !== e);
  if (m.entries.length) writeFileAtomic(join(dir, MANIFEST), JSON.stringify(m, null, 2) + '\n');
  else rmSync(join(dir, MANIFEST), { force: true });
  pruneEmpty(dir, modelsDir());
}

export interface LocalModel {
  repo: string;
  /** The file to load (absolute). */
  path: string;
  format: PullFormat;
  quant?: string;
  bytes: number;
  /** Every file of the entry is there at its size. */
  complete: boolean;
  entry?: StoreEntry;
  /** Bytes fetched so far by unfinished downloads (*.part) in the repo folder. */
  partialBytes: number;
}

/** Every model in the store: pulled ones from their manifests, and GGUF files put there by hand. */
export function listStore(): LocalModel[] {
  const root = modelsDir();
  if (!existsSync(root)) return [];
  const out: LocalModel[] = [];
  for (const owner of safeDirs(root)) {
    for (const name of safeDirs(join(root, owner))) {
      const repo = `${owner}/${name}`;
      const dir = join(root, owner, name);
      const all = walk(dir);
      const partialBytes = all.filter((f) => f.rel.endsWith('.part')).reduce((a, f) => a + partDone(join(dir, f.rel.slice(0, -'.part'.length))), 0);
      const m = readManifest(repo);
      const claimed = new Set<string>();
      for (const e of m?.entries ?? []) {
        let bytes = 0;
        let complete = true;
        for (const f of e.files) {
          claimed.add(f.path);
          const s = all.find((x) => x.rel === f.path);
          if (s?.bytes === f.size) bytes += s.bytes;
          else { complete = false; bytes += partDone(join(dir, f.path)); }
        }
        out.push({ repo, path: join(dir, e.primary), format: e.format, quant: e.quant, bytes, complete: complete && e.complete !== false, entry: e, partialBytes });
      }
      // Unfinished pulls (a first pull records its manifest only at the end): a GGUF is an entry of its
      // own; a part of a folder makes the folder incomplete.
      let folderComplete = true;
      for (const f of all) {
        if (!f.rel.endsWith('.part')) continue;
        const rel = f.rel.slice(0, -'.part'.length);
        if (claimed.has(rel) || all.some((x) => x.rel === rel)) continue;
        if (!rel.toLowerCase().endsWith('.gguf')) { folderComplete = false; continue; }
        claimed.add(rel);
        out.push({ repo, path: join(dir, rel), format: 'gguf', quant: quantOf(rel), bytes: partDone(join(dir, rel)), complete: false, partialBytes });
      }
      for (const f of all) {
        if (!f.rel.toLowerCase().endsWith('.gguf') || claimed.has(f.rel)) continue;
        // A split GGUF (x-00001-of-00003.gguf) is one model, listed by its first part, whole only with every part.
        const split = SPLIT.exec(f.rel);
        if (split && Number(split[2]) !== 1) continue;
        const parts = split ? splitParts(f.rel, Number(split[3])) : [f.rel];
        const have = parts.map((r) => all.find((x) => x.rel === r));
        out.push({
          repo, path: join(dir, f.rel), format: 'gguf', quant: quantOf(f.rel), bytes: have.reduce((a, x) => a + (x?.bytes ?? 0), 0),
          complete: have.every(Boolean), partialBytes,
        });
      }
      if (!m && !all.some((f) => f.rel.toLowerCase().endsWith('.gguf')) && all.some((f) => f.rel === 'config.json')) {
        const bytes = all.filter((f) => !f.rel.endsWith('.part')).reduce((a, f) => a + f.bytes, 0);
        out.push({ repo, path: join(dir, 'config.json'), format: 'safetensors', bytes, complete: folderComplete, partialBytes });
      }
    }
  }
  return out;
}

const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** All the parts of a split GGUF, from its first part's name. */
function splitParts(first: string, count: number): string[] {
  const m = SPLIT.exec(first)!;
  return Array.from({ length: count }, (_, i) => `${m[1]}-${String(i + 1).padStart(5, '0')}-of-${m[3]}.gguf`);
}

/** Bytes an unfinished download has, from its saved progress. */
function partDone(dest: string): number {
  try {
    return (JSON.parse(readFileSync(`${dest}.part.json`, 'utf8')) as { done: number[] }).done.reduce((a, b) => a + b, 0);
  } catch {
    return 0;
  }
}

/** Unfinished downloads (*.part) in a folder, by the names of the files they will become. */
function walkParts(dir: string): string[] {
  return walk(dir).filter((f) => f.rel.endsWith('.part')).map((f) => f.rel.slice(0, -'.part'.length));
}

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined; // a dangling link
  }
}

function safeDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
}

function walk(dir: string, base = dir): { rel: string; bytes: number }[] {
  const out: { rel: string; bytes: number }[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, d.name);
    if (d.isDirectory()) { out.push(...walk(full, base)); continue; }
    // A file linked in from elsewhere (an LM Studio or Hugging Face cache) counts; linked folders are not followed.
    const st = d.isSymbolicLink() ? statSafe(full) : undefined;
    if ((d.isFile() || st?.isFile()) && d.name !== MANIFEST && !d.name.endsWith('.part.json') && !d.name.endsWith('.lock')) {
      out.push({ rel: relative(base, full).split(sep).join('/'), bytes: (st ?? statSync(full)).size });
    }
  }
  return out;
}

/** The name to give chat, serve and rm for a stored model: owner/name:QUANT, owner/name/FILE, or owner/name for a folder. */
export function storeName(m: LocalModel): string {
  if (m.entry?.created?.name) return m.entry.created.name;
  if (m.format === 'safetensors') return m.repo;
  const rel = relative(repoDir(m.repo), m.path).split(sep).join('/');
  return m.quant ? `${m.repo}:${m.quant}` : `${m.repo}/${rel}`;
}

/** A stored model as --json shows it. */
export function storeJson(m: LocalModel) {
  return {
    name: storeName(m), repo: m.repo, path: m.path, format: m.format, quant: m.quant ?? null, bytes: m.bytes, complete: m.complete,
    partialBytes: m.partialBytes, hub: m.entry?.hub ?? null, revision: m.entry?.revision ?? null, commit: m.entry?.commit ?? null,
    catalogName: m.entry?.catalogName ?? null, pulledAt: m.entry?.pulledAt ?? null,
    ...(m.entry?.created ? { created: m.entry.created } : {}),
  };
}

/** The stored models a repo and spec (a quant or a file) name, finished or not. */
export function matchLocal(repo: string, spec?: string): LocalModel[] {
  const mine = listStore().filter((m) => m.repo.toLowerCase() === repo.toLowerCase());
  if (!spec) return mine;
  const s = spec.toLowerCase();
  return mine.filter((m) => m.quant?.toLowerCase() === s
    || relative(repoDir(m.repo), m.path).split(sep).join('/').toLowerCase() === s
    || m.entry?.files.some((f) => f.path.toLowerCase() === s || f.path.split('/').pop()!.toLowerCase() === s));
}

/** The stored model a repo and spec (quant or file, or nothing) name, if it is there and complete. */
export function findLocal(repo: string, spec?: string): LocalModel | undefined {
  const mine = listStore().filter((m) => m.repo.toLowerCase() === repo.toLowerCase() && m.complete);
  if (spec) {
    const s = spec.toLowerCase();
    return mine.find((m) => m.quant?.toLowerCase() === s)
      ?? mine.find((m) => relative(repoDir(m.repo), m.path).split(sep).join('/').toLowerCase() === s)
      ?? mine.find((m) => m.entry?.files.some((f) => f.path.toLowerCase() === s || f.path.split('/').pop()!.toLowerCase() === s));
  }
  const ggufs = mine.filter((m) => m.format === 'gguf');
  return ggufs.find((m) => m.quant === 'Q4_K_M') ?? (ggufs.length === 1 ? ggufs[0] : undefined) ?? (ggufs.length === 0 ? mine[0] : undefined);
}

/** Delete a stored model's files (not other pulls from the same repo); returns the bytes freed. */
export function removeLocal(model: LocalModel): number {
  const dir = repoDir(model.repo);
  let freed = 0;
  const rel0 = relative(dir, model.path).split(sep).join('/');
  const split = SPLIT.exec(rel0);
  // Without a manifest: a GGUF (all its parts), or a whole model folder — every file in it.
  const files = model.entry ? model.entry.files.map((f) => f.path)
    : model.format === 'safetensors' ? walk(dir).map((f) => f.rel).concat(walkParts(dir))
      : split ? splitParts(rel0, Number(split[3])) : [rel0];
  const others = new Set((readManifest(model.repo)?.entries ?? []).filter((e) => e !== model.entry && e.primary !== model.entry?.primary)
    .flatMap((e) => e.files.map((f) => f.path)));
  for (const rel of files) {
    if (others.has(rel)) continue;
    const p = pathInside(dir, rel);
    for (const q of [p, `${p}.part`, `${p}.part.json`]) {
      if (existsSync(q)) { freed += statSync(q).size; rmSync(q, { force: true }); }
    }
    pruneEmpty(dirname(p), dir);
  }
  const m = readManifest(model.repo);
  if (m && model.entry) {
    m.entries = m.entries.filter((e) => e.primary !== model.entry!.primary);
    if (m.entries.length) writeFileAtomic(join(dir, MANIFEST), JSON.stringify(m, null, 2) + '\n');
    else rmSync(join(dir, MANIFEST), { force: true });
  }
  pruneEmpty(dir, modelsDir());
  return freed;
}

/** Remove empty folders from `dir` up to (not including) `stop`. */
export function pruneEmpty(dir: string, stop: string) {
  for (let d = resolve(dir); d.startsWith(resolve(stop) + sep); d = dirname(d)) {
    if (!existsSync(d) || readdirSync(d).length > 0) return;
    rmdirSync(d);
  }
}

export function demoModelPath(): string {
  const dir = join(homeDir(), 'demo');
  mkdirSync(dir, { recursive: true });
  return join(dir, 'llama3-zh-demo.gguf');
}
