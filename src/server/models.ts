import type { ChatModel } from '../chat/model.js';
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

/** ollama clients say "name:latest" for "name". */
function bare(name: string): string {
  return name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name;
}

export class ModelRegistry {
  private byId = new Map<string, ServedModel>();

  constructor(readonly base: ServedModel, loras: ServedModel[] = []) {
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

  get running(): number {
    return this.all.reduce((s, m) => s + m.admission.active, 0);
  }

  get waiting(): number {
    return this.all.reduce((s, m) => s + m.admission.waiting, 0);
  }
}
