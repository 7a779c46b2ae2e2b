import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ctx, Route } from '../context.js';

/** The browser chat page, bundled by scripts/build-web.mjs into dist/web (this file runs from dist/src/server/routes). */
const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Read once: three small files. */
const cache = new Map<string, Buffer>();
function file(name: string): Buffer | undefined {
  if (!cache.has(name)) {
    const p = join(WEB, name);
    if (!existsSync(p)) return undefined;
    cache.set(name, readFileSync(p));
  }
  return cache.get(name);
}

function serve(name: string) {
  return async (c: Ctx) => {
    const body = file(name);
    if (!body) {
      // ollama clients probe GET / to see that a server is up: answer 200 even without the page.
      c.res.writeHead(name === 'index.html' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' });
      c.res.end('llama3-zh is running; the web page is not built (run npm run build)\n');
      return;
    }
    c.res.writeHead(200, {
      'content-type': TYPES[name],
      'content-length': body.length,
      // The page may only load its own files and talk to this server: injected markup could not fetch or run anything else.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    c.res.end(body);
  };
}

export const webRoutes: Route[] = [
  { method: 'GET', path: '/', family: 'system', public: true, whileLoading: true, handler: serve('index.html') },
  { method: 'GET', path: '/assets/app.js', family: 'system', public: true, whileLoading: true, handler: serve('app.js') },
  { method: 'GET', path: '/assets/app.css', family: 'system', public: true, whileLoading: true, handler: serve('app.css') },
];
