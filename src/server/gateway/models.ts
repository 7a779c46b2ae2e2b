/** The model a request names, among those the live backends list (ollama's clients add ":latest" to a bare name). */
import { bare } from '../models.js';
import type { Upstream, UpstreamModel } from './types.js';

/** The model of `models` that `name` means: itself, or without ollama's ":latest". */
export function findModel(models: UpstreamModel[], name: string): UpstreamModel | undefined {
  return models.find((m) => m.id === name) ?? models.find((m) => m.id === bare(name));
}

export function listedModel(up: Upstream, name: string): UpstreamModel | undefined {
  return findModel(up.models(), name);
}

/** The name to send on: the listed one ("x" for "x:latest"), or the name as given, which the upstream answers with its 404. */
export function modelName(up: Upstream, name: string): string {
  return listedModel(up, name)?.id ?? name;
}
