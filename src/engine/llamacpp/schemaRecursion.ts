/**
 * Recursive definitions ("$defs" that refer to themselves) are fine for a grammar, as long as a value can end.
 * Two ways it cannot, found here before llama.cpp sees the grammar: a definition that starts with itself (left
 * recursion; llama.cpp refuses the grammar with only "Failed to parse grammar"), and one whose every value holds
 * another of itself (node-llama-cpp writes every listed property, so {"next": {"$ref": "#/$defs/node"}} goes on
 * until max_tokens and the reply is not JSON). Both work on the schema jsonSchema.ts has already checked, whose
 * depth is bounded, so the recursion below stays shallow.
 */

type Json = Record<string, unknown>;

/** A cycle of definitions that start with one another (first name repeated at the end), if there is one. */
export function emptyCycle(starts: Map<string, Set<string>>): string[] | undefined {
  const done = new Set<string>();
  for (const first of starts.keys()) {
    if (done.has(first)) continue;
    // Iterative depth-first search; `trail` is the path of definitions being explored.
    const trail: string[] = [first];
    const onTrail = new Set(trail);
    const iters = [starts.get(first)!.values()];
    done.add(first);
    while (iters.length) {
      const next = iters.at(-1)!.next();
      if (next.done) { iters.pop(); onTrail.delete(trail.pop()!); continue; }
      const name = next.value;
      if (onTrail.has(name)) return [...trail.slice(trail.indexOf(name)), name];
      if (done.has(name) || !starts.has(name)) continue;
      done.add(name);
      trail.push(name);
      onTrail.add(name);
      iters.push(starts.get(name)!.values());
    }
  }
  return undefined;
}

const refName = (node: Json) => (typeof node.$ref === 'string' ? node.$ref.slice('#/$defs/'.length) : undefined);
const schemas = (v: unknown): Json[] => (Array.isArray(v) ? v as Json[] : []);

/** Whether some value of `node` is finite, given which definitions are known to have one. */
function ends(node: Json, known: ReadonlySet<string>): boolean {
  const ref = refName(node);
  if (ref !== undefined) return known.has(ref);
  if (node.oneOf) return schemas(node.oneOf).some((alt) => ends(alt, known));
  if (node.type === 'object') return Object.values((node.properties ?? {}) as Record<string, Json>).every((p) => ends(p, known));
  if (node.type === 'array') {
    const prefix = schemas(node.prefixItems);
    const more = typeof node.minItems === 'number' && node.minItems > prefix.length;
    return prefix.every((p) => ends(p, known)) && (!more || node.items === undefined || ends(node.items as Json, known));
  }
  return true;
}

/** Every definition table in the schema, by name (a name defined twice in different scopes keeps both). */
function definitions(root: Json): Map<string, Json[]> {
  const defs = new Map<string, Json[]>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) { stack.push(...v); continue; }
    const node = v as Json;
    const table = node.$defs as Record<string, Json> | undefined;
    for (const [name, body] of Object.entries(table ?? {})) defs.set(name, [...(defs.get(name) ?? []), body]);
    for (const [k, child] of Object.entries(node)) if (k !== 'enum' && k !== 'const') stack.push(child);
  }
  return defs;
}

/** The names of the definitions referred to anywhere inside `bodies`. */
function refsIn(bodies: Json[]): Set<string> {
  const out = new Set<string>();
  const stack: unknown[] = [...bodies];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) { for (const x of v) stack.push(x); continue; }
    const ref = refName(v as Json);
    if (ref !== undefined) out.add(ref);
    for (const [k, child] of Object.entries(v)) if (k !== 'enum' && k !== 'const') stack.push(child);
  }
  return out;
}

/** A definition the root needs whose every value holds another of itself, if there is one. */
export function endlessDefinition(root: Json): string | undefined {
  const defs = definitions(root);
  if (defs.size === 0) return undefined;
  // Least fixed point: a definition ends once some value of it is built only of definitions that end. A worklist,
  // not passes over every definition until none changes: a chain of 2,400 definitions, each ending only once the
  // next one does, listed first to last, took 2,400 passes (2 s with the event loop stopped, per request).
  const known = new Set<string>();
  const users = new Map<string, Set<string>>();
  for (const [name, bodies] of defs) {
    for (const ref of refsIn(bodies)) {
      if (!users.has(ref)) users.set(ref, new Set());
      users.get(ref)!.add(name);
    }
  }
  const work = new Set(defs.keys());
  for (const name of work) {
    work.delete(name);
    if (known.has(name) || !defs.get(name)!.every((b) => ends(b, known))) continue;
    known.add(name);
    for (const user of users.get(name) ?? []) if (!known.has(user)) work.add(user);
  }
  if (ends(root, known)) return undefined;
  // Name one the root reaches: the first unfinished definition referred to, breadth first.
  const seen = new Set<string>();
  const queue: Json[] = [root];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    const ref = refName(node);
    if (ref !== undefined && !known.has(ref)) return ref;
    if (ref !== undefined && !seen.has(ref)) { seen.add(ref); queue.push(...(defs.get(ref) ?? [])); }
    for (const [k, child] of Object.entries(node)) {
      if (k === '$defs' || k === 'enum' || k === 'const' || typeof child !== 'object' || child === null) continue;
      for (const c of Array.isArray(child) ? child : k === 'properties' ? Object.values(child) : [child]) {
        if (typeof c === 'object' && c !== null) queue.push(c as Json);
      }
    }
  }
  return undefined;
}
