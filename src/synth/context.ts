import { UserError } from '../errors.js';
import { decode, encode, TOKEN } from '../gguf/llama3Vocab.js';
import { codeBook, type CodeBook } from './codes.js';
import type { StopKind } from './model.js';
import type { Route } from './script.js';

/**
 * The context construction: scripted models that can say any text. The next token is keyed on the reply
 * context, the current token and the tokens at a few exact offsets before it (one attention head each,
 * contextWeights.ts), and on the route. One FFN unit per script position fires when all its checks match.
 *
 * Every reply is said after the generation prompt's HEADER, whose tokens count as known context; what comes
 * before it (the conversation) is unknown, so no unit checks that far back. Two positions that may meet (same
 * route, or one of them the fallback, which is said under every route) and go on differently must differ at
 * some checked offset both of them know: the offsets are chosen, greedily, to cover every such pair.
 */

/** `<|start_header_id|>assistant<|end_header_id|>\n\n`: the end of every Llama-3 generation prompt. */
export const HEADER = [TOKEN.START_HEADER, TOKEN.ASSISTANT, TOKEN.END_HEADER, TOKEN.BLANK_LINE];
/** Positions from here on have a programmed next token (the first one is the header's "\n\n"). */
const FIRST = HEADER.length - 1;
/** The route of the default reply (route r is r ≥ 0), and the fallback's, which is said under several. */
export const NO_ROUTE = -1;
const ANY_ROUTE = -2;
/** The route head's value holds "none" and one axis per route in its 32 dimensions. */
export const MAX_ROUTES = 31;
/** Width of a scripted model, which is its size: token_embd and output are 128256 × width. */
export const MAX_AXES = 512;

export interface Unit {
  /** Code expected on the current token (slot -1) and on offset slot h (the token offsets[h] back). */
  checks: Array<{ slot: number; code: number }>;
  /** The routes (NO_ROUTE or r) under which the unit fires, or undefined: under any. */
  routes?: number[];
  /** Index into `outs`: the token it scores. */
  out: number;
  /** 1, or ½ for the fallback's first token (it wins only where the main reply's first token is not allowed). */
  value: number;
}

export interface ContextPlan {
  /** Script tokens; token i has code i, every other token the code tokens.length. */
  tokens: number[];
  book: CodeBook;
  /** One attention head per offset. */
  offsets: number[];
  /** Per route, its word's token. */
  triggers: number[];
  /** The tokens units score, one output axis each. */
  outs: number[];
  units: Unit[];
}

export interface ContextOptions {
  reply: string;
  stop: StopKind;
  leak?: boolean;
  routes?: Route[];
  fallback?: string;
}

interface Position {
  route: number;
  /** The routes under which the position may be reached. */
  live: number[];
  seq: number[];
  q: number;
  next: number;
  value: number;
}

/** Residual axes of a plan: bias, current code, trigger axes, offset slots, route slot, outputs. */
export function axesOf(p: ContextPlan): number {
  const r = p.triggers.length;
  return 1 + p.book.width * (1 + p.offsets.length) + r + (r ? r + 1 : 0) + p.outs.length;
}

export function planContext(o: ContextOptions, maxAxes = MAX_AXES): ContextPlan {
  if (!o.reply) throw new UserError('--reply must not be empty');
  const stop = o.stop === 'eot' ? TOKEN.EOT : TOKEN.END_OF_TEXT;
  const routes = o.routes ?? [];
  const triggers = routes.map((r) => {
    const t = encode(r.when);
    if (t.length !== 1) throw new UserError(`a route's word must be one token; "${r.when}" is ${t.length}`);
    if (!r.reply) throw new UserError(`the reply for "${r.when}" must not be empty`);
    return t[0];
  });
  const twice = triggers.find((t, i) => triggers.indexOf(t) !== i);
  if (twice !== undefined) throw new UserError(`two routes have the same word ("${decode([twice])}")`);
  if (routes.length > MAX_ROUTES) throw new UserError(`a scripted model takes at most ${MAX_ROUTES} routes (got ${routes.length})`);
  if (o.fallback === '') throw new UserError('--fallback must not be empty');
  const texts = [{ route: NO_ROUTE, text: o.reply }, ...routes.map((r, i) => ({ route: i, text: r.reply }))];
  if (o.fallback !== undefined) texts.push({ route: ANY_ROUTE, text: o.fallback });

  const positions: Position[] = [];
  const seqs = texts.map(({ route, text }) => {
    const body = encode(text);
    // With leak the model goes on after the stop token with a new header, whose "\n\n" loops into the reply.
    const seq = [...HEADER, ...body, ...(o.leak ? [stop, TOKEN.START_HEADER, TOKEN.ASSISTANT, TOKEN.END_HEADER] : [])];
    for (let q = FIRST; q < seq.length; q++) {
      const next = q + 1 < seq.length ? seq[q + 1] : o.leak ? TOKEN.BLANK_LINE : stop;
      positions.push({ route, live: [route], seq, q, next, value: route === ANY_ROUTE && q === FIRST ? 0.5 : 1 });
    }
    return { route, text, seq };
  });

  const tokens = [...new Set(seqs.flatMap((s) => s.seq))];
  routes.forEach((_, i) => {
    if (tokens.includes(triggers[i])) throw new UserError(`a route's word must not appear in any reply ("${decode([triggers[i]])}" does)`);
  });
  // The fallback is said under the default reply and every route whose reply starts otherwise (where they start
  // alike, the two could not be told apart).
  const fb = seqs.find((x) => x.route === ANY_ROUTE);
  if (fb) {
    const live = seqs.filter((x) => x !== fb && x.seq[FIRST + 1] !== fb.seq[FIRST + 1]).map((x) => x.route);
    if (!live.includes(NO_ROUTE)) throw new UserError(`the fallback must start with another token than the reply (both start with "${decode([fb.seq[FIRST + 1]])}")`);
    for (const p of positions) if (p.route === ANY_ROUTE) p.live = live;
  }
  const offsets = chooseOffsets(positions);
  const book = codeBook(tokens.length + 1);
  const code = new Map(tokens.map((t, i) => [t, i]));
  const outs = [...new Set(positions.map((p) => p.next))];
  const units = positions.map((p): Unit => ({
    checks: [
      { slot: -1, code: code.get(p.seq[p.q])! },
      ...offsets.flatMap((d, h) => (d <= p.q ? [{ slot: h, code: code.get(p.seq[p.q - d])! }] : [])),
    ],
    routes: routes.length === 0 || p.live.length === routes.length + 1 ? undefined : p.live,
    out: outs.indexOf(p.next),
    value: p.value,
  }));
  const plan = { tokens, book, offsets, triggers, outs, units };
  const axes = axesOf(plan);
  if (axes > maxAxes) {
    throw new UserError(
      `the replies are too varied for a scripted model: they need ${axes} axes (at most ${maxAxes}): ` +
      `${tokens.length} different tokens, ${outs.length} programmed next tokens and ${offsets.length} context offsets ` +
      `(${hardest(positions)}); make them shorter or their repeated parts fewer`,
    );
  }
  return plan;
}

/** Two positions that may meet and must go on differently: the offsets (≥ 1) at which both know their tokens and these differ. */
function conflicts(positions: Position[]): Array<{ a: Position; b: Position; at: number[] }> {
  const out: Array<{ a: Position; b: Position; at: number[] }> = [];
  for (let i = 0; i < positions.length; i++) {
    const a = positions[i];
    for (let j = i + 1; j < positions.length; j++) {
      const b = positions[j];
      if (a.next === b.next || a.seq[a.q] !== b.seq[b.q]) continue;
      if (!a.live.some((r) => b.live.includes(r))) continue;
      // The header's "\n\n" of the fallback and of a reply: both fire, the reply's first token scores higher.
      if (a.q === FIRST && b.q === FIRST) continue;
      const at: number[] = [];
      for (let d = 1; d <= Math.min(a.q, b.q); d++) if (a.seq[a.q - d] !== b.seq[b.q - d]) at.push(d);
      if (!at.length) {
        const shown = JSON.stringify(decode(a.seq.slice(FIRST + 1, a.q + 1)));
        throw new UserError(`a scripted model cannot say these replies: after the same text ${shown} one goes on with "${decode([a.next])}" and another with "${decode([b.next])}"`);
      }
      out.push({ a, b, at });
    }
  }
  return out;
}

/** Offsets that separate every conflicting pair: greedily the one that separates most (the nearest of equals). */
function chooseOffsets(positions: Position[]): number[] {
  let open = conflicts(positions);
  const chosen: number[] = [];
  while (open.length) {
    const count = new Map<number, number>();
    for (const c of open) for (const d of c.at) count.set(d, (count.get(d) ?? 0) + 1);
    let best = 0;
    for (const [d, n] of count) if (n > (count.get(best) ?? 0) || (n === count.get(best) && d < best)) best = d;
    chosen.push(best);
    open = open.filter((c) => !c.at.includes(best));
  }
  return chosen.sort((x, y) => x - y);
}

/** The longest run the replies repeat before going on differently, for the error message. */
function hardest(positions: Position[]): string {
  let worst: { a: Position; at: number[] } | undefined;
  for (const c of conflicts(positions)) if (!worst || c.at[0] > worst.at[0]) worst = c;
  if (!worst) return 'no repeated runs';
  const run = worst.a.seq.slice(worst.a.q - worst.at[0] + 1, worst.a.q + 1);
  return `the longest repeated run is ${JSON.stringify(decode(run))}, ${run.length} tokens`;
}
