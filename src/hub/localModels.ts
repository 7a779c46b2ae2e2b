import { readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * What is in a model store laid out as <root>/<owner>/<name>/<files> (the hub's repo path): every .gguf file,
 * every Hugging Face model folder (one with a config.json), and partial downloads.
 */
export type LocalKind = 'gguf' | 'hf-folder' | 'partial';

export interface LocalModel {
  /** Absolute path of the file, or of the folder for 'hf-folder'. */
  path: string;
  /** owner/name: the first two folders under the root, when the entry is that deep. */
  repo?: string;
  /** Path inside the repo folder (or under the root when there is no repo); absent for a repo's own folder. */
  file?: string;
  kind: LocalKind;
  /** File size; for a folder, the sum of its files except GGUF files (listed on their own) and partials. */
  bytes: number;
}

/** Dot-files that come with a repo or an OS, not from an unfinished download. */
const ORDINARY_DOTFILES = new Set(['.gitattributes', '.gitignore', '.DS_Store']);

/** A download still in progress or abandoned: the store writes them as `x.part` or as dot-files. */
export function isPartialName(name: string): boolean {
  return name.endsWith('.part') || (name.startsWith('.') && !ORDINARY_DOTFILES.has(name));
}

/**
 * Every model under `root`, sorted by path. A missing root is an empty store. Folders whose names start
 * with '.' (tool caches, temp folders) are not entered; symlinked folders are followed once.
 */
export function listLocalModels(root: string): LocalModel[] {
  const out: LocalModel[] = [];
  const seen = new Set<string>();
  const stat = (p: string): Stats | undefined => {
    try {
      return statSync(p);
    } catch {
      return undefined; // a dangling symlink or a file removed while we look
    }
  };

  // A file belongs to a repo when it lies inside <owner>/<name>/; a folder when it is that folder or below it.
  const ofFile = (rel: string[]) =>
    rel.length >= 3 ? { repo: `${rel[0]}/${rel[1]}`, file: rel.slice(2).join('/') } : { file: rel.join('/') };
  const ofFolder = (rel: string[]) =>
    rel.length >= 2
      ? { repo: `${rel[0]}/${rel[1]}`, ...(rel.length > 2 ? { file: rel.slice(2).join('/') } : {}) }
      : { file: rel.join('/') };

  /** Walks one folder; returns the bytes that count towards an enclosing model folder. */
  const walk = (dir: string, rel: string[]): number => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return 0;
    }
    if (seen.has(real)) return 0;
    seen.add(real);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return 0; // unreadable: nothing we can list
    }
    let folderBytes = 0;
    let isModelFolder = false;
    for (const name of names) {
      const path = join(dir, name);
      const s = stat(path);
      if (!s) continue;
      const childRel = [...rel, name];
      if (s.isDirectory()) {
        if (name.startsWith('.')) continue;
        folderBytes += walk(path, childRel);
        continue;
      }
      if (!s.isFile()) continue;
      if (isPartialName(name)) {
        out.push({ path, ...ofFile(childRel), kind: 'partial', bytes: s.size });
      } else if (name.toLowerCase().endsWith('.gguf')) {
        out.push({ path, ...ofFile(childRel), kind: 'gguf', bytes: s.size });
      } else {
        if (name === 'config.json') isModelFolder = true;
        folderBytes += s.size;
      }
    }
    if (isModelFolder && rel.length > 0) {
      out.push({ path: dir, ...ofFolder(rel), kind: 'hf-folder', bytes: folderBytes });
    }
    return folderBytes;
  };

  const top = resolve(root);
  if (stat(top)?.isDirectory()) walk(top, []);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
