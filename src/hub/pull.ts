import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { freeBytes } from '../util/files.js';
import { download, hashFile, partPath, statePath } from './download.js';
import { type Hub, type HubId, hubError, hubFor, type RemoteFile } from './hubs.js';
import { pathInside } from './hubPath.js';
import { type ModelRef, reposOf } from './modelRef.js';
import { pickFiles, type PullFormat, type Selection } from './pick.js';
import { dropEmptyEntry, type LocalModel, listStore, readManifest, recordEntry, repoDir, type StoreEntry } from './store.js';

export interface PullOptions {
  source?: HubId;
  revision?: string;
  format?: PullFormat;
  /** Ranged connections per large file. */
  connections?: number;
  /** Bytes per ranged request (tests make it small). */
  chunkSize?: number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  report?: PullReporter;
}

/** What a pull tells the person waiting for it. */
export interface PullReporter {
  plan?(p: PullPlan): void;
  bytes?(n: number): void;
  verifying?(file: string, bytes: number): void;
  verified?(n: number): void;
  fileDone?(file: RemoteFile, how: 'fetched' | 'present'): void;
}

export interface PullResult {
  hub: Hub;
  repo: string;
  model: LocalModel;
  selection: Selection;
  fetched: number;
  resumed: number;
  /** Files already in the store, checked and kept. */
  present: number;
}

const MiB = 2 ** 20;

export function defaultRevision(hub: HubId): string {
  return hub === 'huggingface' ? 'main' : 'master';
}

/** What a pull will fetch, decided before any byte of a model moves (so a user can be asked first). */
export interface PullPlan {
  ref: Extract<ModelRef, { kind: 'hub' }>;
  hub: Hub;
  repo: string;
  revision: string;
  commit: string;
  selection: Selection;
  /** Bytes of the selection, and how many of them are in the store already (whole files or partials). */
  total: number;
  have: number;
}

/** Pull the files a ref names into the store: list the repo, pick, download what is missing, record. */
export async function pull(ref: Extract<ModelRef, { kind: 'hub' }>, o: PullOptions = {}): Promise<PullResult> {
  return runPull(await planPull(ref, o), o);
}

export async function planPull(ref: Extract<ModelRef, { kind: 'hub' }>, o: PullOptions = {}): Promise<PullPlan> {
  const candidates = reposOf(ref, o.source, o.format);
  if (candidates.length === 0) {
    const c = ref.catalog!;
    const where = (['huggingface', 'modelscope'] as HubId[]).filter((h) => c.sources[h] || c.gguf?.[h]);
    throw new UserError(o.source && where.length
      ? `${c.name} is not on ${o.source}; it is on ${where.join(' and ')}`
      : `${c.name} has no weights on a hub this can pull from${c.notes ? ` (${c.notes})` : ''}`);
  }
  // A catalog model may have a GGUF repo and a weights repo: the first that has what is asked wins.
  let lastError: unknown;
  for (const [i, cand] of candidates.entries()) {
    const hub = hubFor(cand.hub, o.env);
    const revision = o.revision ?? defaultRevision(cand.hub);
    const listing = await hub.list(cand.repo, revision, o.signal);
    let selection: Selection;
    try {
      selection = pickFiles(cand.repo, listing.files, { spec: ref.spec, format: o.format });
    } catch (e) {
      lastError = e;
      if (i < candidates.length - 1) continue;
      throw e;
    }
    const dir = repoDir(cand.repo);
    const total = selection.files.reduce((a, f) => a + f.size, 0);
    let have = 0;
    for (const f of selection.files) {
      const dest = pathInside(dir, f.path);
      have += isPresent(cand.repo, f, dest) ? f.size : partialBytes(dest, fileId(hub, cand.repo, listing.commit, f));
    }
    return { ref, hub, repo: cand.repo, revision, commit: listing.commit, selection, total, have };
  }
  throw lastError;
}

const fileId = (hub: Hub, repo: string, commit: string, f: RemoteFile) => `${hub.id}:${repo}@${commit}:${f.path}`;

/** A file is present when a finished pull recorded this very content and it has its size. */
function isPresent(repo: string, f: RemoteFile, dest: string): boolean {
  const recorded = (readManifest(repo)?.entries ?? []).filter((e) => e.complete !== false).flatMap((e) => e.files).find((x) => x.path === f.path);
  return existsSync(dest) && statSync(dest).size === f.size && sameContent(recorded, f);
}

export async function runPull(plan: PullPlan, o: PullOptions = {}): Promise<PullResult> {
  const { hub, repo, revision, commit, selection, ref } = plan;
  const dir = repoDir(repo);
  // Which files a finished pull already put here, decided before this pull records itself as unfinished.
  const dests = selection.files.map((f) => {
    const dest = pathInside(dir, f.path);
    return { f, dest, present: isPresent(repo, f, dest) };
  });
  checkSpace(dir, plan.total - plan.have);
  o.report?.plan?.(plan);
  const entry: StoreEntry = {
    format: selection.format,
    quant: selection.quant,
    primary: selection.primary,
    files: selection.files,
    hub: hub.id,
    endpoint: hub.endpoint,
    revision,
    commit,
    catalogName: ref.catalog?.name,
    pulledAt: new Date().toISOString(),
    complete: false,
  };
  // Recorded before the first byte, so an interrupted pull of several files shows as unfinished, not as a model.
  storeWrite(dir, () => recordEntry(repo, entry));

  try {
    return await fetchAll(plan, entry, dests, o);
  } catch (e) {
    dropEmptyEntry(repo, entry.primary);
    throw e;
  }
}

async function fetchAll(plan: PullPlan, entry: StoreEntry, dests: { f: RemoteFile; dest: string; present: boolean }[], o: PullOptions): Promise<PullResult> {
  const { hub, repo, revision, commit, selection } = plan;
  let fetched = 0;
  let resumed = 0;
  let kept = 0;
  for (const { f, dest, present } of dests) {
    if (present) {
      kept += f.size;
      o.report?.fileDone?.(f, 'present');
      continue;
    }
    storeWrite(dirname(dest), () => mkdirSync(dirname(dest), { recursive: true }));
    // A file put there by hand (or by an older pull) with the right hash is kept, not fetched again.
    if (existsSync(dest) && statSync(dest).size === f.size && (f.sha256 || f.gitOid)) {
      o.report?.verifying?.(f.path, f.size);
      const got = await hashFile(dest, f.sha256 ? 'sha256' : 'git', f.size, o.report?.verified, o.signal);
      if (got === (f.sha256 ?? f.gitOid)!.toLowerCase()) {
        kept += f.size;
        o.report?.bytes?.(f.size);
        o.report?.fileDone?.(f, 'present');
        continue;
      }
    }
    const r = await download({
      url: hub.fileUrl(repo, commit, f.path),
      headers: hub.headers(),
      dest,
      size: f.size,
      sha256: f.sha256,
      gitOid: f.gitOid,
      id: fileId(hub, repo, commit, f),
      connections: f.size >= 64 * MiB ? (o.connections ?? 8) : Math.min(o.connections ?? 8, f.size >= 8 * MiB ? 4 : 1),
      chunkSize: o.chunkSize,
      signal: o.signal,
      onBytes: o.report?.bytes,
      onVerify: o.report?.verified,
      explain: (res) => hubError(hub, res, repo, revision),
    }).catch((e) => { throw storeError(dest, e); });
    fetched += r.fetched;
    resumed += r.resumed;
    o.report?.fileDone?.(f, 'fetched');
  }
  recordEntry(repo, { ...entry, complete: true, pulledAt: new Date().toISOString() });
  const model = listStore().find((m) => m.repo === repo && m.entry?.primary === entry.primary)!;
  return { hub, repo, model, selection, fetched, resumed, present: kept };
}

function sameContent(a: RemoteFile | undefined, b: RemoteFile): boolean {
  if (!a || a.size !== b.size) return false;
  if (a.sha256 || b.sha256) return a.sha256 === b.sha256;
  return a.gitOid === b.gitOid;
}

/** Bytes an unfinished download of this very file (same id) has kept. */
function partialBytes(dest: string, id: string): number {
  if (!existsSync(partPath(dest))) return 0;
  try {
    const s = JSON.parse(readFileSync(statePath(dest), 'utf8')) as { id: string; done: number[] };
    return s.id === id ? s.done.reduce((a, b) => a + b, 0) : 0;
  } catch {
    return 0;
  }
}

/** A file-system failure in the store (no permission, disk full) as one line that names the place. */
function storeError(path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || e instanceof UserError) return e;
  const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code;
  return new UserError(`cannot write ${path}: ${why}; free some space, fix the permissions, or use --models-dir`);
}

function storeWrite<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw storeError(path, e);
  }
}

/** Stop before a download that cannot fit, rather than fail at 95%. */
function checkSpace(dir: string, needed: number) {
  const free = freeBytes(dir);
  if (free !== undefined && needed > free) {
    throw new UserError(`not enough disk space: this pull needs ${(needed / 2 ** 30).toFixed(2)} GiB more and ${dir} has ${(free / 2 ** 30).toFixed(2)} GiB free; free some space or use --models-dir`);
  }
}
