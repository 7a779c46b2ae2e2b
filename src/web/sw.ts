/**
 * The exported site's service worker: it keeps the page, its scripts and llama.cpp's WebAssembly in Cache Storage
 * so the site opens with no network after the first visit (and installs as an app). The model's .gguf parts are
 * left alone: the engine keeps them in the browser's file storage (OPFS) itself. `web export` writes the site's
 * version into VERSION, so a new export replaces the old cache instead of mixing with it.
 */
/** The worker's scope, typed by hand: the page's own DOM types have no ServiceWorkerGlobalScope. */
interface SwEvent extends Event { waitUntil(p: Promise<unknown>): void; request: Request; respondWith(r: Promise<Response>): void }
const sw = globalThis as unknown as {
  addEventListener(type: string, listener: (e: SwEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
};

const VERSION = '__SITE_VERSION__';
const CACHE = `llama3zh-site-${VERSION}`;
/** What the page needs to open: fetched at install, so one visit is enough to work offline. */
const SHELL = ['./', 'index.html', 'assets/app.js', 'assets/app.css', 'assets/local.js', 'assets/wasm/wllama.wasm', 'models.json', 'manifest.webmanifest', 'icon.svg'];

sw.addEventListener('install', (e) => {
  // Past the HTTP cache: a host's max-age must not put the last export's files into this export's cache.
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' })))).then(() => sw.skipWaiting()));
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('llama3zh-site-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => sw.clients.claim()));
});

/** What says which models there are: from the network when it answers, so a re-export is seen at once. */
const FRESH = new Set(['/', '/index.html', '/models.json']);
/** A network that neither answers nor fails (a captive portal, a tunnel) must not hold the page: then the cache. */
const PATIENCE_MS = 4000;

async function fresh(c: Cache, req: Request): Promise<Response> {
  try {
    const res = await Promise.race([fetch(req, { cache: 'no-cache' }), new Promise<never>((_, no) => setTimeout(() => no(new Error('slow')), PATIENCE_MS))]);
    if (res.ok) await c.put(req, res.clone());
    return res;
  } catch {
    return (await c.match(req, { ignoreSearch: true })) ?? Response.error();
  }
}

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== sw.location.origin || url.pathname.endsWith('.gguf')) return;
  const scope = new URL('./', sw.location.href).pathname;
  const path = '/' + url.pathname.slice(scope.length);
  e.respondWith(caches.open(CACHE).then(async (c) => {
    if (req.mode === 'navigate' || FRESH.has(path)) return fresh(c, req);
    // The rest is this export's own (its cache is named by the site's version): cache first; what is not cached
    // yet (the Safari build) is kept once fetched.
    const hit = await c.match(req, { ignoreSearch: true });
    if (hit) return hit;
    const res = await fetch(req);
    if (res.ok && res.type === 'basic') await c.put(req, res.clone());
    return res;
  }));
});
