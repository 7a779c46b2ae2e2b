import { resolve } from 'node:path';
import { humanBytes } from '../../util/human.js';
import { remakeHint } from '../../hub/created.js';
import { type LocalModel, listStore, modelsDir, storeJson, storeName, useModelsDir } from '../../hub/store.js';
import { parseFlags } from '../flags.js';

const HELP = `llama3-zh ls [--json] [--models-dir DIR]

The models in the local store: pulled ones (with the hub, revision and quant they came with),
GGUF files and model folders put there by hand, and unfinished downloads (the same pull resumes
them). NAME is what chat, serve and rm take.`;

/** Where a stored model came from: a hub at a commit, what it was created from, or a person's hands. */
function source(m: LocalModel): string {
  const c = m.entry?.created;
  // A path as typed (./sft) means nothing from another folder: the absolute one then.
  if (c) return `${c.auto ? 'converted' : 'created'} from ${resolve(c.from) === c.source ? c.source : c.from}${c.adapter ? ` + ${c.adapter}` : ''}`;
  return m.entry?.hub ? `${m.entry.hub}@${(m.entry.commit ?? '').slice(0, 7)}` : 'added by hand';
}

/** The store as a table: what `ls` prints, and `models` under the catalog. */
export function storeTable(models: LocalModel[]): string[] {
  const rows = models.map((m) => [
    storeName(m),
    m.format === 'gguf' ? `GGUF${m.quant ? ` ${m.quant}` : ''}` : 'safetensors',
    humanBytes(m.bytes),
    !m.complete ? (m.entry?.created ? `FILE GONE: ${remakeHint(m)}` : `INCOMPLETE, to resume: llama3-zh pull ${storeName(m)}`) : source(m),
    m.complete ? m.entry?.pulledAt.slice(0, 10) ?? '' : '',
  ]);
  const head = ['NAME', 'FORMAT', 'SIZE', 'SOURCE', 'PULLED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

export async function lsCommand(args: string[]): Promise<void> {
  const { values } = parseFlags('ls', args, { json: { type: 'boolean' }, 'models-dir': { type: 'string' } });
  if (values.help) { console.log(HELP); return; }
  useModelsDir(values['models-dir']);
  const models = listStore();
  if (values.json) {
    console.log(JSON.stringify(models.map(storeJson), null, 2));
    return;
  }
  if (models.length === 0) {
    console.log(`no models in ${modelsDir()} yet; 'llama3-zh models' lists what to pull, 'llama3-zh pull NAME' fetches one`);
    return;
  }
  console.log([...storeTable(models), '', `store: ${modelsDir()}`].join('\n'));
}
