/**
 * A Hugging Face model folder's config.json, edited as text: only the values that change are rewritten, so
 * the key order, the 2-space indentation and Python's number style (`500000.0`, `1e-05`) that transformers
 * writes stay exactly as they were, and a diff shows just the edit.
 */
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readSmallFile, sameFile, writeFileAtomic } from '../util/files.js';
import { type ContextPlan, type ContextWant, planContext } from './plan.js';

export interface HfConfig {
  dir: string;
  path: string;
  text: string;
  json: Record<string, unknown>;
}

export function readHfConfig(dir: string): HfConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new UserError(`${dir} has no config.json, so it is not a Hugging Face model folder; give the folder that holds config.json, or a .gguf file`);
  }
  const text = readSmallFile(path, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path} is not valid JSON (${(e as Error).message}); fix or restore it (a backup may be in config.json.orig)`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${path} is not a JSON object`);
  return { dir, path, text, json: json as Record<string, unknown> };
}

/** What the config says now, and the rope_scaling it has if any (Llama-3.1: rope_type llama3, factor 8 over 8192). */
export function hfContextNow(cfg: HfConfig) {
  const n = (k: string) => (typeof cfg.json[k] === 'number' ? (cfg.json[k] as number) : undefined);
  const rs = cfg.json.rope_scaling as Record<string, unknown> | null | undefined;
  let scaling: string | undefined;
  if (rs && typeof rs === 'object') {
    const type = String(rs.rope_type ?? rs.type ?? 'unknown');
    if (type !== 'default') {
      const orig = rs.original_max_position_embeddings;
      scaling = `rope_type ${type}${rs.factor !== undefined ? `, factor ${rs.factor}` : ''}${orig !== undefined ? ` over ${orig}` : ''}`;
    }
  }
  return { ctx: n('max_position_embeddings'), theta: n('rope_theta'), thetaDefault: 10000, scaling };
}

export function planHfContext(cfg: HfConfig, want: ContextWant): ContextPlan {
  const now = hfContextNow(cfg);
  if (now.ctx === undefined) {
    throw new UserError(`${cfg.path} has no max_position_embeddings at the top level (a multimodal or non-Llama config?); edit it by hand`);
  }
  return planContext(now, want, { ctx: 'max_position_embeddings', theta: 'rope_theta' });
}

interface Member {
  key: string;
  keyStart: number;
  valueStart: number;
  valueEnd: number;
}

/** The top-level members of a JSON object text, with where their values lie. The text must be valid JSON. */
function topLevelMembers(text: string): { members: Member[]; close: number } {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] ?? '')) i++; };
  const skipString = () => {
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    if (text[i] === '"') return skipString();
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      do {
        if (text[i] === '"') { skipString(); continue; }
        if (text[i] === '{' || text[i] === '[') depth++;
        else if (text[i] === '}' || text[i] === ']') depth--;
        i++;
      } while (depth > 0);
      return;
    }
    while (i < text.length && !/[\s,}\]]/.test(text[i])) i++;
  };
  ws();
  i++; // {
  const members: Member[] = [];
  for (;;) {
    ws();
    if (text[i] === '}') return { members, close: i };
    const keyStart = i;
    skipString();
    const key = JSON.parse(text.slice(keyStart, i)) as string;
    ws();
    i++; // :
    ws();
    const valueStart = i;
    skipValue();
    members.push({ key, keyStart, valueStart, valueEnd: i });
    ws();
    if (text[i] === ',') i++;
  }
}

/** A number as Python's json writes it: floats keep a ".0" (rope_theta is a float in transformers). */
function pyNumber(v: number, float: boolean): string {
  if (float && Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  return String(v);
}

/**
 * Set top-level numeric values in the JSON text, changing nothing else. A missing key goes where sorted order
 * puts it (or last), written as a float when `float`.
 */
export function setJsonNumbers(text: string, values: Array<{ key: string; value: number; float: boolean }>): string {
  JSON.parse(text); // the scanner below relies on valid JSON
  let out = text;
  for (const { key, value, float } of values) {
    const { members, close } = topLevelMembers(out);
    const m = members.find((x) => x.key === key);
    if (m) {
      const was = out.slice(m.valueStart, m.valueEnd);
      // The style the file already uses for this key wins: 500000.0 stays a float, 500000 an integer.
      out = out.slice(0, m.valueStart) + pyNumber(value, /[.eE]/.test(was)) + out.slice(m.valueEnd);
      continue;
    }
    const entry = `${JSON.stringify(key)}: ${pyNumber(value, float)}`;
    if (members.length === 0) {
      out = `${out.slice(0, close)}\n  ${entry}\n${out.slice(close)}`;
      continue;
    }
    // The whitespace before a key (newline and indentation), reused for the new one.
    const indentOf = (x: Member) => /\s*$/.exec(out.slice(0, x.keyStart))![0];
    const sorted = members.every((x, j) => j === 0 || members[j - 1].key <= x.key);
    const before = sorted ? members.find((x) => x.key > key) : undefined;
    if (before) out = `${out.slice(0, before.keyStart)}${entry},${indentOf(before)}${out.slice(before.keyStart)}`;
    else {
      const last = members[members.length - 1];
      out = `${out.slice(0, last.valueEnd)},${indentOf(last)}${entry}${out.slice(last.valueEnd)}`;
    }
  }
  return out;
}

/** The new config.json text for a plan. */
export function editedConfigText(cfg: HfConfig, plan: ContextPlan): string {
  const values: Array<{ key: string; value: number; float: boolean }> = [];
  if (plan.ctx) values.push({ key: 'max_position_embeddings', value: plan.ctx.new, float: false });
  if (plan.theta) values.push({ key: 'rope_theta', value: plan.theta.new, float: true });
  const text = setJsonNumbers(cfg.text, values);
  // The splice must give exactly the intended object: same keys and values, but for the edited ones.
  const expected = { ...cfg.json, ...Object.fromEntries(values.map((v) => [v.key, v.value])) };
  const got = JSON.parse(text) as Record<string, unknown>;
  if (JSON.stringify(Object.keys(got).sort()) !== JSON.stringify(Object.keys(expected).sort()) ||
      Object.keys(expected).some((k) => JSON.stringify(got[k]) !== JSON.stringify(expected[k]))) {
    throw new Error(`editing ${cfg.path} as text did not give the expected JSON`);
  }
  return text;
}

export interface HfWriteReport {
  /** The config.json written. */
  path: string;
  /** In place: whether config.json.orig was made now (false: an older backup was kept, as it holds the original). */
  backupMade?: boolean;
  backup?: string;
  /** With --out: the other files of the model folder linked into it, and how. */
  linked?: { names: string[]; how: 'symlink' | 'hardlink' | 'mixed' };
}

/**
 * Write the new config.json. In place: the original is kept once as config.json.orig (an existing backup is
 * never overwritten: it holds the true original), then config.json is replaced atomically. With `out`: a new
 * folder whose config.json is the edited one and whose other files are symbolic links to the model's
 * (hard links where symbolic ones cannot be made), so the new folder loads as a whole model without copying.
 */
export function writeHfConfig(cfg: HfConfig, text: string, o: { out?: string; force?: boolean } = {}): HfWriteReport {
  if (o.out !== undefined && sameFile(o.out, cfg.dir)) {
    throw new UserError(`--out ${o.out} is the model folder itself; give another folder, or leave --out away to change its config.json in place (a backup is kept)`);
  }
  if (o.out === undefined) {
    const backup = join(cfg.dir, 'config.json.orig');
    let backupMade = false;
    if (!existsSync(backup)) {
      writeFileAtomic(backup, readFileSync(cfg.path));
      backupMade = true;
    }
    writeFileAtomic(cfg.path, text);
    return { path: cfg.path, backupMade, backup };
  }
  const out = o.out;
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UserError(`--out ${out} is a file; for a model folder, --out names a folder`);
  const dest = join(out, 'config.json');
  if (existsSync(dest) && !o.force) throw new UserError(`${dest} already exists; pass --force to replace it`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${out}: ${(e as Error).message}`);
  }
  const names: string[] = [];
  const kinds = new Set<'symlink' | 'hardlink'>();
  const outReal = realpathSync(out);
  for (const name of readdirSync(cfg.dir)) {
    if (name === 'config.json' || name === 'config.json.orig' || name.startsWith('.')) continue;
    if (realpathSync(join(cfg.dir, name)) === outReal) continue; // --out inside the model folder: not a link to itself
    const target = join(out, name);
    if (existsSync(target)) continue;
    const src = resolve(cfg.dir, name);
    try {
      symlinkSync(src, target, statSync(src).isDirectory() ? 'junction' : 'file');
      kinds.add('symlink');
    } catch {
      try {
        linkSync(src, target);
        kinds.add('hardlink');
      } catch (e) {
        throw new UserError(`cannot link ${src} into ${out}: ${(e as Error).message}; copy the model's files there yourself`);
      }
    }
    names.push(name);
  }
  writeFileAtomic(dest, text);
  return { path: dest, linked: { names, how: kinds.size > 1 ? 'mixed' : kinds.has('hardlink') ? 'hardlink' : 'symlink' } };
}

