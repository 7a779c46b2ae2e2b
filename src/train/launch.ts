import { UserError } from '../errors.js';
import type { TrainConfig } from './args.js';
import { RUN_FILES } from './runDir.js';

/** Where and how a run is spread: GPUs on this node, nodes, this node's rank, the rendezvous, or a Ray cluster. */
export interface LaunchOptions {
  /** CUDA device ids for this node ("0,1,2,3"); undefined: every GPU LLaMA-Factory sees. */
  gpus?: number[];
  /** GPUs per node when `gpus` is not a list (train init --gpus N); sets NPROC_PER_NODE. */
  nproc?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  ray?: boolean;
}

export interface LaunchPlan {
  command: string[];
  /** Only the variables llama3-zh sets (added to the caller's environment). */
  env: Record<string, string>;
  /** Working directory: the run folder, so train.yaml's relative paths resolve. */
  cwd: string;
}

/** torchrun's default rendezvous port; a fixed one, because every node must name the same. */
export const DEFAULT_MASTER_PORT = 29500;

/**
 * The environment LLaMA-Factory's launcher (src/llamafactory/launcher.py) reads before it decides how to start:
 * it runs torchrun when FORCE_TORCHRUN is set or it sees more than one GPU (and not USE_RAY), with NNODES,
 * NODE_RANK, NPROC_PER_NODE, MASTER_ADDR and MASTER_PORT (a random free port unless set — fatal on several
 * nodes, where every node must agree). DeepSpeed is only initialised under torchrun, so a DeepSpeed config needs
 * FORCE_TORCHRUN even on one GPU. USE_RAY=1 hands the run to Ray (ray_num_workers in the YAML).
 */
export function launchPlan(dir: string, config: TrainConfig, o: LaunchOptions = {}): LaunchPlan {
  const env: Record<string, string> = {};
  const nnodes = o.nnodes ?? 1;
  if (!Number.isInteger(nnodes) || nnodes < 1) throw new UserError(`--nnodes must be a whole number of at least 1, not ${nnodes}`);
  const nproc = o.gpus?.length ?? o.nproc;
  if (o.gpus) env.CUDA_VISIBLE_DEVICES = o.gpus.join(',');
  if (o.ray) {
    if (nnodes > 1) throw new UserError('--ray and --nnodes do not go together: a Ray cluster places the workers itself (start the run on its head node)');
    env.USE_RAY = '1';
    return { command: ['llamafactory-cli', 'train', RUN_FILES.config], env, cwd: dir };
  }
  const distributed = nnodes > 1 || (nproc ?? 1) > 1 || typeof config.deepspeed === 'string' || config.deepspeed != null;
  if (distributed) env.FORCE_TORCHRUN = '1';
  if (nproc !== undefined) env.NPROC_PER_NODE = String(nproc);
  if (nnodes > 1) {
    const rank = o.nodeRank;
    if (rank === undefined) throw new UserError(`a run on ${nnodes} nodes needs --node-rank R on each (0 on the master, 1…${nnodes - 1} on the others)`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= nnodes) throw new UserError(`--node-rank must be 0…${nnodes - 1} for ${nnodes} nodes, not ${rank}`);
    if (!o.masterAddr) throw new UserError('a run on several nodes needs --master-addr HOST: the master node\'s address as the other nodes reach it (the same on every node)');
    env.NNODES = String(nnodes);
    env.NODE_RANK = String(rank);
    env.MASTER_ADDR = o.masterAddr;
    env.MASTER_PORT = String(o.masterPort ?? DEFAULT_MASTER_PORT);
  } else {
    if (o.masterAddr) env.MASTER_ADDR = o.masterAddr;
    if (o.masterPort !== undefined) env.MASTER_PORT = String(o.masterPort);
  }
  return { command: ['llamafactory-cli', 'train', RUN_FILES.config], env, cwd: dir };
}
