/** The model a request names, among those the live backends list (ollama's clients add ":latest" to a bare name). */
import type { Upstream, UpstreamModel } from './types.js';

const bare = (name: string) => (name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name);

export function listedModel(up: Upstream, name: string): UpstreamModel | undefined {
  const all = up.models();
  return all.find((m) => m.id === name) ?? all.find((m) => m.id === bare(name));
}

/** The name to send on: the listed one ("x" for "x:latest"), or the name as given, which the upstream answers with its 404. */
export function modelName(up: Upstream, name: string): string {
  return listedModel(up, name)?.id ?? name;
}
