import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, resolve } from 'node:path';
import { browserNeed } from '../estimate/browser.js';
import { quantThatFits } from '../estimate/browserFit.js';
import { fromGguf } from '../estimate/source.js';
import { planSplit, type SplitPlan } from '../gguf/split.js';
import type { SiteModel } from '../web/siteModels.js';

/**
 * A GGUF as the browser gets it: llama.cpp split parts of at most 512 MiB (wllama's advice; one ArrayBuffer
 * cannot pass 2 GB), under a folder named by the file's identity, with what the engine will take in a tab.
 * `web export` writes these parts; `serve` sends them from the one file, part by part, as they are asked for.
 */

export const PART_BYTES = 512 * 2 ** 20;

/** The engine the page runs: models.json says which, the site carries its wasm. */
export const WLLAMA_VERSION = (createRequire(import.meta.url)('@wllama/wllama/package.json') as { version: string }).version;

export interface SitePlan {
  model: SiteModel;
  /** The largest usual quant at which the model would fit a tab (for the message when it does not as it is). */
  fitsAt?: string;
  split: SplitPlan;
  /** Folder of the parts, relative to models.json. */
  folder: string;
}

/** A name a URL and a file system both take as is. */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 80) || 'model';
}

export function sitePlan(path: string, o: { id: string; ctx?: number; partBytes?: number }): SitePlan {
  const src = fromGguf(path);
  const st = statSync(path);
  // The browser caches a model by URL and never asks again: another file behind the same name needs another URL.
  // The part size is in the key too: other parts under the same names could be mixed with cached ones.
  const maxBytes = o.partBytes ?? PART_BYTES;
  const key = createHash('sha256').update(`${resolve(path)}\0${st.size}\0${st.mtimeMs}\0${maxBytes}`).digest('hex').slice(0, 12);
  const base = safe(basename(path).replace(/\.gguf$/i, ''));
  const folder = `models/${base}-${key}`;
  const split = planSplit(path, { maxBytes, base });
  const need = browserNeed(src.shape, src.weights?.bytes ?? src.fileSize ?? 0, o.ctx);
  return {
    split,
    fitsAt: quantThatFits(src.shape, src.params, need.ctx),
    folder,
    model: {
      id: o.id,
      files: split.parts.map((p) => `${folder}/${p.name}`),
      bytes: split.parts.reduce((n, p) => n + p.size, 0),
      need: need.bytes,
      ctx: need.ctx,
    },
  };
}
