import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/files.js';
import { sleep } from './hubs.js';

/** One file to fetch from a hub. */
export interface DownloadTask {
  url: string;
  /** Sent to the hub's own origin only: a token never follows a redirect to a CDN. */
  headers: Record<string, string>;
  dest: string;
  size: number;
  sha256?: string;
  gitOid?: string;
  /** What the partial belongs to (hub, repo, commit, path); a partial of anything else is started over. */
  id: string;
  /** Ranged connections at once (1 = one stream). */
  connections: number;
  /** Bytes per ranged request; the partial keeps its own when resumed. */
  chunkSize?: number;
  signal?: AbortSignal;
  /** Called with each run of new bytes written. */
  onBytes?(n: number): void;
  /** Called with bytes hashed while checking the finished file. */
  onVerify?(n: number): void;
  /** Turns an error answer of the hub's own origin (gated, not found) into a message that says what to do. */
  explain?(res: Response): Promise<UserError>;
}

export interface DownloadResult {
  /** Bytes fetched in this run. */
  fetched: number;
  /** Bytes already there from an earlier, interrupted run. */
  resumed: number;
}

/** What is kept beside `FILE.part` so that a later run fetches only what is missing. */
interface PartState {
  version: 1;
  id: string;
  size: number;
  sha256?: string;
  gitOid?: string;
  chunkSize: number;
  /** Bytes written at the start of each chunk. */
  done: number[];
}

export const partPath = (dest: string) => `${dest}.part`;
export const statePath = (dest: string) => `${dest}.part.json`;

const MiB = 2 ** 20;
const SAVE_EVERY_MS = 1000;
const RETRIES = 5;

export function defaultChunkSize(size: number, connections: number): number {
  if (connections <= 1) return Math.max(size, 1);
  // About eight chunks per connection, so that the last ones do not leave connections idle for long.
  return Math.max(8 * MiB, Math.ceil(size / (connections * 8) / MiB) * MiB);
}

/**
 * Fetch a file into DEST.part with ranged requests over several connections, keeping the progress
 * in DEST.part.json (saved each second and on interruption), check its hash, then rename it to
 * DEST. An interrupted run leaves DEST.part and its state, and the next run asks only for the
 * missing ranges; a file whose hash does not match is deleted.
 */
export async function download(t: DownloadTask): Promise<DownloadResult> {
  const release = lock(t.dest);
  try {
    return await downloadLocked(t);
  } finally {
    release();
  }
}

export const lockPath = (dest: string) => `${dest}.lock`;

/** One download of a file at a time: a second pull (or a chat pulling the same model) is told, not let loose on the same part. */
function lock(dest: string): () => void {
  const path = lockPath(dest);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UserError(`cannot write in ${dirname(dest)}: ${(e as NodeJS.ErrnoException).code}`);
      const pid = Number(readFileSync(path, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UserError(`another llama3-zh (pid ${pid}) is downloading ${dest.split(/[\\/]/).pop()}; wait for it to finish, or stop it and run this again`);
      }
      rmSync(path, { force: true }); // left by a process that is gone
    }
  }
  throw new UserError(`cannot lock ${path}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function downloadLocked(t: DownloadTask): Promise<DownloadResult> {
  const state = loadState(t) ?? freshState(t);
  const resumed = state.done.reduce((a, b) => a + b, 0);
  const fh = await openPart(t, state, resumed > 0);
  let fetched = 0;
  let dirty = false;
  const save = async () => {
    if (!dirty) return;
    dirty = false;
    // With a hash, no fsync: after a crash of the machine the state may claim bytes the disk lost, but the
    // check at the end catches that (and deletes the file); Ctrl-C loses nothing. Without one, sync first.
    if (!t.sha256 && !t.gitOid) await fh.datasync();
    writeFileAtomic(statePath(t.dest), JSON.stringify(state));
  };
  const timer = setInterval(() => { save().catch(() => {}); }, SAVE_EVERY_MS);
  // The hash follows the download: whatever prefix of the file is written is hashed while the rest
  // arrives, so checking a finished file takes only its last piece, not a second pass over it.
  const want = t.sha256 ?? t.gitOid;
  const hasher = want ? new PrefixHasher(fh, t.sha256 ? 'sha256' : 'git', t.size, t.onVerify) : undefined;
  const written = (i: number, n: number) => {
    state.done[i] += n;
    fetched += n;
    dirty = true;
    t.onBytes?.(n);
    hasher?.advance(contiguous(state));
  };
  let digest: string | undefined;
  try {
    await fetchChunks(t, state, fh, written, async () => { await hasher?.reset(); });
    digest = await hasher?.finish();
  } catch (e) {
    clearInterval(timer);
    await hasher?.settle();
    await save().catch(() => {});
    await fh.close();
    throw e;
  }
  clearInterval(timer);
  await fh.close();
  verify(t, digest);
  await rename(partPath(t.dest), t.dest);
  rmSync(statePath(t.dest), { force: true });
  return { fetched, resumed };
}

function freshState(t: DownloadTask): PartState {
  const chunkSize = t.chunkSize ?? defaultChunkSize(t.size, t.connections);
  const chunks = Math.max(1, Math.ceil(t.size / chunkSize));
  return { version: 1, id: t.id, size: t.size, sha256: t.sha256, gitOid: t.gitOid, chunkSize, done: new Array(chunks).fill(0) };
}

/** The saved progress, if it belongs to this very file and the partial is still there. */
function loadState(t: DownloadTask): PartState | undefined {
  try {
    const s = JSON.parse(readFileSync(statePath(t.dest), 'utf8')) as PartState;
    const same = s.version === 1 && s.id === t.id && s.size === t.size && s.sha256 === t.sha256 && s.gitOid === t.gitOid;
    const chunksOk = Array.isArray(s.done) && s.done.length === Math.max(1, Math.ceil(s.size / s.chunkSize))
      && s.done.every((d, i) => Number.isInteger(d) && d >= 0 && d <= chunkLength(s, i));
    if (same && chunksOk && existsSync(partPath(t.dest)) && statSync(partPath(t.dest)).size === t.size) return s;
  } catch { /* no state, or not ours: start over */ }
  return undefined;
}

async function openPart(t: DownloadTask, state: PartState, resuming: boolean): Promise<FileHandle> {
  if (resuming) return open(partPath(t.dest), 'r+');
  rmSync(statePath(t.dest), { force: true });
  const fh = await open(partPath(t.dest), 'w+');
  // The full length up front (sparse where the file system allows) so that ranges land in place.
  await fh.truncate(t.size);
  return fh;
}

const chunkStart = (s: PartState, i: number) => i * s.chunkSize;
const chunkLength = (s: PartState, i: number) => Math.min(s.chunkSize, s.size - chunkStart(s, i));

/** Bytes from the start of the file that are all written. */
function contiguous(s: PartState): number {
  for (let i = 0; i < s.done.length; i++) {
    if (s.done[i] < chunkLength(s, i)) return chunkStart(s, i) + s.done[i];
  }
  return s.size;
}

/** A hash over a file's prefix, read back as the prefix grows (from the page cache, as it was just written). */
class PrefixHasher {
  private h!: ReturnType<typeof createHash>;
  private hashed = 0;
  private running: Promise<void> | undefined;
  private buf = Buffer.alloc(4 * MiB);
  constructor(private fh: FileHandle, private kind: 'sha256' | 'git', private size: number, private onBytes?: (n: number) => void) {
    this.init();
  }

  /** Start over (the file is being fetched again from its start); waits for a read in flight. */
  async reset() {
    await this.settle();
    this.init();
  }

  private init() {
    this.h = createHash(this.kind === 'sha256' ? 'sha256' : 'sha1');
    if (this.kind === 'git') this.h.update(`blob ${this.size}\0`);
    this.hashed = 0;
  }

  /** Hash on up to `upto`, unless a run is going (it will be asked again at the next write). */
  advance(upto: number) {
    if (this.running || upto <= this.hashed) return;
    this.running = (async () => {
      while (this.hashed < upto) {
        const n = Math.min(this.buf.length, upto - this.hashed);
        const { bytesRead } = await this.fh.read(this.buf, 0, n, this.hashed);
        if (bytesRead <= 0) throw new Error(`could not read back ${n} bytes at ${this.hashed}`);
        this.h.update(this.buf.subarray(0, bytesRead));
        this.hashed += bytesRead;
        this.onBytes?.(bytesRead);
      }
    })().finally(() => { this.running = undefined; });
    this.running.catch(() => {});
  }

  async settle() {
    await this.running?.catch(() => {});
  }

  async finish(): Promise<string> {
    await this.running;
    this.advance(this.size);
    await this.running;
    return this.h.digest('hex');
  }
}

async function fetchChunks(t: DownloadTask, state: PartState, fh: FileHandle, written: (i: number, n: number) => void, restarted: () => Promise<void> | void) {
  const pending = state.done.map((d, i) => i).filter((i) => state.done[i] < chunkLength(state, i));
  if (pending.length === 0) return;
  // A CDN URL learned from a redirect is reused for the next ranges; it is dropped if it stops working.
  let direct: string | undefined;
  let rangesSeen = false;
  const fail = new AbortController();
  const signal = t.signal ? AbortSignal.any([t.signal, fail.signal]) : fail.signal;

  let headersSeen: () => void = () => {};
  const firstHeaders = new Promise<void>((r) => (headersSeen = r));
  const fetchRange = async (i: number) => {
    for (let attempt = 0; ; attempt++) {
      const from = chunkStart(state, i) + state.done[i];
      const to = chunkStart(state, i) + chunkLength(state, i) - 1;
      const url = direct ?? t.url;
      const sameOrigin = new URL(url).origin === new URL(t.url).origin;
      try {
        const res = await fetch(url, {
          headers: { ...(sameOrigin ? t.headers : {}), range: `bytes=${from}-${to}`, 'accept-encoding': 'identity' },
          signal,
        });
        if (res.status === 200 && from === 0 && to === t.size - 1) {
          // Asked for the whole file: a plain answer is as good.
        } else if (res.status === 200) {
          await res.body?.cancel();
          // A server that never did ranges gets one stream; one that stops half-way is an error to retry.
          if (rangesSeen) throw new UserError(`the hub stopped answering range requests for ${fileName(t)}; run the command again to resume`);
          throw new NoRanges();
        } else if (res.status !== 206) {
          if (direct && attempt < RETRIES) { await res.body?.cancel(); direct = undefined; continue; }
          throw await httpError(t, res, sameOrigin);
        } else {
          checkContentRange(t, res.headers.get('content-range'), from);
          rangesSeen = true;
        }
        if (res.redirected) direct = res.url;
        headersSeen();
        await writeBody(res, fh, from, to - from + 1, (n) => written(i, n));
        return;
      } catch (e) {
        if (signal.aborted || e instanceof UserError || e instanceof NoRanges) throw e;
        if (attempt >= RETRIES) throw new UserError(`downloading ${fileName(t)} failed after ${RETRIES + 1} tries: ${describe(e)}; run the command again to resume`);
        await sleep((e as { retryMs?: number }).retryMs ?? 500 * 2 ** attempt);
      }
    }
  };

  const queue = [...pending];
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) await fetchRange(i);
  };
  // Every connection is waited for before anything else touches the state or the file.
  const tasks: Promise<void>[] = [];
  let failure: unknown;
  const watch = (p: Promise<void>) => p.catch((e) => {
    if (failure === undefined) failure = e;
    fail.abort();
  });
  // The first answer tells whether the server does ranges at all; the other connections start after it.
  const first = fetchRange(queue.shift()!).then(worker);
  tasks.push(watch(first));
  await Promise.race([firstHeaders, first.catch(() => {})]);
  if (failure === undefined) {
    for (let k = 0; k < Math.min(t.connections - 1, queue.length); k++) tasks.push(watch(worker()));
  }
  await Promise.all(tasks);
  if (failure === undefined) return;
  if (t.signal?.aborted) throw t.signal.reason ?? failure;
  if (!(failure instanceof NoRanges)) throw failure;
  // A server without ranges: one stream from the start, into a state of one chunk.
  await restarted();
  state.chunkSize = Math.max(t.size, 1);
  state.done = [0];
  await fh.truncate(0);
  await fh.truncate(t.size);
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(t.url, { headers: t.headers, signal: t.signal });
      if (!res.ok) throw await httpError(t, res, true);
      await writeBody(res, fh, 0, t.size, (n) => written(0, n));
      return;
    } catch (e) {
      if (t.signal?.aborted || e instanceof UserError) throw e;
      if (attempt >= RETRIES) throw new UserError(`downloading ${fileName(t)} failed after ${RETRIES + 1} tries: ${describe(e)}; the server does not resume, run the command again`);
      // Without ranges a retry starts over.
      await restarted();
      state.done = [0];
      await sleep(500 * 2 ** attempt);
    }
  }
}

const fileName = (t: DownloadTask) => t.dest.split(/[\\/]/).pop()!;

class NoRanges extends Error {}

/**
 * Stream a response body to its place in the file. Pieces are gathered into 1 MiB writes, and one write
 * is in flight while the next MiB is read; progress counts only bytes whose write has finished.
 */
async function writeBody(res: Response, fh: FileHandle, at: number, expected: number, wrote: (n: number) => void) {
  if (!res.body) throw new Error('empty response');
  let got = 0;
  let pending: Promise<void> = Promise.resolve();
  let batch: Uint8Array[] = [];
  let batchLen = 0;
  let pos = at;
  const flush = () => {
    const buf = Buffer.concat(batch, batchLen);
    const where = pos;
    pos += batchLen;
    batch = [];
    batchLen = 0;
    pending = pending.then(async () => {
      await fh.write(buf, 0, buf.length, where);
      wrote(buf.length);
    });
  };
  try {
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (got + part.length > expected) throw new UserError(`the hub sent more bytes than the file has (${got + part.length} for a range of ${expected}); run the command again`);
      got += part.length;
      batch.push(part);
      batchLen += part.length;
      if (batchLen >= MiB) {
        await pending;
        flush();
      }
    }
  } finally {
    // What arrived before a failure is written and counted, so a resume need not fetch it again.
    if (batchLen) flush();
    await pending;
  }
  if (got < expected) throw new Error(`connection closed after ${got} of ${expected} bytes`);
}

function checkContentRange(t: DownloadTask, header: string | null, from: number) {
  const m = header && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header);
  if (!m || Number(m[1]) !== from) throw new UserError(`the hub answered a range request for ${t.dest} with Content-Range ${header ?? '(none)'}; run the command again`);
  if (m[3] !== '*' && Number(m[3]) !== t.size) {
    throw new UserError(`${t.dest}: the hub's listing says ${t.size} bytes but the download is ${m[3]}; the repo changed while pulling? Run the command again`);
  }
}

/** An HTTP error answer: the hub says why (gated, gone) through the task's callback; a CDN's status is retried or told. */
async function httpError(t: DownloadTask, res: Response, fromHub: boolean): Promise<Error> {
  if (res.status === 429 || res.status >= 500) {
    await res.body?.cancel();
    return Object.assign(new Error(`HTTP ${res.status}`), { retryMs: 2000 });
  }
  if (fromHub && t.explain) return t.explain(res);
  await res.body?.cancel();
  if (res.status === 404) return new UserError(`${fileName(t)} is not on the hub any more (HTTP 404); the repo changed while pulling? Run the command again`);
  return new UserError(`the hub answered HTTP ${res.status} for ${fileName(t)}`);
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}

/** The hash the hub gave, of the finished part; a mismatch deletes it (it cannot be resumed into anything good). */
function verify(t: DownloadTask, got: string | undefined) {
  const part = partPath(t.dest);
  if (statSync(part).size !== t.size) throw new UserError(`${t.dest}: got ${statSync(part).size} bytes, expected ${t.size}`);
  const want = t.sha256 ?? t.gitOid;
  if (!want || got === undefined) return;
  if (got !== want.toLowerCase()) {
    rmSync(part, { force: true });
    rmSync(statePath(t.dest), { force: true });
    throw new UserError(`${t.dest.split('/').pop()} is corrupt: its ${t.sha256 ? 'sha256' : 'git hash'} is ${got}, the hub says ${want}; the download was deleted, run the command again`);
  }
}

/** sha256 of a file, or its git blob id (sha1 of "blob SIZE\0" + content), as hubs publish them. */
export async function hashFile(path: string, kind: 'sha256' | 'git', size: number, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<string> {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git') h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB, signal }) as AsyncIterable<Buffer>) {
    h.update(chunk);
    onBytes?.(chunk.length);
  }
  return h.digest('hex');
}

