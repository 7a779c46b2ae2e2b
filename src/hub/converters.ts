/**
 * The converter and the adapter code (src/convert), as create uses them. Loaded when a model is made, not before:
 * they bring the whole Llama-3 vocabulary and the tokenizer library, which `ls` or `chat -m NAME` need not load.
 */
export type ConvertPhase = 'convert' | 'quantize';

export interface TensorHookLike {
  touches(hfName: string): boolean;
  apply(hfName: string, values: Float32Array, shape: number[]): void;
  replacements?: Map<string, { values: Float32Array; shape: number[] }>;
}

export interface Converters {
  convertModel(o: {
    src: string; out: string; type?: string; hook?: TensorHookLike; name?: string; threads?: number;
    onProgress?: (doneBytes: number, totalBytes: number, phase: ConvertPhase) => void; signal?: AbortSignal;
  }): Promise<{ out: string; type: string; bytes: number }>;
  CONVERT_TYPES: string[];
  readLlamaModel(dir: string): { shape: unknown };
  readPeftAdapter(dir: string): PeftAdapterLike;
  mergeHook(adapter: PeftAdapterLike, shape: unknown): TensorHookLike;
  resolveAdapterBase(adapter: PeftAdapterLike, given?: string): string;
  convertAdapter(o: { dir: string; base: string; out: string; signal?: AbortSignal }): Promise<{ out: string }>;
}

/** What create reads of a PEFT adapter (convert/peft.ts has the rest). */
export interface PeftAdapterLike {
  dir: string;
  modulesToSave?: string[];
}

// The module names are built at run time so that this file compiles before the parts it loads are merged in.
const mod = (name: string) => `../convert/${name}.js`;

export async function converters(): Promise<Converters> {
  const [convert, hf, peft, merge, lora] = await Promise.all(['convert', 'hfModel', 'peft', 'merge', 'lora'].map((n) => import(mod(n)).catch(() => ({}))));
  const all = { ...hf, ...peft, ...merge, ...lora, ...convert } as Partial<Converters>;
  return all as Converters;
}
