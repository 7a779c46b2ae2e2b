import { relative } from 'node:path';
import { humanBytes } from '../../gguf/summary.js';
import { listStore, modelsDir, repoDir, useModelsDir } from '../../hub/store.js';
import { parseFlags } from '../flags.js';

const HELP = `llama3-zh ls [--json] [--models-dir DIR]

The models in the local store: pulled ones (with the hub, revision and quant they came with),
GGUF files put there by hand, and unfinished downloads (resume them with the same pull).`;

/** The name to give chat, serve and rm for a stored model. */
export function storeName(m: ReturnType<typeof listStore>[number]): string {
  const rel = relative(repoDir(m.repo), m.path).split('\\').join('/');
  if (m.format === 'safetensors') return m.repo;
  return m.quant ? `${m.repo}:${m.quant}` : `${m.repo}/${rel}`;
}

export async function lsCommand(args: string[]): Promise<void> {
  const { values } = parseFlags('ls', args, { json: { type: 'boolean' }, 'models-dir': { type: 'string' } });
  if (values.help) { console.log(HELP); return; }
  useModelsDir(values['models-dir']);
  const models = listStore();
  if (values.json) {
    console.log(JSON.stringify(models.map((m) => ({
      name: storeName(m), repo: m.repo, path: m.path, format: m.format, quant: m.quant ?? null, bytes: m.bytes, complete: m.complete,
      partialBytes: m.partialBytes, hub: m.entry?.hub ?? null, revision: m.entry?.revision ?? null, commit: m.entry?.commit ?? null,
      catalogName: m.entry?.catalogName ?? null, pulledAt: m.entry?.pulledAt ?? null,
    })), null, 2));
    return;
  }
  if (models.length === 0) {
    console.log(`no models in ${modelsDir()} yet; 'llama3-zh models' lists what to pull, 'llama3-zh pull NAME' fetches one`);
    return;
  }
  const rows = models.map((m) => [
    storeName(m),
    m.format === 'gguf' ? `GGUF${m.quant ? ` ${m.quant}` : ''}` : 'safetensors',
    humanBytes(m.bytes),
    m.complete ? (m.entry ? `${m.entry.hub}@${m.entry.commit.slice(0, 7)}` : 'added by hand') : `INCOMPLETE, to resume: llama3-zh pull ${storeName(m)}`,
    m.entry?.pulledAt.slice(0, 10) ?? '',
  ]);
  const head = ['NAME', 'FORMAT', 'SIZE', 'SOURCE', 'PULLED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  console.log(`\nstore: ${modelsDir()}`);
}
