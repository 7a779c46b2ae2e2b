import { statSync } from 'node:fs';
import { BROWSER_CTX } from '../../estimate/browser.js';
import { partStream } from '../../gguf/splitStream.js';
import { type SitePlan, sitePlan, WLLAMA_VERSION } from '../../site/models.js';
import type { SiteManifest } from '../../web/siteModels.js';
import type { Ctx, Route } from '../context.js';
import { ApiError, sendJson } from '../http.js';
import type { ModelRegistry } from '../models.js';

/**
 * The page's "run in this browser": /web/models.json lists the served model as the browser engine takes it, and
 * /web/models/… sends its split parts, each made on the fly from the one GGUF (headers built in memory, tensor
 * data read from the file), so nothing is written beside the user's model. LoRA modules are not listed: the
 * browser engine would need the adapter too.
 */

/**
 * Made once per loaded registry (reading a GGUF's header is cheap, but not per request), and made again when the
 * file changed on disk: a part's URL is cached forever by the browser, so new bytes need a new URL (the key).
 */
const plans = new WeakMap<ModelRegistry, { plans: SitePlan[]; stamp: string }>();

function sitePlans(models: ModelRegistry): SitePlan[] {
  const m = models.base;
  const path = m.engine.info.path;
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}`;
  let p = plans.get(models);
  if (!p || p.stamp !== stamp) {
    p = { plans: [sitePlan(path, { id: m.id, ctx: Math.min(m.engine.info.contextSize, BROWSER_CTX) })], stamp };
    plans.set(models, p);
  }
  return p.plans;
}

async function manifest(c: Ctx) {
  const body: SiteManifest = { format: 1, engine: WLLAMA_VERSION, models: sitePlans(c.models).map((p) => p.model) };
  sendJson(c.res, 200, body, { 'cache-control': 'no-cache' });
}

/**
 * One "bytes=a-b" range (what browsers and download tools send); anything else, a reversed range included, gets
 * the whole part, as RFC 9110 says of a range it cannot read.
 */
function range(header: string | undefined, size: number): { start: number; end: number } | undefined | 'bad' {
  const m = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (!m[1] && !m[2]) || (m[1] && m[2] && Number(m[1]) > Number(m[2]))) return undefined;
  const start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
  const end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return start > end || start >= size ? 'bad' : { start, end };
}

async function part(c: Ctx) {
  const rest = c.url.pathname.slice('/web/'.length);
  const slash = rest.lastIndexOf('/');
  const plan = sitePlans(c.models).find((p) => p.folder === rest.slice(0, slash));
  const index = plan?.split.parts.findIndex((x) => x.name === rest.slice(slash + 1)) ?? -1;
  if (!plan || index < 0) throw new ApiError(404, `no model part ${c.url.pathname}; the parts are listed in /web/models.json`, 'not_found_error');
  const size = plan.split.parts[index].size;
  const r = range(c.req.headers.range, size);
  if (r === 'bad') throw new ApiError(416, `the range ${c.req.headers.range} is outside the part's ${size} bytes`, 'invalid_request_error', null, null, { 'content-range': `bytes */${size}` });
  const headers = {
    'content-type': 'application/octet-stream', 'accept-ranges': 'bytes',
    // The folder names the file's identity, so a part never changes under its URL.
    'cache-control': 'private, max-age=31536000, immutable',
    'cross-origin-resource-policy': 'same-origin',
  };
  if (r) c.res.writeHead(206, { ...headers, 'content-length': r.end - r.start + 1, 'content-range': `bytes ${r.start}-${r.end}/${size}` });
  else c.res.writeHead(200, { ...headers, 'content-length': size });
  if (c.req.method === 'HEAD') { c.res.end(); return; }
  const stream = partStream(plan.split, index, r);
  c.res.on('close', () => stream.destroy());
  await new Promise<void>((resolve) => {
    // A file that went away mid-part: the client sees a cut connection, never a part of wrong bytes.
    stream.on('error', () => c.res.destroy());
    c.res.on('close', resolve);
    stream.pipe(c.res);
  });
}

export const browserModelRoutes: Route[] = [
  { method: 'GET', path: '/web/models.json', family: 'system', handler: manifest },
  { method: 'GET', path: '/web/models/', family: 'system', prefix: true, handler: part },
];
