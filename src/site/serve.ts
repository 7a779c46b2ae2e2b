import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { UserError } from '../errors.js';
import { ISOLATION } from './headers.js';

/**
 * `web serve`: an exported site over HTTP with the two headers that make a page cross-origin isolated, so the
 * browser gives it SharedArrayBuffer and llama.cpp runs threads. Only files inside DIR; GET and HEAD only.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.webmanifest': 'application/manifest+json', '.svg': 'image/svg+xml',
  // WebAssembly.instantiateStreaming takes only this type.
  '.wasm': 'application/wasm', '.gguf': 'application/octet-stream',
};

export async function serveSite(dir: string, o: { port: number; host: string }): Promise<{ url: string; close(): Promise<void> }> {
  const root = resolve(dir);
  try {
    statSync(join(root, 'models.json'));
  } catch {
    throw new UserError(`${dir} is not an exported site (no models.json); make one with llama3-zh web export ${dir} --model FILE.gguf`);
  }
  const realRoot = realpathSync(root);
  const server = createServer((req, res) => {
    const headers = { ...ISOLATION, 'x-content-type-options': 'nosniff' };
    const fail = (status: number, text: string) => { res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' }); res.end(text + '\n'); };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'GET or HEAD only');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return fail(400, 'bad path');
    }
    let file = normalize(join(root, path.endsWith('/') ? path + 'index.html' : path));
    if (file !== root && !file.startsWith(root + sep)) return fail(403, 'outside the site');
    let size: number;
    try {
      // A link inside the site may point anywhere on the disk: what is served is where it leads, checked again.
      file = realpathSync(file);
      if (!file.startsWith(realRoot + sep)) return fail(403, 'outside the site');
      const st = statSync(file);
      if (!st.isFile()) return fail(404, 'not found');
      size = st.size;
    } catch {
      return fail(404, 'not found');
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') return res.end();
    const s = createReadStream(file);
    s.on('error', () => res.destroy());
    res.on('close', () => s.destroy());
    s.pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'EADDRINUSE' ? new UserError(`port ${o.port} is in use; pass --port N`) : e));
    server.listen(o.port, o.host, ok);
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
