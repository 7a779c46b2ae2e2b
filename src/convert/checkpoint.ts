/**
 * The weights of a Hugging Face model folder: one model.safetensors, or shards listed by
 * model.safetensors.index.json's weight_map. The index and the shards must agree exactly — every tensor the
 * index names is in its shard, and no shard holds a tensor the index does not list — because a converter that
 * trusted either one alone would write a model with a tensor missing or taken from the wrong file.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { readSmallFile } from '../util/files.js';
import { readSafetensors, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';

export interface CheckpointTensor extends SafetensorsTensor {
  file: SafetensorsFile;
}

export interface Checkpoint {
  dir: string;
  files: SafetensorsFile[];
  /** Every tensor by its Hugging Face name. */
  tensors: Map<string, CheckpointTensor>;
}

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';

/** A shard name from the index: a plain file name in the folder, never a path out of it. */
function shardName(dir: string, name: unknown): string {
  if (typeof name !== 'string' || name === '' || name !== basename(name) || name === '.' || name === '..') {
    throw new UserError(`${join(dir, INDEX)}: the weight_map names ${JSON.stringify(name)}, which is not a file name in the folder`);
  }
  return name;
}

export function readCheckpoint(dir: string): Checkpoint {
  const indexPath = join(dir, INDEX);
  if (!existsSync(indexPath)) {
    if (!existsSync(join(dir, SINGLE))) throw new UserError(`${dir} has no ${SINGLE} and no ${INDEX}: not a Hugging Face safetensors model folder`);
    const file = readSafetensors(join(dir, SINGLE));
    return { dir, files: [file], tensors: new Map(file.tensors.map((t) => [t.name, { ...t, file }])) };
  }
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(readSmallFile(indexPath, 'index file'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${indexPath} is not valid JSON (${(e as Error).message})`);
  }
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new UserError(`${indexPath} has no "weight_map" object`);
  const wanted = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) wanted.set(tensor, shardName(dir, shard));
  const shards = [...new Set(wanted.values())].sort();
  for (const s of shards) {
    if (!existsSync(join(dir, s))) throw new UserError(`${join(dir, s)} is missing: ${INDEX} lists it; download the whole model again`);
  }
  const files = shards.map((s) => readSafetensors(join(dir, s)));
  const tensors = new Map<string, CheckpointTensor>();
  for (const file of files) {
    const shard = basename(file.path);
    for (const t of file.tensors) {
      const listed = wanted.get(t.name);
      if (listed !== shard) {
        throw new UserError(listed === undefined
          ? `${file.path} holds tensor "${t.name}", which ${INDEX} does not list: the index and the shards disagree`
          : `tensor "${t.name}" is in ${shard} but ${INDEX} puts it in ${listed}: the index and the shards disagree`);
      }
      tensors.set(t.name, { ...t, file });
    }
  }
  for (const [name, shard] of wanted) {
    if (!tensors.has(name)) throw new UserError(`${INDEX} puts tensor "${name}" in ${shard}, which does not hold it: the index and the shards disagree`);
  }
  return { dir, files, tensors };
}
