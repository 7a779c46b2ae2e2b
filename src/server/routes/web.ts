import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISOLATION, PAGE_CSP } from '../../site/headers.js';
import type { Ctx, Route } from '../context.js';

/** The browser chat page, bundled by scripts/build-web.mjs into dist/web (this file runs from dist/src/server/routes). */
const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');

const FILES: Record<string, { file: string; type: string; big?: boolean }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/assets/local.js': { file: 'local.js', type: 'text/javascript; charset=utf-8' },
  '/assets/wasm/wllama.wasm': { file: 'wasm/wllama.wasm', type: 'application/wasm', big: true },
  '/assets/wasm/compat/wllama.wasm': { file: 'wasm/compat/wllama.wasm', type: 'application/wasm', big: true },
  '/assets/wasm/compat/wllama.js': { file: 'wasm/compat/wllama.js', type: 'text/javascript; charset=utf-8' },
};

/** Read once: the small files. The WebAssembly (10 and 18 MB) is sent from disk. */
const cache = new Map<string, Buffer>();
function small(name: string): Buffer | undefined {
  if (!cache.has(name)) {
    const p = join(WEB, name);
    if (!existsSync(p)) return undefined;
    cache.set(name, readFileSync(p));
  }
  return cache.get(name);
}

function serve(path: string) {
  const f = FILES[path];
  return async (c: Ctx) => {
    const p = join(WEB, f.file);
    if (!existsSync(p)) {
      // ollama clients probe GET / to see that a server is up: answer 200 even without the page.
      c.res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' });
      c.res.end('llama3-zh is running; the web page is not built (run npm run build)\n');
      return;
    }
    const size = f.big ? statSync(p).size : small(f.file)!.length;
    c.res.writeHead(200, {
      'content-type': f.type,
      'content-length': size,
      'content-security-policy': PAGE_CSP,
      ...ISOLATION,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    if (c.req.method === 'HEAD') { c.res.end(); return; }
    if (!f.big) { c.res.end(small(f.file)); return; }
    const stream = createReadStream(p);
    stream.on('error', () => c.res.destroy());
    c.res.on('close', () => stream.destroy());
    stream.pipe(c.res);
  };
}

/** The page and its files. A gateway serves them too; the models for the browser (browserModels.ts) only a server with its own GGUF. */
export const webRoutes: Route[] = Object.keys(FILES).map((path): Route => ({ method: 'GET', path, family: 'system', public: true, whileLoading: true, handler: serve(path) }));
