import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local model hub: speaks the Hugging Face API (revision info, paged tree listing, resolve with a
 * 302 to a CDN on another origin, ETag / X-Linked-Etag, Range) and ModelScope's (repo/files,
 * repo?FilePath=), with gated repos and failures to order. Tests point HF_ENDPOINT and
 * MODELSCOPE_DOMAIN at it.
 */
export interface HubFile {
  path: string;
  data: Buffer;
  /** Stored in LFS (big files): served through the CDN, listed with a sha256. Default: ends in .gguf/.safetensors. */
  lfs?: boolean;
}

export interface HubRepo {
  hub: 'huggingface' | 'modelscope';
  repo: string;
  files: HubFile[];
  gated?: boolean;
  /** Extra listing entries that are not real files (hostile names). */
  extraListing?: string[];
}

export interface HubOptions {
  repos: HubRepo[];
  /** The token a gated repo accepts. */
  token?: string;
  /** Bytes per second per response (to interrupt a pull halfway). */
  throttle?: number;
  /** Paths served with one byte flipped (the listing keeps the true hash). */
  corrupt?: Set<string>;
  /** Ignore Range headers. */
  noRanges?: boolean;
  /** Cut the connection after this many bytes of the next response of this path, once. */
  cutOnce?: { path: string; after: number };
  /** Entries per page of the tree listing. */
  pageSize?: number;
  /** Answer only this many Range requests, then whole files (a server that stops doing ranges). */
  rangesFor?: number;
}

export interface HubRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export const COMMIT = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0';

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

const isLfs = (f: HubFile) => f.lfs ?? /\.(gguf|safetensors)$/.test(f.path);

export async function startHub(o: HubOptions) {
  const requests: HubRequest[] = [];
  /** Body bytes sent, by file path. */
  const served = new Map<string, number>();
  let cut = o.cutOnce;
  let rangesAnswered = 0;

  const find = (hub: HubRepo['hub'], repo: string) => o.repos.find((r) => r.hub === hub && r.repo === repo);
  const authorized = (req: IncomingMessage) => o.token !== undefined && req.headers.authorization === `Bearer ${o.token}`;

  /** Send (a range of) a file, throttled and cut as ordered. */
  const sendFile = (req: IncomingMessage, res: ServerResponse, f: HubFile, headers: Record<string, string>) => {
    let body = f.data;
    if (o.corrupt?.has(f.path)) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    let status = 200;
    let start = 0;
    let end = body.length - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const rangesLeft = o.rangesFor === undefined || rangesAnswered < o.rangesFor;
    if (m && !o.noRanges && rangesLeft) {
      rangesAnswered++;
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
    }
    const slice = body.subarray(start, end + 1);
    res.writeHead(status, { ...headers, 'content-length': String(slice.length), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') { res.end(); return; }
    const cutAt = cut && cut.path === f.path ? cut.after : undefined;
    if (cutAt !== undefined) cut = undefined;
    const piece = 64 * 1024;
    let pos = 0;
    const step = () => {
      if (res.destroyed) return;
      if (pos >= slice.length) { res.end(); return; }
      let n = Math.min(piece, slice.length - pos);
      if (cutAt !== undefined && pos + n > cutAt) n = Math.max(0, cutAt - pos);
      const chunk = slice.subarray(pos, pos + n);
      pos += n;
      served.set(f.path, (served.get(f.path) ?? 0) + n);
      if (cutAt !== undefined && pos >= cutAt) {
        res.write(chunk, () => res.destroy());
        return;
      }
      const ok = res.write(chunk);
      const next = () => (o.throttle ? setTimeout(step, (n / o.throttle) * 1000) : setImmediate(step));
      if (ok) next(); else res.once('drain', next);
    };
    step();
  };

  const cdnFiles = new Map<string, HubFile>();
  for (const r of o.repos) for (const f of r.files) if (isLfs(f)) cdnFiles.set(sha256(f.data), f);

  const cdn = createServer((req, res) => {
    requests.push({ server: 'cdn', method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization });
    const m = /^\/blobs\/([0-9a-f]{64})\?sig=ok$/.exec(req.url!);
    const f = m && cdnFiles.get(m[1]);
    if (!f) { res.writeHead(403).end('bad signature'); return; }
    sendFile(req, res, f, { etag: `"${m[1]}"` });
  });

  const hub = createServer((req, res) => {
    requests.push({ server: 'hub', method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization });
    const url = new URL(req.url!, 'http://hub');
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const hfError = (status: number, code: string, message: string) => json(status, { error: message }, { 'x-error-code': code, 'x-error-message': message });
    // Like Hugging Face: a gated repo's info and file list are public; its files need a token with access.
    const hfRepo = (owner: string, name: string, download = false) => {
      const r = find('huggingface', `${owner}/${name}`);
      if (!r) { hfError(authorized(req) ? 404 : 401, 'RepoNotFound', 'Repository not found'); return undefined; }
      if (r.gated && download && !authorized(req)) {
        const status = req.headers.authorization ? 403 : 401;
        hfError(status, 'GatedRepo', `Access to model ${r.repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
        return undefined;
      }
      return r;
    };
    let m: RegExpExecArray | null;
    // Hugging Face: revision info.
    if ((m = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/([^/]+)$/.exec(url.pathname))) {
      const r = hfRepo(m[1], m[2]);
      if (!r) return;
      const rev = decodeURIComponent(m[3]);
      if (rev !== 'main' && rev !== COMMIT) { hfError(404, 'RevisionNotFound', `Invalid rev id: ${rev}`); return; }
      json(200, { id: r.repo, sha: COMMIT, siblings: r.files.map((f) => ({ rfilename: f.path })) });
      return;
    }
    // Hugging Face: the file tree, paged.
    if ((m = /^\/api\/models\/([^/]+)\/([^/]+)\/tree\/([^/]+)$/.exec(url.pathname))) {
      const r = hfRepo(m[1], m[2]);
      if (!r) return;
      const entries = [
        ...r.files.map((f) => ({
          type: 'file', path: f.path, size: f.data.length, oid: gitOid(isLfs(f) ? Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.data)}\n`) : f.data),
          ...(isLfs(f) ? { lfs: { oid: sha256(f.data), size: f.data.length, pointerSize: 134 } } : {}),
        })),
        ...(r.extraListing ?? []).map((p) => ({ type: 'file', path: p, size: 10, oid: '0'.repeat(40) })),
        { type: 'directory', path: 'sub', size: 0, oid: '1'.repeat(40) },
      ];
      const size = o.pageSize ?? 1000;
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const page = entries.slice(cursor, cursor + size);
      const headers: Record<string, string> = {};
      if (cursor + size < entries.length) headers.link = `<${url.pathname}?recursive=true&cursor=${cursor + size}>; rel="next"`;
      json(200, page, headers);
      return;
    }
    // Hugging Face: resolve a file.
    if ((m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname))) {
      const r = hfRepo(m[1], m[2], true);
      if (!r) return;
      const path = m[4].split('/').map(decodeURIComponent).join('/');
      const f = r.files.find((x) => x.path === path);
      if (!f) { hfError(404, 'EntryNotFound', `${path} does not exist`); return; }
      if (isLfs(f)) {
        const sha = sha256(f.data);
        res.writeHead(302, { location: `${cdnUrl}/blobs/${sha}?sig=ok`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(f.data.length), 'x-repo-commit': COMMIT }).end();
        return;
      }
      sendFile(req, res, f, { etag: `"${gitOid(f.data)}"`, 'x-repo-commit': COMMIT });
      return;
    }
    // ModelScope: the file list.
    if ((m = /^\/api\/v1\/models\/([^/]+)\/([^/]+)\/repo\/files$/.exec(url.pathname))) {
      const r = find('modelscope', `${m[1]}/${m[2]}`);
      if (!r) { json(404, { Code: 10010205, Message: `model ${m[1]}/${m[2]} not exists`, Success: false }); return; }
      if (r.gated && !authorized(req)) { json(401, { Code: 10010401, Message: 'gated: please log in and accept the license', Success: false }); return; }
      const files = [
        // Each file's Revision is the last commit that touched it (older ones for the first files), as on ModelScope.
        ...r.files.map((f, i) => ({ Name: f.path.split('/').pop(), Path: f.path, Type: 'blob', Size: f.data.length, Sha256: sha256(f.data), Revision: i === r.files.length - 1 ? COMMIT : `old${i}`.padEnd(40, '0') })),
        ...(r.extraListing ?? []).map((p) => ({ Name: p, Path: p, Type: 'blob', Size: 10, Sha256: '0'.repeat(64), Revision: COMMIT })),
        { Name: 'sub', Path: 'sub', Type: 'tree', Size: 0, Sha256: '', Revision: COMMIT },
      ];
      json(200, { Code: 200, Data: { Files: files }, Message: 'success', Success: true });
      return;
    }
    // ModelScope: a file.
    if ((m = /^\/api\/v1\/models\/([^/]+)\/([^/]+)\/repo$/.exec(url.pathname))) {
      const r = find('modelscope', `${m[1]}/${m[2]}`);
      const f = r?.files.find((x) => x.path === url.searchParams.get('FilePath'));
      const rev = url.searchParams.get('Revision');
      // At an older commit the later files do not exist yet.
      if (!r || !f || (rev !== 'master' && rev !== COMMIT)) { json(404, { Code: 10010205, Message: 'file not exists', Success: false }); return; }
      if (r.gated && !authorized(req)) { json(401, { Code: 10010401, Message: 'gated', Success: false }); return; }
      sendFile(req, res, f, { etag: `"${sha256(f.data)}"` });
      return;
    }
    json(404, { error: 'not found' });
  });

  const listen = (s: Server) => new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  const cdnUrl = await listen(cdn);
  const url = await listen(hub);
  return {
    url,
    cdnUrl,
    requests,
    served,
    /** Env that points llama3-zh at this hub. */
    env: { HF_ENDPOINT: url, MODELSCOPE_DOMAIN: url } as Record<string, string>,
    async close() {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** Bytes that do not compress or repeat: a file's content that only a right download reproduces. */
export function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
