import { UserError } from '../../errors.js';
import { parseFlags } from '../flags.js';

const HELP = `llama3-zh engine status [--json] [--cpu]

Which llama.cpp runs models on this machine, and why: the node-llama-cpp and llama.cpp release, the
binary (prebuilt, or built here), the GPU backend, the CPU library llama.cpp chose among those shipped
(one per CPU family: the best this CPU runs), its instruction sets, whether it uses OpenMP, how
weights are repacked at load, and the threads chat and serve use by default (-t N).

  --cpu      the CPU runtime only (what --gpu none loads), without probing CUDA or Vulkan
  --json     machine-readable

Example: llama3-zh engine status`;

export async function engineCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('engine', args, { json: { type: 'boolean' }, cpu: { type: 'boolean' } }, true);
  if (values.help || positionals.length === 0) { console.log(HELP); return; }
  const [sub, ...rest] = positionals;
  if (sub !== 'status') throw new UserError(`unknown subcommand '${sub}'; llama3-zh engine status (see llama3-zh engine --help)`, 2);
  if (rest.length) throw new UserError(`engine status takes no arguments (got '${rest[0]}')`, 2);
  const { runtimeInfo } = await import('../../engine/llamacpp/runtimeInfo.js');
  const info = await runtimeInfo(values.cpu ? false : 'auto');
  if (values.json) { console.log(JSON.stringify(info, null, 2)); return; }
  const rows: Array<[string, string]> = [
    ['llama.cpp', `${info.llamaCpp} through node-llama-cpp ${info.nodeLlamaCpp}`],
    ['binary', `${info.build === 'prebuilt' ? 'prebuilt (shipped with node-llama-cpp)' : 'built on this machine'}${info.binary ? `: ${info.binary}` : ''}`],
    ['GPU', info.gpu === 'none' ? 'none: the CPU runs every layer' : `${info.gpu}: layers are offloaded to it`],
    ['CPU library', info.cpuBackend
      ? `${info.cpuBackend}${info.cpuBackendsShipped.length > 1 ? ` (the best of the ${info.cpuBackendsShipped.length} shipped that this CPU runs)` : ''}`
      : 'not reported on this system'],
    ['CPU features', info.features.filter((f) => !['OPENMP', 'REPACK', 'LLAMAFILE'].includes(f)).join(' ') || 'none reported'],
    ['threads', `${info.threads} by default (-t N), the cores Node.js sees; llama.cpp counts ${info.mathCores} math cores`],
    ['thread pool', info.openmp ? 'OpenMP' : "ggml's own (this build has no OpenMP)"],
    ['repacking', info.repack ?? 'none: weights are used as stored'],
    ['memory', `mmap ${info.mmap ? 'yes' : 'no'}, mlock ${info.mlock ? 'yes' : 'no'}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}
