/**
 * llama.cpp's split GGUF conventions (tools/gguf-split/gguf-split.cpp, src/llama.cpp llama_split_path): the keys
 * every part carries and the names the loader derives the other parts' paths from, given the first part's.
 */
export const SPLIT_NO = 'split.no';
export const SPLIT_COUNT = 'split.count';
export const SPLIT_TENSORS = 'split.tensors.count';

/** `${base}-00001-of-00003.gguf`: llama_split_path's "%s-%05d-of-%05d.gguf", with 1-based part numbers. */
export function splitPartName(base: string, index: number, count: number): string {
  return `${base}-${String(index + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;
}

/**
 * The prefix and part number of a path named as a split part, or undefined. llama_split_prefix matches the
 * same suffix; a first part named otherwise is refused by llama.cpp ("invalid split file name").
 */
export function parseSplitName(path: string): { prefix: string; index: number; count: number } | undefined {
  const m = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/.exec(path);
  return m ? { prefix: m[1], index: Number(m[2]) - 1, count: Number(m[3]) } : undefined;
}
