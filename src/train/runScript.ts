import type { TrainConfig } from './args.js';
import { DEFAULT_MASTER_PORT, launchPlan } from './launch.js';

/** `A=1 B=2 llamafactory-cli train train.yaml`; the rendezvous comes from the node's environment. */
function line(env: Record<string, string>, command: string[]): string {
  const vars = Object.entries(env).map(([k, v]) =>
    k === 'MASTER_ADDR' ? `MASTER_ADDR="$MASTER_ADDR"` : k === 'MASTER_PORT' ? `MASTER_PORT="\${MASTER_PORT:-${DEFAULT_MASTER_PORT}}"` : `${k}=${v}`);
  return [...vars, ...command].join(' ');
}

/**
 * DIR/run.sh: the exact command for each node, built by the same launchPlan as `train run`, so the two never
 * disagree. It changes to its own folder first: train.yaml's paths are relative to it. On several nodes the
 * script takes the node's rank and needs MASTER_ADDR (every node must name the same master; torchrun picks no
 * default that works across machines).
 */
export function runScript(config: TrainConfig, o: { recipe: string; gpus: number; nnodes: number }): string {
  const head = [
    '#!/usr/bin/env bash',
    `# Made by llama3-zh train init (recipe ${o.recipe}): starts LLaMA-Factory in this folder.`,
  ];
  if (o.nnodes === 1) {
    const p = launchPlan('.', config, { nproc: o.gpus });
    return [...head,
      '# The same as: llama3-zh train run .   (in this folder)',
      'set -euo pipefail',
      'cd -- "$(dirname -- "$0")"',
      line(p.env, p.command), ''].join('\n');
  }
  const cases = Array.from({ length: o.nnodes }, (_, r) => {
    const p = launchPlan('.', config, { nproc: o.gpus, nnodes: o.nnodes, nodeRank: r, masterAddr: '$MASTER_ADDR', masterPort: DEFAULT_MASTER_PORT });
    return `  ${r}) ${line(p.env, p.command)} ;;`;
  });
  return [...head,
    `# ${o.nnodes} nodes × ${o.gpus} GPU${o.gpus > 1 ? 's' : ''}. On each node, with this folder on a disk every node sees:`,
    '#   master (rank 0):  MASTER_ADDR=<this node\'s address> ./run.sh 0',
    ...Array.from({ length: o.nnodes - 1 }, (_, i) => `#   node ${i + 1}:           MASTER_ADDR=<the master's address> ./run.sh ${i + 1}`),
    `# The same as: llama3-zh train run . --nnodes ${o.nnodes} --node-rank R --master-addr HOST   (in this folder)`,
    'set -euo pipefail',
    'cd -- "$(dirname -- "$0")"',
    // No apostrophe in the message: inside "${…:?…}" bash reads one as an opening quote.
    ': "${MASTER_ADDR:?set MASTER_ADDR to the address of the master node, the same on every node}"',
    'case "${1:-}" in',
    ...cases,
    `  *) echo "usage: MASTER_ADDR=HOST ./run.sh NODE_RANK   (0 on the master, ${o.nnodes === 2 ? '1 on the other node' : `1…${o.nnodes - 1} on the others`})" >&2; exit 2 ;;`,
    'esac', ''].join('\n');
}
