import { type GgufFile, meta, type Scalar, tensorElements, tensorTypeName } from './types.js';

export interface GgufSummary {
  path: string;
  fileSize: number;
  version: number;
  architecture: string;
  name?: string;
  parameters: number;
  tensorCount: number;
  tensorTypes: Record<string, number>;
  contextLength?: number;
  embeddingLength?: number;
  blockCount?: number;
  ropeFreqBase?: number;
  tokenizer: { model?: string; pre?: string; vocabSize?: number };
  specialTokens: Record<string, { id: number; text?: string }>;
  chatTemplate?: { detected: string; source: string };
  adapter?: { type?: string; alpha?: number };
}

/**
 * What `gguf inspect` shows: the facts people look a model file up for. `detectTemplate` names a chat template
 * (chat/templates.ts's detectTemplateName): the format layer does not know the chat formats.
 */
export function summarize(f: GgufFile, detectTemplate: (source: string) => string): GgufSummary {
  const arch = meta<string>(f, 'general.architecture') ?? 'unknown';
  const tokens = meta<string[]>(f, 'tokenizer.ggml.tokens');
  const tensorTypes: Record<string, number> = {};
  let parameters = 0;
  for (const t of f.tensors) {
    parameters += tensorElements(t.dims);
    const n = tensorTypeName(t.type);
    tensorTypes[n] = (tensorTypes[n] ?? 0) + 1;
  }
  const specialTokens: GgufSummary['specialTokens'] = {};
  for (const kind of ['bos', 'eos', 'eot', 'eom', 'padding', 'unknown']) {
    const id = meta<number>(f, `tokenizer.ggml.${kind}_token_id`);
    if (typeof id === 'number') specialTokens[kind] = { id, text: tokens?.[id] };
  }
  const template = meta<string>(f, 'tokenizer.chat_template');
  const num = (k: string) => { const v = meta<Scalar>(f, k); return typeof v === 'number' ? v : undefined; };
  const isAdapter = meta<string>(f, 'general.type') === 'adapter';
  return {
    path: f.path,
    fileSize: f.fileSize,
    version: f.version,
    architecture: arch,
    name: meta<string>(f, 'general.name'),
    parameters,
    tensorCount: f.tensors.length,
    tensorTypes,
    contextLength: num(`${arch}.context_length`),
    embeddingLength: num(`${arch}.embedding_length`),
    blockCount: num(`${arch}.block_count`),
    ropeFreqBase: num(`${arch}.rope.freq_base`),
    tokenizer: { model: meta<string>(f, 'tokenizer.ggml.model'), pre: meta<string>(f, 'tokenizer.ggml.pre'), vocabSize: tokens?.length },
    specialTokens,
    chatTemplate: template ? { detected: detectTemplate(template), source: template } : undefined,
    adapter: isAdapter ? { type: meta<string>(f, 'adapter.type'), alpha: num('adapter.lora.alpha') } : undefined,
  };
}
