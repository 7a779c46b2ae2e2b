import { existsSync } from 'node:fs';
import { GgufError } from './errors.js';
import { readGguf, type ReadOptions } from './reader.js';
import { parseSplitName, SPLIT_COUNT, SPLIT_NO, SPLIT_TENSORS, splitPartName } from './splitNames.js';
import { type GgufFile, meta, ValueType } from './types.js';

/**
 * A model's header with the tensors of all its parts when it is a llama.cpp split GGUF (as Hugging Face has
 * many, and as `web export` writes): llama_model_loader opens the first part, finds the others by name
 * (llama_split_path) and checks each one's split.no, so we check the same before it does. Metadata is the first
 * part's; each tensor's offset is within its own part's data, so this view is for checking names and shapes.
 * An unsplit file is returned as readGguf reads it.
 */
export function readSplitModel(path: string, opts: ReadOptions = {}): GgufFile {
  const first = checkSplitKeys(readGguf(path, opts));
  const count = meta<number>(first, SPLIT_COUNT);
  if (count === undefined || count <= 1) return first;
  const no = meta<number>(first, SPLIT_NO);
  const name = parseSplitName(path);
  if (no !== 0) {
    const hint = name ? `; load ${splitPartName(name.prefix, 0, count)}` : '';
    throw new GgufError(`${path} is part ${Number(no) + 1} of ${count} of a split model; llama.cpp loads one from its first part${hint}`);
  }
  if (!name || name.index !== 0 || name.count !== count) {
    throw new GgufError(`${path} is the first of ${count} parts of a split model, but llama.cpp finds the others by the first's name, which must end in -00001-of-${String(count).padStart(5, '0')}.gguf; rename the parts as llama-gguf-split named them`);
  }
  const tensors = [...first.tensors];
  for (let i = 1; i < count; i++) {
    const part = splitPartName(name.prefix, i, count);
    if (!existsSync(part)) throw new GgufError(`${path} is split into ${count} parts, but part ${i + 1}, ${part}, is missing; download all the parts into one folder`);
    const f = checkSplitKeys(readGguf(part, opts));
    if (meta(f, SPLIT_NO) !== i || meta(f, SPLIT_COUNT) !== count) {
      throw new GgufError(`${part} is not part ${i + 1} of ${count} of ${path} (its split.no is ${meta(f, SPLIT_NO)}, split.count ${meta(f, SPLIT_COUNT)}); download the parts again`);
    }
    tensors.push(...f.tensors);
  }
  const declared = meta<number>(first, SPLIT_TENSORS);
  if (declared !== undefined && declared !== tensors.length) {
    throw new GgufError(`${path}: its ${count} parts hold ${tensors.length} tensors but ${SPLIT_TENSORS} says ${declared}; download the parts again`);
  }
  const seen = new Set<string>();
  for (const t of tensors) {
    // llama_model_loader refuses a tensor name twice across parts ("invalid model: tensor '…' is duplicated").
    if (seen.has(t.name)) throw new GgufError(`${path}: tensor ${t.name} is in two of its parts; download the parts again`);
    seen.add(t.name);
  }
  return { ...first, tensors };
}

const SPLIT_TYPES: [string, ValueType, string][] = [[SPLIT_NO, ValueType.UINT16, 'u16'], [SPLIT_COUNT, ValueType.UINT16, 'u16'], [SPLIT_TENSORS, ValueType.INT32, 'i32']];

/** llama.cpp reads the split keys with a strict type, and one of another type aborts the process (SIGABRT). */
function checkSplitKeys(f: GgufFile): GgufFile {
  for (const [key, type, name] of SPLIT_TYPES) {
    const kv = f.metadata.get(key);
    if (kv && kv.type !== type) throw new GgufError(`${f.path}: ${key} must be a ${name} (llama.cpp aborts on any other type); remake the parts with llama-gguf-split`);
  }
  return f;
}
