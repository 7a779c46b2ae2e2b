import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The local web server of bench:web: the harness page (bench/web), wllama's ESM build and wasm from node_modules,
 * and the model at /model.gguf, so the benchmark needs no network. `isolated` adds COOP/COEP: only a
 * cross-origin-isolated page gets SharedArrayBuffer, and without it wllama falls back to its single-thread path.
 */

const PAGE = fileURLToPath(new URL('../../bench/web/', import.meta.url));
const WLLAMA = dirname(createRequire(import.meta.url).resolve('@wllama/wllama/package.json'));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm' };

export interface WebServer { origin: string; modelUrl: string; /** bytes of the model sent so far */ modelBytes: () => number; close: () => Promise<void> }

/** `root` + the request's path, or undefined when the path climbs out of root. */
function inside(root: string, path: string): string | undefined {
  const p = normalize(join(root, path));
  return p.startsWith(root.endsWith(sep) ? root : root + sep) ? p : undefined;
}

export async function serveBench(modelPath: string, isolated: boolean): Promise<WebServer> {
  let sent = 0;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path === '/' ? join(PAGE, 'page.html')
      : path === '/model.gguf' ? modelPath
      : path.startsWith('/wllama/') ? inside(WLLAMA, path.slice('/wllama/'.length))
      : inside(PAGE, path.slice(1));
    let size: number;
    try {
      const st = statSync(file ?? '');
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string | number> = { 'content-type': TYPES[extname(file!)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-store' };
    if (isolated) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    // wllama asks HEAD first for the size (its OPFS cache compares it), then GETs the whole file.
    res.writeHead(200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    const body = createReadStream(file!);
    if (file === modelPath) body.on('data', (c) => { sent += c.length; });
    body.pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    modelUrl: `${origin}/model.gguf`,
    modelBytes: () => sent,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}
