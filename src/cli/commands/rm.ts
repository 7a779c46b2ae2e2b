import { UserError } from '../../errors.js';
import { humanBytes } from '../../util/human.js';
import { parseModelRef, reposOf } from '../../hub/modelRef.js';
import { matchLocal, removeLocal, storeName, useModelsDir } from '../../hub/store.js';
import { parseFlags } from '../flags.js';


const HELP = `llama3-zh rm MODEL... [--models-dir DIR]

Delete models from the local store, by the names 'llama3-zh ls' shows (owner/name[:QUANT],
owner/name/FILE, or a catalog name). Without :QUANT every pull of that repo goes, with its
unfinished downloads. Files outside the store are never touched.`;

export async function rmCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('rm', args, { 'models-dir': { type: 'string' } }, true);
  if (values.help) { console.log(HELP); return; }
  if (positionals.length === 0) throw new UserError('usage: llama3-zh rm MODEL... (see llama3-zh ls)', 2);
  useModelsDir(values['models-dir']);
  // Find them all first: a typo in the third name removes nothing.
  const targets = positionals.map((arg) => {
    const ref = parseModelRef(arg);
    if (ref.kind === 'path') throw new UserError(`${arg} is a path; rm removes models from the store by name (see llama3-zh ls), delete other files yourself`, 2);
    // Every repo the name may be stored under (a catalog model's GGUF and weights repos, on either hub), finished or not.
    const repos = [...new Set(reposOf(ref).map((r) => r.repo))];
    const found = repos.flatMap((repo) => matchLocal(repo, ref.spec));
    if (found.length === 0) throw new UserError(`${arg} is not in the store; 'llama3-zh ls' lists what is`);
    return found;
  });
  for (const m of targets.flat()) {
    const freed = removeLocal(m);
    console.log(`removed ${storeName(m)} (${humanBytes(freed)})`);
  }
}
