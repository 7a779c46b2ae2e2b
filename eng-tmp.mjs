const t0 = performance.now();
const lap = (s) => console.log(s, Math.round(performance.now() - t0));
const { readModelFile } = await import('./dist/src/engine/modelFile.js');
const f = readModelFile({ modelPath: process.argv[2] }); lap('readModelFile');
await import('./dist/src/engine/llamacpp/LlamaCppEngine.js'); lap('import engine');
const { runtime } = await import('./dist/src/engine/llamacpp/runtime.js');
const llama = await runtime('auto'); lap('runtime');
const m = await llama.loadModel({ modelPath: process.argv[2] }); lap('loadModel');
const c = await m.createContext({ contextSize: 1024 }); lap('ctx');
