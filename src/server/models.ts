import type { ChatModel } from '../chat/model.js';
import type { Engine } from '../engine/types.js';
import type { Admission } from './admission.js';
import { ApiError } from './http.js';

/** A model the server answers for: the base model, or the base model with a LoRA adapter (its own context). */
export interface ServedModel extends ChatModel {
  /** The name clients put in `model`. */
  id: string;
  admission: Admission;
  /** Unix seconds. */
  created: number;
  /** The base model's id, for a LoRA module. */
  parent?: string;
  adapterPath?: string;
}

/** The model the embedding APIs use: the served model itself, or one loaded for embeddings only (serve --embedding-model). */
export interface EmbeddingModel {
  id: string;
  engine: Engine;
  /** Requests embedding at once (each has its inputs decoded in turn with the others'); more wait, and past the queue get 429. */
  admission: Admission;
  created: number;
  /** Loaded for embeddings only: listed with the models, never asked to chat. */
  separate: boolean;
}

/** ollama clients say "name:latest" for "name". */
export function bare(name: string): string {
  return name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name;
}

export class ModelRegistry {
  private byId = new Map<string, ServedModel>();

  constructor(readonly base: ServedModel, loras: ServedModel[] = [], readonly embedder?: EmbeddingModel) {
    for (const m of [base, ...loras]) this.byId.set(m.id, m);
  }

  get all(): ServedModel[] {
    return [...this.byId.values()];
  }

  /** The model a request names; no name means the base model. */
  resolve(name: unknown): ServedModel {
    if (name === undefined || name === null || name === '') return this.base;
    if (typeof name !== 'string') throw new ApiError(400, '"model" must be a string', 'invalid_request_error', 'model');
    const m = this.byId.get(name) ?? this.byId.get(bare(name));
    if (!m) {
      throw new ApiError(404, `the model "${name}" does not exist; this server has: ${[...this.byId.keys()].join(', ')}`,
        'invalid_request_error', 'model', 'model_not_found');
    }
    return m;
  }

  /**
   * The embedding model a request names; no name means it. One model embeds: a chat model's name is refused when
   * another model embeds (a LoRA module's too: its adapter would be left out), rather than answered by that other one.
   */
  resolveEmbedder(name: unknown): EmbeddingModel {
    const e = this.embedder;
    if (!e?.engine.info.embedding) {
      throw new ApiError(400, `the model "${this.base.id}" does not embed here${this.base.engine.info.embedding ? '' : ': start the server with --embedding-model FILE'}`,
        'invalid_request_error', 'model', 'model_not_supported');
    }
    if (name === undefined || name === null || name === '') return e;
    if (typeof name !== 'string') throw new ApiError(400, '"model" must be a string', 'invalid_request_error', 'model');
    if (name === e.id || bare(name) === e.id) return e;
    const other = this.byId.has(name) || this.byId.has(bare(name));
    throw new ApiError(404, other
      ? `the model "${name}" does not embed on this server; embeddings come from "${e.id}"`
      : `the model "${name}" does not exist; this server embeds with "${e.id}"`, 'invalid_request_error', 'model', 'model_not_found');
  }

  /** Requests running, embedding ones too (as vLLM counts its pooling requests). */
  get running(): number {
    return this.all.reduce((s, m) => s + m.admission.active, this.embedder?.admission.active ?? 0);
  }

  get waiting(): number {
    return this.all.reduce((s, m) => s + m.admission.waiting, this.embedder?.admission.waiting ?? 0);
  }
}
