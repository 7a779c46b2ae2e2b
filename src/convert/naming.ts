/**
 * The general.* names convert_hf_to_gguf derives without a model card (gguf-py metadata.py
 * apply_metadata_heuristic): config.json's `_name_or_path` when it is a Hub id (at most one "/"), else the folder's
 * name, split by get_model_id_components into basename / size label / finetune / version, and a size label from the
 * parameter count (utility.size_label) when the name has none. The README model card (YAML front matter) is not
 * read here.
 */

export interface ModelNames {
  name?: string;
  organization?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

const isLower = (w: string) => w.toLowerCase() === w && w.toUpperCase() !== w;
const title = (w: string) => w.toLowerCase().replace(/(^|[^a-zA-Z])([a-z])/g, (_, p: string, c: string) => p + c.toUpperCase());

/** Metadata.id_to_title: "Meta-Llama-3-8B-Instruct" → "Meta Llama 3 8B Instruct" (lower-case words title-cased, versions kept). */
export function idToTitle(s: string): string {
  return s.trim().replace(/-/g, ' ').split(/\s+/).filter(Boolean)
    .map((w) => (isLower(w) && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? title(w) : w)).join(' ');
}

/** Metadata.get_model_id_components. */
export function modelIdComponents(id: string | undefined, totalParams: number) {
  if (id === undefined) return {};
  if (id.includes(' ')) return { full: id };
  let org: string | undefined;
  let full = id;
  const slash = id.indexOf('/');
  if (slash >= 0) { org = id.slice(0, slash); full = id.slice(slash + 1); }
  if (org !== undefined && org.length > 0 && org[0] === '.') org = undefined;
  const parts = full.split('-').filter((p) => p.length > 0);
  const types = parts.map(() => new Set<string>());
  parts.forEach((p, i) => {
    let part = p;
    if (/^(v|iter)?\d+([.]\d+)*$/i.test(part)) types[i].add('version');
    else if (/^(i?q\d(_\w)*|b?fp?(16|32))$/i.test(part)) { types[i].add('type'); parts[i] = part.toUpperCase(); }
    else if (i > 0 && /^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$/i.test(part)) {
      part = part.replace(/_/g, '.');
      if (/\d$/.test(part)) part = part.slice(0, -2) + '.' + part.slice(-1) + part.slice(-2, -1);
      if (part.length > 1 && /\d/.test(part[part.length - 2]) && 'kmbt'.includes(part[part.length - 1])) part = part.slice(0, -1) + part[part.length - 1].toUpperCase();
      if (totalParams !== 0) {
        const label = parseFloat(part.slice(0, -1)) * 1000 ** ' KMBT'.indexOf(part[part.length - 1]);
        if (!Number.isNaN(label) && ((totalParams < 0 && label < Math.floor(Math.abs(totalParams) / 8)) ||
            (totalParams > 0 && Math.abs(label - totalParams) > Math.floor((7 * totalParams) / 8)))) {
          types[i].add('finetune');
          part = part.slice(0, -1) + part[part.length - 1].toLowerCase();
        }
      }
      if (types[i].size === 0) types[i].add('size_label');
      parts[i] = part;
    } else if (i > 0 && /^(chat|instruct|vision|lora)$/i.test(part)) {
      types[i].add(totalParams < 0 && part.toLowerCase() === 'lora' ? 'type' : 'finetune');
    }
  });
  if (parts.some((n, i) => types[i].has('size_label') && /\d/.test(n))) {
    parts.forEach((n, i) => { if (types[i].has('size_label') && /^\p{L}+$/u.test(n)) types[i].delete('size_label'); });
  }
  let atStart = true;
  parts.forEach((p, i) => {
    const t = types[i];
    if (atStart && ((t.size === 0 && /^\p{L}/u.test(p)) || t.has('version'))) t.add('basename');
    else {
      atStart = false;
      if (t.size === 0) t.add('finetune');
    }
  });
  for (let i = parts.length - 1; i >= 0; i--) {
    if (types[i].has('basename') && types[i].size > 1) types[i].delete('basename');
    else break;
  }
  const join = (k: string, f = (_i: number) => true) => parts.filter((_, i) => types[i].has(k) && f(i)).join('-') || undefined;
  let basename = join('basename');
  const sizeLabel = [...new Set(parts.filter((_, i) => types[i].has('size_label')))].join('-') || undefined;
  const finetune = join('finetune');
  const version = join('version', (i) => !types[i].has('basename'));
  if (sizeLabel === undefined && finetune === undefined && version === undefined) basename = undefined;
  return { full, org, basename, finetune, version, sizeLabel };
}

/** utility.model_weight_count_rounded_notation with min_digits 2: 8030261248 → "8.0B". */
export function sizeLabel(params: number): string {
  const [scaled, suffix] = params > 1e12 ? [params * 1e-12, 'T'] : params > 1e9 ? [params * 1e-9, 'B'] : params > 1e6 ? [params * 1e-6, 'M'] : [params * 1e-3, 'K'];
  const fix = Math.max(2 - String(Math.round(scaled)).replace(/^0+/, '').length, 0);
  return `${scaled.toFixed(fix)}${suffix}`;
}

/** The names for a folder: `--name` wins for general.name; then `_name_or_path`, then the folder name. */
export function modelNames(folderName: string, nameOrPath: unknown, totalParams: number, override?: string): ModelNames {
  const m: ModelNames = {};
  const apply = (id: string) => {
    const c = modelIdComponents(id, totalParams);
    if (m.name === undefined && c.full !== undefined) m.name = idToTitle(c.full);
    if (m.organization === undefined && c.org !== undefined) m.organization = idToTitle(c.org);
    m.basename ??= c.basename;
    m.finetune ??= c.finetune;
    m.version ??= c.version;
    m.sizeLabel ??= c.sizeLabel;
  };
  if (typeof nameOrPath === 'string' && (nameOrPath.match(/\//g)?.length ?? 0) <= 1) apply(nameOrPath);
  apply(folderName);
  if (override !== undefined) m.name = override;
  m.name ??= folderName;
  if (m.sizeLabel === undefined && totalParams > 0) m.sizeLabel = sizeLabel(totalParams);
  return m;
}
