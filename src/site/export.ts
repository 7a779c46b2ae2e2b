import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { PHONE_MEMORY, WASM_MEMORY_LIMIT } from '../estimate/browserLimits.js';
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

/** `inner` is `outer` or lies inside it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Where the site goes: DIR itself, or what it links to (a "site -> releases/v3" link keeps pointing at the new
 * site). A folder with files is replaced only with --force, and only when it is an earlier export: --force on
 * the folder a model is in, or the one the user stands in, or any other folder of theirs would delete their files.
 */
function target(given: string, models: ExportModel[], force: boolean | undefined): string {
  let dir = resolve(given);
  if (existsSync(dir)) dir = realpathSync(dir);
  for (const m of models) {
    if (within(realpathSync(m.path), dir)) throw new UserError(`${given} holds the model ${m.path}; write the site into a folder of its own`);
  }
  if (within(process.cwd(), dir)) throw new UserError(`${given} is the folder you are in (or holds it); write the site into a folder of its own`);
  if (!existsSync(dir)) return dir;
  if (!statSync(dir).isDirectory()) throw new UserError(`${given} is a file, not a folder; give a folder to write the site into`);
  const files = readdirSync(dir);
  if (!files.length) return dir;
  const earlier = files.includes('models.json') && files.includes('sw.js') && files.includes('index.html');
  if (!earlier) throw new UserError(`${given} is not empty and holds no earlier web export; give a new or empty folder${force ? ' (--force replaces only an earlier export)' : ''}`);
  if (!force) throw new UserError(`${given} holds an earlier export; pass --force to replace it, or give a new folder`);
  return dir;
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
  const dir = target(o.dir, o.models, o.force);
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
