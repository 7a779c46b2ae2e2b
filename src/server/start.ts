import type { ChatModel } from '../chat/model.js';
import type { Engine } from '../engine/types.js';
import { UserError } from '../errors.js';
import { Admission } from './admission.js';
import { ApiServer, type ServerOptions } from './app.js';
import { type EmbeddingModel, ModelRegistry, type ServedModel } from './models.js';

export interface LoraModule {
  name: string;
  path: string;
  scale: number;
}

export interface StartOptions extends ServerOptions {
  /** Loads the base model; called after the server listens, so /health answers 503 meanwhile. */
  load: (url: string) => Promise<ChatModel>;
  modelName: string;
  loraModules?: LoraModule[];
  /** Requests beyond the running ones that may wait; more get 429. */
  maxQueue: number;
  /** A model for the embedding APIs only (serve --embedding-model), loaded after the base model; without it, the base model embeds. */
  embeddingModel?: { name: string; load: () => Promise<Engine> };
}

export interface RunningServer {
  server: ApiServer;
  url: string;
  models: ModelRegistry;
  close(): Promise<void>;
}

/** Listen, load the model (and a context per LoRA module), then serve. */
export async function startServer(o: StartOptions): Promise<RunningServer> {
  const names = new Set([o.modelName]);
  for (const l of o.loraModules ?? []) {
    if (names.has(l.name)) throw new UserError(`the model name "${l.name}" is used twice; give each --lora-modules entry its own name`);
    names.add(l.name);
  }
  if (o.embeddingModel && names.has(o.embeddingModel.name)) {
    throw new UserError(`the embedding model's name "${o.embeddingModel.name}" is also a served model's; give it another (--embedding-model-name)`);
  }
  const server = new ApiServer(o);
  const url = await server.listen();
  const engines: Engine[] = [];
  try {
    const base = await o.load(url);
    engines.push(base.engine);
    const created = Math.floor(Date.now() / 1000);
    // The server's wrapping of a chat model: the name clients use and admission to its own slots.
    const served = (id: string, model: ChatModel, extra: Partial<ServedModel> = {}): ServedModel => ({
      ...model, id, admission: new Admission(model.engine.info.parallel, o.maxQueue), created, ...extra,
    });
    const loras: ServedModel[] = [];
    for (const l of o.loraModules ?? []) {
      const engine = await base.engine.withAdapters([{ path: l.path, scale: l.scale }]);
      engines.push(engine);
      // An adapter shares the base model's vocabulary, so its template and stops are the base model's.
      loras.push(served(l.name, { ...base, engine, demoNotice: undefined }, { parent: o.modelName, adapterPath: l.path }));
    }
    let embedder: EmbeddingModel;
    if (o.embeddingModel) {
      const engine = await o.embeddingModel.load();
      engines.unshift(engine);
      if (!engine.info.embedding) throw new UserError(`--embedding-model ${engine.info.path} gives no embedding vectors (it is a reranker: its pooling_type is rank)`);
      // As many requests embed at once as decode at once (--parallel); their inputs take turns.
      embedder = { id: o.embeddingModel.name, engine, admission: new Admission(base.engine.info.parallel, o.maxQueue), created, separate: true };
    } else {
      embedder = { id: o.modelName, engine: base.engine, admission: new Admission(base.engine.info.parallel, o.maxQueue), created, separate: false };
    }
    const models = new ModelRegistry(served(o.modelName, base), loras, embedder);
    server.setModels(models);
    return {
      server, url, models,
      async close() {
        await server.close();
        // Adapter contexts first: the base engine owns the weights they share.
        for (const e of engines.reverse()) await e.close();
      },
    };
  } catch (e) {
    await server.close();
    for (const en of engines.reverse()) await en.close();
    throw e;
  }
}
