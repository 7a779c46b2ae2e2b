import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PHONE_MEMORY, WASM_MEMORY_LIMIT } from '../estimate/browser.js';
import { UserError } from '../errors.js';
import { writeSplit } from '../gguf/splitStream.js';
import { humanBytes } from '../util/human.js';
import type { SiteManifest } from '../web/siteModels.js';
import { builtPage, writeSiteFiles } from './files.js';
import { type SitePlan, sitePlan } from './models.js';

/**
 * `web export`: a static site that runs the models in the browser, written whole into a temp folder beside DIR
 * and then put in DIR's place, so an interrupted export leaves DIR as it was (and --force replaces it only at the end).
 */

export interface ExportModel { path: string; id: string }

export interface ExportOptions {
  dir: string;
  models: ExportModel[];
  ctx?: number;
  force?: boolean;
  partBytes?: number;
  engine: string;
  onProgress?(done: number, total: number): void;
}

export interface ExportReport {
  dir: string;
  plans: SitePlan[];
  /** Models a phone cannot hold (over PHONE_MEMORY): said, not refused. */
  notForPhones: string[];
}

function isNonEmptyDir(dir: string): boolean {
  if (!existsSync(dir)) return false;
  if (!statSync(dir).isDirectory()) throw new UserError(`${dir} is a file, not a folder; give a folder to write the site into`);
  return readdirSync(dir).length > 0;
}

/** Plan every model first: a model too big for a browser stops the export before anything is written. */
export function planModels(models: ExportModel[], o: { ctx?: number; partBytes?: number }): SitePlan[] {
  const ids = new Set<string>();
  return models.map((m) => {
    let id = m.id;
    for (let k = 2; ids.has(id); k++) id = `${m.id}-${k}`;
    ids.add(id);
    const plan = sitePlan(m.path, { id, ctx: o.ctx, partBytes: o.partBytes });
    if (plan.model.need > WASM_MEMORY_LIMIT) {
      const way = plan.fitsAt
        ? `quantize it to ${plan.fitsAt} (llama3-zh quantize ${basename(m.path)} ${plan.fitsAt}), give a smaller --ctx-size, or use a 1B–3B model`
        : 'no quant of a model this size fits: use a 1B–3B model';
      throw new UserError(`${m.path} needs about ${humanBytes(plan.model.need)} in a browser (its weights, a ${plan.model.ctx}-token KV cache and one batch), ` +
        `more than the ${humanBytes(WASM_MEMORY_LIMIT)} a browser tab can hold (WebAssembly's limit); ${way}`);
    }
    return plan;
  });
}

export async function exportSite(o: ExportOptions): Promise<ExportReport> {
  const dir = resolve(o.dir);
  if (isNonEmptyDir(dir) && !o.force) throw new UserError(`${o.dir} is not empty; pass --force to replace it with the site, or give a new folder`);
  builtPage();
  const plans = planModels(o.models, o);
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.export-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  // Ctrl+C mid-export: the half-made site goes, DIR stays as it was.
  const interrupted = () => { rmSync(tmp, { recursive: true, force: true }); process.exit(130); };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const total = plans.reduce((n, p) => n + p.model.bytes, 0);
    let before = 0;
    for (const p of plans) {
      const folder = join(tmp, p.folder);
      mkdirSync(folder, { recursive: true });
      await writeSplit(p.split, folder, (done) => o.onProgress?.(before + done, total));
      before += p.model.bytes;
    }
    const manifest: SiteManifest = { format: 1, engine: o.engine, models: plans.map((p) => p.model) };
    writeSiteFiles(tmp, JSON.stringify(manifest, null, 2) + '\n');
    // DIR's old content goes only once the new site is whole.
    const old = existsSync(dir) ? join(dirname(dir), `.${basename(dir)}.old-${process.pid}`) : undefined;
    if (old) renameSync(dir, old);
    renameSync(tmp, dir);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  return { dir, plans, notForPhones: plans.filter((p) => p.model.need > PHONE_MEMORY).map((p) => p.model.id) };
}
