import { dirname, relative } from 'node:path';
import {
  CATALOG, type CatalogModel, DEFAULT_MODEL_NAME, findModel, HUB_IDS, hubUrl, KINDS, modelHubs, modelRepos,
} from '../../hub/catalog.js';
import { type LocalModel, listStore, modelsDir, storeJson, storeName, useModelsDir } from '../../hub/store.js';
import { storeTable } from './ls.js';
import { browserDetail, browserLine } from './modelsBrowser.js';
import { browserFit, browserMark, type BrowserFit } from '../../estimate/browserFit.js';
import { UserError } from '../../errors.js';
import { humanBytes } from '../../util/human.js';
import { closest } from '../../util/similar.js';
import { parseFlags } from '../flags.js';

const HELP = `llama3-zh models — the model catalog and the models you have

  llama3-zh models [--kind K] [--search TEXT] [--json]
      Every Chinese Llama-3 model the llama3-Chinese-chat README lists: family and size, kind,
      context length, the chat template to use, and the hubs it can be pulled from (✓ marks
      those in the local store). Then the local models: every .gguf file and Hugging Face model
      folder in the store, with size, and unfinished downloads (as llama3-zh ls shows them).
      --kind K        only models whose kind contains K (${KINDS.join(', ')})
      --search TEXT   only models whose name, title, publisher, repos, recipe or notes contain TEXT
      --json          {"catalog": [...], "local": [...]}; each catalog entry has "browser":
                      {weightBytes, q4Bytes, ctx, phone, tab}, the memory it needs at Q4_K_M
      BROWSER: where the model runs with llama3-zh web export at Q4_K_M (weights whole in
      the WebAssembly heap, a 4096-token context): "phone" (at most 1.5 GiB, what a phone's
      browser lets a tab hold), "tab" (at most 4 GiB, WebAssembly's limit: a laptop's
      browser), "-" neither. The line under the table says what would fit.

  llama3-zh models NAME [--json]
      One model in full: recipe, sources as links, GGUF files, the memory it needs in a
      browser, notes, and the pull command.
      NAME is a catalog name or a repo id (owner/name) on Hugging Face or ModelScope.

  --models-dir DIR  the store (default ${'$'}LLAMA3ZH_MODELS or ~/.cache/llama3-zh/models), laid out as owner/name/files.`;

/** A catalog entry as --json shows it: the data, whether the store has it, and where it runs in a browser. */
export type ListedModel = CatalogModel & { inStore: boolean; browser: BrowserFit };

export async function modelsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('models', args, {
    json: { type: 'boolean' },
    kind: { type: 'string' },
    search: { type: 'string' },
    'models-dir': { type: 'string' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length > 1) throw new UserError('usage: llama3-zh models [NAME] [--kind K] [--search TEXT] [--json]', 2);

  useModelsDir(values['models-dir']);
  const root = modelsDir();
  const local = listStore();
  if (positionals.length === 1) return showOne(positionals[0], local, root, !!values.json);

  const models = filterCatalog({ kind: values.kind, search: values.search });
  const listed: ListedModel[] = models.map((m) => ({ ...m, inStore: localOf(m, local).length > 0, browser: browserFit(m.size) }));

  if (values.json) {
    console.log(JSON.stringify({ catalog: listed, local: local.map(storeJson) }, null, 2));
    return;
  }
  const lines = [...catalogTable(listed, values.kind !== undefined || values.search !== undefined), '', ...localTable(local, root)];
  console.log(lines.join('\n'));
}

/** The catalog entries a --kind (a part of a kind's name) and a --search text select, in catalog order. */
export function filterCatalog(f: { kind?: string; search?: string }): CatalogModel[] {
  let models = [...CATALOG];
  if (f.kind !== undefined) {
    const k = f.kind.toLowerCase();
    if (!k || !KINDS.some((x) => x.toLowerCase().includes(k))) {
      throw new UserError(`unknown --kind "${f.kind}"; kinds: ${KINDS.join(', ')}`, 2);
    }
    models = models.filter((m) => m.kind.some((x) => x.toLowerCase().includes(k)));
  }
  if (f.search !== undefined) {
    const t = f.search.toLowerCase();
    models = models.filter((m) => searchText(m).includes(t));
  }
  return models;
}

/** The local entries that belong to a catalog model: those under one of its repos. */
export function localOf(m: CatalogModel, local: LocalModel[]): LocalModel[] {
  const repos = new Set(modelRepos(m).map((r) => r.toLowerCase()));
  return local.filter((l) => l.complete && repos.has(l.repo.toLowerCase()));
}

function searchText(m: CatalogModel): string {
  const other = Object.entries(m.sources).filter(([k]) => !(HUB_IDS as readonly string[]).includes(k)).map(([, v]) => v);
  return [m.name, m.title, m.publisher, m.family, m.size, m.recipe ?? '', m.notes ?? '', ...modelRepos(m), ...other]
    .join('\n').toLowerCase();
}

const HUB_SHORT: Record<string, string> = { huggingface: 'hf', modelscope: 'ms' };

/** Where pull can get it ("hf ms"), or, for the others, where the README points ("- (github)"). */
function pullFrom(m: CatalogModel): string {
  const hubs = modelHubs(m);
  if (hubs.length) return hubs.map((h) => HUB_SHORT[h]).join(' ');
  const sites = Object.keys(m.sources).filter((k) => !(HUB_IDS as readonly string[]).includes(k));
  return `- (${sites.join(', ')})`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/** The catalog as the table `models` prints. */
export function catalogTable(models: ListedModel[], filtered: boolean): string[] {
  if (!models.length) return [`Catalog: no model matches (${CATALOG.length} in all; llama3-zh models lists them)`];
  const of = filtered ? ` of ${CATALOG.length}` : '';
  const rows = [['NAME', 'MODEL', 'KIND', 'CONTEXT', 'TEMPLATE', 'PULL FROM', 'BROWSER', 'LOCAL']];
  for (const m of models) {
    rows.push([m.name, `${m.family} ${m.size}`, m.kind.join(','), String(m.contextLength), m.template, pullFrom(m), browserMark(m.browser), m.inStore ? '✓' : '']);
  }
  return [
    `Catalog: ${models.length}${of} models; default ${DEFAULT_MODEL_NAME}. Details: llama3-zh models NAME`, '', ...table(rows),
    '', browserLine(models.map((m) => m.browser)),
  ];
}

/** The local store as `models` prints it under the catalog. */
export function localTable(local: LocalModel[], root: string): string[] {
  if (!local.length) return [`Local models in ${root}: none (llama3-zh pull NAME downloads one)`];
  return [`Local models in ${root}:`, '', ...storeTable(local)];
}

function showOne(query: string, local: LocalModel[], root: string, json: boolean) {
  const m = findModel(query);
  if (!m) {
    const hint = closest(query, CATALOG.map((c) => c.name)).join(', ');
    throw new UserError(`no model "${query}" in the catalog; closest: ${hint} (llama3-zh models lists them all)`);
  }
  const mine = localOf(m, local);
  if (json) {
    console.log(JSON.stringify({ ...m, inStore: mine.length > 0, browser: browserFit(m.size), local: mine.map(storeJson) }, null, 2));
    return;
  }
  console.log(modelDetails(m, mine, root).join('\n'));
}

/** One catalog entry in full, as `models NAME` prints it; `mine` are its files in the store. */
export function modelDetails(m: CatalogModel, mine: LocalModel[], root: string): string[] {
  const rows: [string, string | string[] | undefined][] = [
    ['publisher', m.publisher],
    ['model', `${m.family} ${m.size}`],
    ['kind', m.kind.join(', ')],
    ['recipe', m.recipe],
    ['template', `${m.template}, replies end with ${m.stop}`],
    ['context', `${m.contextLength} tokens`],
    ['browser', browserDetail(browserFit(m.size))],
    ['weights', sourceUrls(m)],
    ['gguf', ggufLines(m)],
    ['notes', m.notes],
    ['in store', mine.length ? mine.map((l) => `${storeName(l)}  ${relative(root, l.format === 'gguf' ? l.path : dirname(l.path))} (${humanBytes(l.bytes)})`) : 'no'],
    ['pull', m.pullable ? `llama3-zh pull ${m.name}` : 'not on Hugging Face or ModelScope: get it from the links above'],
  ];
  const out = [`${m.name} — ${m.title}${m.name === DEFAULT_MODEL_NAME ? ' (the default model)' : ''}`];
  for (const [k, v] of rows) {
    if (v === undefined || (Array.isArray(v) && !v.length)) continue;
    const lines = Array.isArray(v) ? v : [v];
    lines.forEach((line, i) => out.push(`  ${(i ? '' : k).padEnd(10)} ${line}`));
  }
  return out;
}

function sourceUrls(m: CatalogModel): string[] {
  const urls: string[] = [];
  for (const hub of HUB_IDS) if (m.sources[hub]) urls.push(hubUrl(hub, m.sources[hub]!));
  for (const [k, v] of Object.entries(m.sources)) if (!(HUB_IDS as readonly string[]).includes(k) && v) urls.push(v);
  return urls;
}

function ggufLines(m: CatalogModel): string[] {
  const lines: string[] = [];
  for (const hub of HUB_IDS) {
    const g = m.gguf?.[hub];
    if (!g) continue;
    lines.push(hubUrl(hub, g.repo));
    const files = Object.entries(g.files);
    if (!files.length) lines.push('  (file names not recorded; pull lists them)');
    for (const [quant, file] of files) lines.push(`  ${quant.padEnd(7)} ${file}`);
  }
  return lines;
}
