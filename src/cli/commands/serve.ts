import { createRequire } from 'node:module';
import { loadEngine } from '../../engine/load.js';
import { readModelFile } from '../../engine/modelFile.js';
import { UserError } from '../../errors.js';
import { startServer, type LoraModule } from '../../server/start.js';
import { num, parseFlags } from '../flags.js';
import { GATEWAY_HELP, serveGateway } from './serveGateway.js';
import { checkTemplateFlags, chooseModel, MODEL_FLAGS, MODEL_FLAGS_HELP, openModel, parseLora, readTemplateFile } from '../modelFlags.js';

const HELP = `llama3-zh serve [MODEL] [options]
llama3-zh serve --backend URL [--backend URL…] [options]

Serve a model over HTTP: a web chat page at /, the OpenAI API (/v1/chat/completions,
/v1/completions, /v1/models), the ollama API (/api/chat, /api/generate, /api/tags, /api/show,
/api/version), embeddings (/v1/embeddings, /api/embed, /api/embeddings), the simple API of the
original demo (POST / {"prompt": "…"}), /health, /metrics, /tokenize and /detokenize. Requests are
decoded together in shared batches (continuous batching). With --backend, the same APIs are
answered by other OpenAI-compatible servers (vLLM, llama-server, SGLang, llama3-zh) instead.

Server:
  --host HOST               address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port N                  port (default 8000)
  --api-key KEY             require "Authorization: Bearer KEY" (default: env LLAMA3_ZH_API_KEY)
  --served-model-name NAME  the model's name in the API (default: from the file name)
  --max-model-len N         tokens per request, prompt and reply (same as --ctx-size)
  --chat-template FILE      a Jinja chat template (same as --template-file)
  --lora-modules NAME=FILE[:SCALE]
                            serve the model with a LoRA adapter as model NAME; repeatable,
                            or comma-separated (each adapter gets its own context)
  --parallel N              requests decoded together per model (default 4)
  --max-queue N             requests that may wait beyond those; more get 429 (default 64)
  --embedding-model MODEL   embed with this model (a .gguf file or a name, as for MODEL) instead of
                            the served one; it is listed as its own model and never chats
  --embedding-model-name NAME
                            its name in the API (default: from the file name)
  --embedding-ctx-size N    tokens per embedding input, BOS included (default 512, as llama-server;
                            each token of it costs about 1 MB with Llama-3's vocabulary)
  --cors-origins LIST       comma-separated browser origins allowed to call the API, or *
                            (pages on localhost are always allowed)
  --train-dir DIR           show a run's training on the web page, its loss curve live (/#train):
                            \`train init\`'s DIR or a LLaMA-Factory .yaml; repeatable; a folder
                            that does not exist yet shows as waiting
  --quiet                   no request log (problems, such as internal errors, still print)

${GATEWAY_HELP}

${MODEL_FLAGS_HELP}`;

function parseLoraModules(specs: string[]): LoraModule[] {
  return specs.flatMap((s) => s.split(',')).filter(Boolean).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UserError(`--lora-modules takes NAME=FILE[:SCALE] (got "${spec}")`, 2);
    const name = spec.slice(0, eq);
    return { name, ...parseLora(spec.slice(eq + 1), '--lora-modules', ` (--lora-modules ${name})`) };
  });
}

export async function serveCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags('serve', args, {
    ...MODEL_FLAGS,
    host: { type: 'string' },
    port: { type: 'string' },
    'api-key': { type: 'string' },
    'served-model-name': { type: 'string' },
    'max-model-len': { type: 'string' },
    'chat-template': { type: 'string' },
    'lora-modules': { type: 'string', multiple: true },
    parallel: { type: 'string' },
    'max-queue': { type: 'string' },
    'embedding-model': { type: 'string' },
    'embedding-model-name': { type: 'string' },
    'embedding-ctx-size': { type: 'string' },
    'cors-origins': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    'train-dir': { type: 'string', multiple: true },
    backend: { type: 'string', multiple: true },
    'backend-key': { type: 'string' },
    'backend-timeout': { type: 'string' },
    'client-timeout': { type: 'string' },
    'health-interval': { type: 'string' },
  }, true);
  if (values.help) { console.log(HELP); return; }
  const version = createRequire(import.meta.url)('../../../../package.json').version as string;
  if (values.backend) { await serveGateway(values, positionals, version); return; }
  for (const f of ['backend-key', 'backend-timeout', 'client-timeout', 'health-interval'] as const) {
    if (values[f] !== undefined) throw new UserError(`--${f} goes with --backend URL (a gateway in front of other servers)`, 2);
  }
  if (positionals.length > 1) throw new UserError(`serve takes one MODEL (got ${positionals.length}: ${positionals.join(' ')})`, 2);
  if (positionals[0] && values.model) throw new UserError('give the model once: as MODEL or with -m', 2);
  if (values['max-model-len'] && values['ctx-size']) throw new UserError('give --max-model-len or --ctx-size, not both', 2);
  if (values['chat-template'] && values['template-file']) throw new UserError('give --chat-template or --template-file, not both', 2);
  const modelFlags = {
    ...values,
    model: positionals[0] ?? values.model,
    'ctx-size': values['max-model-len'] ?? values['ctx-size'],
    'template-file': values['chat-template'] ?? values['template-file'],
  };
  // Check every flag before loading gigabytes.
  checkTemplateFlags(modelFlags);
  readTemplateFile(modelFlags['template-file']);
  const port = num('--port', values.port, { int: true, min: 0, max: 65535 }) ?? 8000;
  const parallel = num('--parallel', values.parallel, { int: true, min: 1, max: 256 }) ?? 4;
  const maxQueue = num('--max-queue', values['max-queue'], { int: true, min: 0 }) ?? 64;
  const embeddingContextSize = num('--embedding-ctx-size', values['embedding-ctx-size'], { int: true, min: 1 });
  if (values['embedding-model-name'] !== undefined && !values['embedding-model']) throw new UserError('--embedding-model-name names the --embedding-model; give that too', 2);
  if (values['embedding-model'] !== undefined && !values['embedding-model'].trim()) throw new UserError('--embedding-model takes a model: a .gguf file or a name', 2);
  if (values['train-dir']?.some((d) => !d.trim())) throw new UserError('--train-dir takes a run folder (the DIR of `train init --out DIR`)', 2);
  const loraModules = parseLoraModules(values['lora-modules'] ?? []);
  const apiKey = values['api-key'] ?? process.env.LLAMA3_ZH_API_KEY;
  if (apiKey !== undefined && !apiKey.trim()) throw new UserError('the API key is empty; pass --api-key KEY or unset LLAMA3_ZH_API_KEY', 2);
  const host = values.host ?? '127.0.0.1';
  // Find (or pull) the model before listening, so a missing one is an error, not a server that never loads.
  const model = await chooseModel(modelFlags, 'serve');
  // And check its files before listening: a damaged one is an error now, not a server that answers 503 and dies.
  readModelFile({ modelPath: model.path, lora: [...(values.lora ?? []).map((s) => parseLora(s)), ...loraModules] });
  const embedding = values['embedding-model'] ? await chooseModel({ ...modelFlags, model: values['embedding-model'] }, 'serve') : undefined;
  if (embedding?.lora?.length) throw new UserError(`--embedding-model ${values['embedding-model']} comes with LoRA adapters, which embeddings cannot use here; give a plain model`, 2);
  if (embedding) readModelFile({ modelPath: embedding.path });
  // The served model's own file embeds without a second copy in memory, unless the served model has LoRA adapters
  // (--lora, or a catalog entry's): it does not embed then, so the file is loaded again, plain, for embeddings.
  const servedHasLora = (values.lora?.length ?? 0) > 0 || (model.lora?.length ?? 0) > 0;
  const separate = embedding && (embedding.path !== model.path || servedHasLora) ? embedding : undefined;
  if (embedding && !separate && values['embedding-model-name']) {
    throw new UserError('--embedding-model is the served model\'s own file, which embeds under the served name; leave out --embedding-model-name', 2);
  }
  const quiet = values.quiet ?? false;

  const running = await startServer({
    host, port, apiKey,
    corsOrigins: values['cors-origins']?.split(',').map((s) => s.trim()).filter(Boolean),
    version,
    log: quiet ? undefined : (line) => console.error(line),
    warn: (line) => console.error(line),
    maxQueue,
    loraModules,
    trainDirs: values['train-dir'],
    modelName: values['served-model-name'] ?? model.name,
    embeddingModel: separate && {
      name: values['embedding-model-name'] ?? separate.name,
      // Its generation context is never used: the smallest there is.
      load: () => loadEngine({ modelPath: separate.path, contextSize: 256, parallel: 1, threads: num('--threads', values.threads, { int: true, min: 1, max: 512 }), embeddingContextSize }),
    },
    load: async (url) => {
      console.error(`llama3-zh serve: loading the model (${url}/health says 503 until it is ready)…`);
      const m = await openModel(modelFlags, { parallel, model, embeddingContextSize });
      if (m.demoNotice) console.error(m.demoNotice);
      return m;
    },
  });
  const base = running.models.base;
  const info = base.engine.info;
  const embedder = running.models.embedder;
  const e = embedder?.engine.info.embedding;
  // One write, so the start-up lines arrive together.
  console.error(
    `llama3-zh serve: ${base.id}${base.demoNotice ? ' (DEMO model)' : ''} on ${running.url} — ` +
    `${info.parallel} × ${info.contextSize} tokens, ${info.threads} threads` +
    `${loraModules.length ? `; LoRA models: ${loraModules.map((l) => l.name).join(', ')}` : ''}${apiKey ? '; API key required' : ''}\n` +
    `  chat page: ${running.url}/   OpenAI: ${running.url}/v1   ollama: ${running.url}/api   simple: POST ${running.url}/   Ctrl-C stops\n` +
    (e
      ? `  embeddings: ${embedder!.id}${embedder!.separate ? '' : ' (the served model)'}, ${e.size} numbers, ${e.pooling}-pooled, at most ${e.maxTokens} tokens per input`
      : `  embeddings: none (${base.id} does not embed: it has LoRA adapters; give --embedding-model FILE)`),
  );
  if (values['train-dir']?.length) console.error(`  training view: ${running.url}/#train (${values['train-dir'].join(', ')})`);
  if (values['special-tokens-in-content']) {
    console.error('llama3-zh serve: --special-tokens-in-content: special-token texts in messages are read as tokens, so any client can write turns of its own (a system turn too)');
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.error('llama3-zh serve: stopping');
  await running.close();
}
