/**
 * The converter and the adapter code (src/convert), as create uses them. Imported when a model is made, not before:
 * they bring the whole Llama-3 vocabulary and the tokenizer library, which `ls` or `chat -m NAME` need not load.
 */
export type ConvertPhase = 'convert' | 'quantize';

export async function converters() {
  const [convert, peft, merge, lora] = await Promise.all([
    import('../convert/convert.js'), import('../convert/peft.js'), import('../convert/merge.js'), import('../convert/lora.js'),
  ]);
  const { resolveAdapterBase } = await import('./adapterBase.js');
  return {
    convertModel: convert.convertModel,
    CONVERT_TYPES: convert.CONVERT_TYPES,
    readPeftAdapter: peft.readPeftAdapter,
    mergeHook: merge.mergeHook,
    resolveAdapterBase,
    adapterBaseShape: lora.adapterBaseShape,
    convertAdapter: lora.convertAdapter,
  };
}

export type Converters = Awaited<ReturnType<typeof converters>>;
