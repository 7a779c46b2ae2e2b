import { UserError } from '../errors.js';
import type { RemoteFile } from './hubs.js';

export type PullFormat = 'gguf' | 'safetensors';

/** What a pull takes from a repo. */
export interface Selection {
  format: PullFormat;
  files: RemoteFile[];
  /** The file to load: the GGUF (its first part when split), or the folder's config.json. */
  primary: string;
  quant?: string;
  /** Said to the user: why these files. */
  note?: string;
}

export const DEFAULT_QUANT = 'Q4_K_M';
/** When the default quant is not there: the next best trade of size for quality, in order. */
const QUANT_PREFERENCE = ['Q4_K_M', 'Q4_K_S', 'Q5_K_M', 'Q4_0', 'IQ4_XS', 'Q5_K_S', 'Q6_K', 'Q8_0', 'Q3_K_L', 'Q3_K_M', 'BF16', 'F16', 'F32'];

const QUANT_RE = /(?:^|[-_./])(IQ[1-4]_(?:XXS|XS|S|M|NL)|Q[2-8]_K(?:_[SML]|_XL)?|Q4_0_[48]_[48]|Q[2-8]_[01]|BF16|FP16|F16|F32)(?=[-_./]|$)/i;
const SPLIT_RE = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** The quant type a GGUF's name says (Q4_K_M, Q8_0, F16, …); the file's own name before its folder's. */
export function quantOf(path: string): string | undefined {
  const m = QUANT_RE.exec(path.split('/').pop()!) ?? QUANT_RE.exec(path);
  if (!m) return undefined;
  const q = m[1].toUpperCase();
  return q === 'FP16' ? 'F16' : q;
}

interface GgufGroup {
  key: string;
  quant?: string;
  files: RemoteFile[];
}

/** GGUF files, split ones (x-00001-of-00003.gguf) together; vision projectors are not models. */
function ggufGroups(files: RemoteFile[]): GgufGroup[] {
  const groups = new Map<string, GgufGroup>();
  for (const f of files) {
    if (!f.path.toLowerCase().endsWith('.gguf') || /mmproj/i.test(f.path)) continue;
    const key = f.path.replace(SPLIT_RE, '.gguf');
    const g = groups.get(key) ?? { key, quant: quantOf(f.path), files: [] };
    g.files.push(f);
    groups.set(key, g);
  }
  for (const g of groups.values()) g.files.sort((a, b) => a.path.localeCompare(b.path));
  return [...groups.values()];
}

/** Files that make a Hugging Face model folder: config, tokenizer, weights; not Meta's original/ checkpoint. */
function folderFiles(files: RemoteFile[]): RemoteFile[] {
  const top = files.filter((f) => !f.path.includes('/'));
  const hasSafetensors = top.some((f) => f.path.endsWith('.safetensors'));
  const wanted = (p: string) => {
    const name = p.split('/').pop()!;
    if (p.includes('/')) return false;
    if (name.endsWith('.safetensors') || name === 'model.safetensors.index.json' || name === 'adapter_config.json') return true;
    if (!hasSafetensors && /^pytorch_model.*\.bin$|^pytorch_model\.bin\.index\.json$/.test(name)) return true;
    return /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|preprocessor_config)\.json$/.test(name)
      || /^(tokenizer\.model|chat_template\.jinja|README\.md|LICENSE.*|USE_POLICY\.md)$/i.test(name);
  };
  return top.filter((f) => wanted(f.path));
}

export interface PickOptions {
  /** Q4_K_M, or a file path in the repo (ends with .gguf or names a file). */
  spec?: string;
  format?: PullFormat;
}

/** Choose the files of one repo to pull: a GGUF by quant (default Q4_K_M), or the whole safetensors folder. */
export function pickFiles(repo: string, files: RemoteFile[], o: PickOptions = {}): Selection {
  const groups = ggufGroups(files);
  const spec = o.spec;
  if (spec && /\.[a-z0-9]+$/i.test(spec) && !/^[A-Z0-9_]+$/i.test(spec)) {
    const byName = files.filter((x) => x.path.split('/').pop() === spec);
    const f = files.find((x) => x.path === spec) ?? (byName.length === 1 ? byName[0] : undefined);
    if (!f && byName.length > 1) throw new UserError(`${repo} has ${byName.length} files named ${spec} (${byName.map((x) => x.path).join(', ')}); give the path`);
    if (!f) throw new UserError(`${repo} has no file ${spec}; its GGUF files: ${listGroups(groups) || 'none'}`);
    if (!f.path.toLowerCase().endsWith('.gguf')) throw new UserError(`${spec} is not a GGUF file; pull takes a GGUF by name, or a whole model folder with --format safetensors`);
    const g = groups.find((x) => x.files.includes(f));
    return g ? ggufSelection(g) : { format: 'gguf', files: [f], primary: f.path };
  }
  const wantGguf = o.format !== 'safetensors' && (o.format === 'gguf' || spec !== undefined || groups.length > 0);
  if (!wantGguf) {
    const sel = folderFiles(files);
    // A PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors): chat applies it over its base.
    if (!sel.some((f) => f.path === 'config.json') && sel.some((f) => f.path === 'adapter_config.json') && sel.some((f) => f.path.endsWith('.safetensors'))) {
      return { format: 'safetensors', files: sel, primary: 'adapter_config.json', note: 'a PEFT LoRA adapter: chat and serve apply it over its base model' };
    }
    if (!sel.some((f) => f.path === 'config.json')) {
      throw new UserError(`${repo} has no config.json${groups.length ? `; it has GGUF files: ${listGroups(groups)}` : ' and no GGUF files: it is not a model repo this can pull'}`);
    }
    if (!sel.some((f) => /\.(safetensors|bin)$/.test(f.path))) {
      throw new UserError(`${repo} has a config.json but no weights (*.safetensors or pytorch_model*.bin) at its top level; name a file with ${repo}:FILE`);
    }
    const pickle = sel.some((f) => f.path.endsWith('.bin'));
    return {
      format: 'safetensors',
      files: sel,
      primary: 'config.json',
      note: pickle ? 'this repo has PyTorch .bin weights (pickle files): load them only if you trust the publisher' : undefined,
    };
  }
  if (groups.length === 0) {
    throw new UserError(`${repo} has no GGUF files${files.some((f) => f.path === 'config.json') ? `; pull its safetensors with --format safetensors` : ''}`);
  }
  if (spec) {
    const want = spec.toUpperCase();
    const g = groups.filter((x) => x.quant === want);
    if (g.length === 1) return ggufSelection(g[0]);
    if (g.length > 1) throw new UserError(`${repo} has ${g.length} ${want} files (${g.map((x) => x.key).join(', ')}); name one as ${repo}:FILE`);
    throw new UserError(`${repo} has no ${want} GGUF; it has: ${listGroups(groups)}`);
  }
  if (groups.length === 1) return ggufSelection(groups[0]);
  for (const q of QUANT_PREFERENCE) {
    const g = groups.filter((x) => x.quant === q);
    if (g.length > 1) throw new UserError(`${repo} has ${g.length} ${q} files (${g.map((x) => x.key).join(', ')}); name one as ${repo}:FILE`);
    if (g.length === 1) {
      const s = ggufSelection(g[0]);
      return q === DEFAULT_QUANT ? s : { ...s, note: `no ${DEFAULT_QUANT} here; took ${q} (others: ${listGroups(groups)})` };
    }
  }
  throw new UserError(`${repo} has ${groups.length} GGUF files; choose one as ${repo}:QUANT or ${repo}:FILE: ${listGroups(groups)}`);
}

function ggufSelection(g: GgufGroup): Selection {
  return { format: 'gguf', files: g.files, primary: g.files[0].path, quant: g.quant };
}

/** The quants a repo has, by file name where two files share a quant. */
function listGroups(groups: GgufGroup[]): string {
  return groups.map((g) => (g.quant && groups.filter((x) => x.quant === g.quant).length === 1 ? g.quant : g.key)).join(', ');
}
