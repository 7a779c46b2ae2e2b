import { parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import type { QuantizeJob, QuantizeResult } from './quantize.js';

/**
 * The worker body: loads libllama and calls llama_model_quantize once. The struct is llama_model_quantize_params of
 * include/llama.h in node-llama-cpp's bundled llama.cpp, field for field (koffi lays it out with C's alignment).
 */
const job = workerData as QuantizeJob & { lib: string };
const lib = koffi.load(job.lib);

const Params = koffi.struct('llama_model_quantize_params', {
  nthread: 'int32_t',
  ftype: 'int32_t', // enum llama_ftype
  output_tensor_type: 'int32_t', // enum ggml_type
  token_embedding_type: 'int32_t', // enum ggml_type
  allow_requantize: 'bool',
  quantize_output_tensor: 'bool',
  only_copy: 'bool',
  pure: 'bool',
  keep_split: 'bool',
  dry_run: 'bool',
  imatrix: 'void *',
  kv_overrides: 'void *',
  tt_overrides: 'void *',
  prune_layers: 'void *',
  max_buf_size: 'size_t',
});
const defaults = lib.func('llama_model_quantize_params llama_model_quantize_default_params(void)');
const quantize = lib.func('uint32_t llama_model_quantize(const char *fname_inp, const char *fname_out, const llama_model_quantize_params *params)');
const LogCallback = koffi.proto('void ggml_log_callback(int level, const char *text, void *user_data)');
const logSet = lib.func('void llama_log_set(ggml_log_callback *cb, void *user_data)');

// llama.cpp reports why it failed only through its log ("llama_model_quantize: failed to quantize: …", GGML_LOG_LEVEL_ERROR
// = 4); its info lines (a line per tensor) would flood the terminal, so only errors are kept (all with LLAMA3ZH_LOG=debug).
const errors: string[] = [];
const cb = koffi.register((level: number, text: string) => {
  if (level === 4) errors.push(text);
  if (process.env.LLAMA3ZH_LOG === 'debug') process.stderr.write(text);
}, koffi.pointer(LogCallback));
logSet(cb, null);

const params = defaults();
params.nthread = job.nthread;
params.ftype = job.ftype;
params.allow_requantize = job.allowRequantize;
const rc = quantize(job.input, job.output, params) as number;
logSet(null, null);
koffi.unregister(cb);

const text = errors.join('').split('\n').map((l) => l.trim()).filter((l) => l && !/^=+$/.test(l));
const failed = text.find((l) => /failed to quantize: /.test(l));
const result: QuantizeResult = { rc, error: rc === 0 ? undefined : (failed?.replace(/^.*failed to quantize: /, '') ?? text.at(-1) ?? `llama_model_quantize returned ${rc}`) };
parentPort!.postMessage(result);
