import { UserError } from '../errors.js';
import { checkHubPath } from './hubPath.js';
import { useProxyFromEnv } from './proxy.js';

export type HubId = 'huggingface' | 'modelscope';
export const HUB_IDS: readonly HubId[] = ['huggingface', 'modelscope'];

/** A file in a hub repository, as its listing API describes it. */
export interface RemoteFile {
  path: string;
  size: number;
  /** sha256 of the content (Hugging Face gives it for LFS files, ModelScope for all). */
  sha256?: string;
  /** Git blob id (sha1 of "blob SIZE\0" + content): what Hugging Face gives for small, non-LFS files. */
  gitOid?: string;
}

export interface RepoListing {
  /** The commit the listing is of; downloads are pinned to it so every file comes from one revision. */
  commit: string;
  files: RemoteFile[];
}

/** One model hub's HTTP API: where things are, and how to ask. */
export interface Hub {
  id: HubId;
  label: string;
  endpoint: string;
  /** Request headers (the token, when one is set). */
  headers(): Record<string, string>;
  list(repo: string, revision: string, signal?: AbortSignal): Promise<RepoListing>;
  fileUrl(repo: string, commit: string, path: string): string;
  /** The page a person opens to see the repo (or accept its license). */
  pageUrl(repo: string): string;
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkRepoId(repo: string): string {
  if (!REPO_ID.test(repo) || repo.includes('..')) throw new UserError(`"${repo}" is not a repository id; it looks like owner/name`, 2);
  return repo;
}

function endpointFrom(value: string | undefined, fallback: string): string {
  const v = (value ?? '').trim().replace(/\/+$/, '');
  if (!v) return fallback;
  return /^https?:\/\//.test(v) ? v : `https://${v}`;
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** Hugging Face, or any server that speaks its API (hf-mirror.com): HF_ENDPOINT and HF_TOKEN as huggingface_hub reads them. */
export function huggingFace(env: NodeJS.ProcessEnv = process.env): Hub {
  const endpoint = endpointFrom(env.HF_ENDPOINT, 'https://huggingface.co');
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  const hub: Hub = {
    id: 'huggingface',
    label: endpoint === 'https://huggingface.co' ? 'Hugging Face' : `Hugging Face API at ${endpoint}`,
    endpoint,
    headers: (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}),
    pageUrl: (repo) => `${endpoint}/${repo}`,
    fileUrl: (repo, commit, path) => `${endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${encodePath(path)}`,
    async list(repo, revision, signal) {
      const info = await getJson(hub, `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`, repo, revision, signal) as { sha?: string };
      if (typeof info.sha !== 'string') throw new UserError(`${hub.label} gave no commit for ${repo}@${revision}; is ${endpoint} a Hugging Face API?`);
      const files: RemoteFile[] = [];
      // The tree API pages its answer; the next page is in the Link header.
      let url: string | undefined = `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(info.sha)}?recursive=true`;
      while (url) {
        const res = await request(hub, url, repo, revision, signal);
        const page = await res.json().catch(() => undefined) as { type: string; path: string; size: number; oid?: string; lfs?: { oid: string; size: number } }[];
        if (!Array.isArray(page)) throw new UserError(`${hub.label} answered the file list of ${repo} with something that is not a list`);
        for (const e of page) {
          if (e.type !== 'file') continue;
          files.push({ path: checkHubPath(e.path), size: e.lfs?.size ?? e.size, sha256: e.lfs?.oid, gitOid: e.lfs ? undefined : e.oid });
        }
        url = nextLink(res.headers.get('link'), url);
      }
      return { commit: info.sha, files };
    },
  };
  return hub;
}

/** ModelScope: MODELSCOPE_DOMAIN (a domain or URL) and MODELSCOPE_API_TOKEN, as the modelscope library reads them. */
export function modelScope(env: NodeJS.ProcessEnv = process.env): Hub {
  const endpoint = endpointFrom(env.MODELSCOPE_DOMAIN, 'https://www.modelscope.cn');
  const token = env.MODELSCOPE_API_TOKEN;
  const hub: Hub = {
    id: 'modelscope',
    label: endpoint === 'https://www.modelscope.cn' ? 'ModelScope' : `ModelScope API at ${endpoint}`,
    endpoint,
    headers: (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}),
    pageUrl: (repo) => `${endpoint}/models/${repo}`,
    fileUrl: (repo, commit, path) =>
      `${endpoint}/api/v1/models/${repo}/repo?Revision=${encodeURIComponent(commit)}&FilePath=${encodeURIComponent(path)}`,
    async list(repo, revision, signal) {
      const body = await getJson(hub, `${endpoint}/api/v1/models/${repo}/repo/files?Revision=${encodeURIComponent(revision)}&Recursive=true`, repo, revision, signal) as {
        Code?: number; Message?: string; Data?: { Files?: { Path: string; Type: string; Size: number; Sha256?: string; Revision?: string }[] };
      };
      if (body.Code !== 200 || !Array.isArray(body.Data?.Files)) {
        throw new UserError(`${hub.label}: cannot list ${repo}@${revision}: ${body.Message ?? `code ${body.Code}`}`);
      }
      const files = body.Data.Files.filter((f) => f.Type === 'blob')
        .map((f) => ({ path: checkHubPath(f.Path), size: f.Size, sha256: f.Sha256 || undefined }));
      // A file's Revision is the last commit that touched it, not the repo's head: files are fetched by the
      // revision asked for (as the modelscope library does), and their sha256 ties them to this listing.
      return { commit: revision, files };
    },
  };
  return hub;
}

export function hubFor(id: HubId, env: NodeJS.ProcessEnv = process.env): Hub {
  useProxyFromEnv(env);
  return id === 'huggingface' ? huggingFace(env) : modelScope(env);
}

/** The next page of a listing; only on the hub's own origin, where the token may go. */
function nextLink(link: string | null, base: string): string | undefined {
  const m = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m) return undefined;
  const next = new URL(m[1], base);
  if (next.origin !== new URL(base).origin) throw new UserError(`the hub's file list points its next page at another site (${next.origin}); refusing to send it the token`);
  return next.href;
}

async function getJson(hub: Hub, url: string, repo: string, revision: string, signal?: AbortSignal): Promise<unknown> {
  const res = await request(hub, url, repo, revision, signal);
  try {
    return await res.json();
  } catch {
    throw new UserError(`${hub.label} answered ${url} with something that is not JSON; is ${hub.endpoint} the right endpoint?`);
  }
}

/** A GET to a hub's API, with its errors turned into sentences that say what to do. */
export async function request(hub: Hub, url: string, repo: string, revision: string, signal?: AbortSignal, extra: Record<string, string> = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, { headers: { ...hub.headers(), ...extra }, signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      if (attempt < 2) { await sleep(500 * 2 ** attempt); continue; }
      throw unreachable(hub, e);
    }
    if (res.ok) return res;
    if ((res.status === 429 || res.status >= 500) && attempt < 3) {
      await res.body?.cancel();
      await sleep(retryAfterMs(res) ?? 1000 * 2 ** attempt);
      continue;
    }
    throw await hubError(hub, res, repo, revision);
  }
}

export function unreachable(hub: Hub, e: unknown): UserError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (e as Error).message;
  const hint = hub.id === 'huggingface'
    ? 'if huggingface.co is slow or blocked where you are, set HF_ENDPOINT=https://hf-mirror.com or use --source modelscope'
    : 'check your network, or set MODELSCOPE_DOMAIN';
  return new UserError(`cannot reach ${hub.endpoint} (${why}); ${hint}`);
}

export function retryAfterMs(res: Response): number | undefined {
  const v = Number(res.headers.get('retry-after'));
  return Number.isFinite(v) && v > 0 ? Math.min(v, 30) * 1000 : undefined;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An error answer of a hub, as a sentence that says what to do (gated: where to accept the terms; missing: check the name). */
export async function hubError(hub: Hub, res: Response, repo: string, revision: string): Promise<UserError> {
  const code = res.headers.get('x-error-code') ?? '';
  let message = res.headers.get('x-error-message') ?? '';
  try {
    const body = await res.text();
    const j = JSON.parse(body) as { error?: string; Message?: string };
    message ||= j.error ?? j.Message ?? '';
  } catch { /* not JSON: the status says enough */ }
  const tokenVar = hub.id === 'huggingface' ? 'HF_TOKEN' : 'MODELSCOPE_API_TOKEN';
  const hasToken = 'authorization' in hub.headers();
  if (code === 'GatedRepo' || /gated|restricted/i.test(message)) {
    return new UserError(hasToken
      ? `${repo} is gated and your ${tokenVar} has no access yet: accept its terms at ${hub.pageUrl(repo)} with that account`
      : `${repo} is gated: accept its terms at ${hub.pageUrl(repo)}, then set ${tokenVar} to an access token of that account`);
  }
  if (code === 'RevisionNotFound') return new UserError(`${repo} has no revision "${revision}" on ${hub.label}`);
  if (code === 'EntryNotFound') return new UserError(`a file of ${repo} is missing on ${hub.label} (${message || res.status}); the repo changed while pulling? Run the command again`);
  // Hugging Face answers 401 for repos that do not exist, so that private ones do not show.
  if (res.status === 404 || code === 'RepoNotFound' || (res.status === 401 && !hasToken)) {
    return new UserError(`${repo} not found on ${hub.label}${hasToken ? '' : ` (if it is private, set ${tokenVar})`}; check the name at ${hub.pageUrl(repo)}`);
  }
  if (res.status === 401 || res.status === 403) return new UserError(`${hub.label} refused ${tokenVar}'s token for ${repo} (HTTP ${res.status}${message ? `: ${message}` : ''})`);
  return new UserError(`${hub.label} answered HTTP ${res.status} for ${repo}${message ? `: ${message}` : ''}`);
}
