import { getLlama, type Llama, LlamaLogLevel } from 'node-llama-cpp';

const llamas = new Map<string, Promise<Llama>>();
/** llama.cpp's latest error lines, to explain a failed load in our own one-line message. */
export const recentErrors: string[] = [];

/** One llama.cpp runtime per process (per GPU choice). Prebuilt binaries, or a local build `engine build` made: nothing is downloaded or compiled here. */
export function runtime(gpu: 'auto' | false): Promise<Llama> {
  const key = String(gpu);
  if (!llamas.has(key)) {
    // llama.cpp's own log lines would break our one-line errors: keep its errors for our messages,
    // print everything only with LLAMA3ZH_LOG=debug.
    const debug = process.env.LLAMA3ZH_LOG === 'debug';
    const logger = (level: LlamaLogLevel, message: string) => {
      if (debug) console.error(`[llama.cpp] ${message}`);
      else if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
        recentErrors.push(message.trim());
        if (recentErrors.length > 8) recentErrors.shift();
      }
    };
    // maxThreads 0: use exactly the threads each context asks for, rather than a shared, shrinking pool.
    llamas.set(key, getLlama({ gpu, build: 'never', logLevel: debug ? LlamaLogLevel.debug : LlamaLogLevel.error, logger, maxThreads: 0, progressLogs: false }));
  }
  return llamas.get(key)!;
}
