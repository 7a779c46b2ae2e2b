/**
 * The context-extension decision, shared by HF folders (config.json) and GGUF files: which context length and
 * RoPE base to write, given what the model has. The original README's trick is to raise the context to 32768
 * and rope_theta to 1000000 (or 4000000; its 96K chart used 4000000).
 */
import { UserError } from '../errors.js';

export interface ContextWant {
  ctx: number;
  /** An explicit --rope-theta; otherwise the default for `ctx` (see defaultRopeTheta). */
  ropeTheta?: number;
}

export interface ContextNow {
  /** The model's context length, if the file states one. */
  ctx?: number;
  /** Its RoPE base, if the file states one. */
  theta?: number;
  /** What the loaders use when the file states no base (10000 for Llama in both llama.cpp and transformers). */
  thetaDefault: number;
  /** A RoPE scaling the model was trained with (e.g. Llama-3.1's "llama3, factor 8 over 8192"), if any. */
  scaling?: string;
}

export interface ContextPlan {
  /** Set when the context length changes. */
  ctx?: { old?: number; new: number };
  /** Set when the RoPE base changes. */
  theta?: { old?: number; new: number; why: string };
  /** What the user should know (printed as "note: …"). */
  notes: string[];
}

/**
 * The RoPE base to use for a context of `ctx` tokens: 1000000 up to 32K and 4000000 beyond, the values the
 * original README reports working for Llama-3 8B (8K → 32K "with almost no loss", and its 96K chart).
 * NTK-aware scaling (theta × s^(d/(d-2))) would give ~2000000 for 32K, but the README's values are the ones
 * people have tested on these models, so they are the default; --rope-theta overrides.
 */
export function defaultRopeTheta(ctx: number): number {
  return ctx <= 32768 ? 1_000_000 : 4_000_000;
}

/** Decide the new values; throws a UserError when the request would break the model's RoPE scaling. */
export function planContext(now: ContextNow, want: ContextWant, names: { ctx: string; theta: string }): ContextPlan {
  const notes: string[] = [];
  const plan: ContextPlan = { notes };
  const currentTheta = now.theta ?? now.thetaDefault;
  if (now.scaling) {
    // The scaling's per-dimension factors were computed for this base: another base shifts every frequency
    // away from what the model was trained on. The context length alone is only a limit.
    if (want.ropeTheta !== undefined) {
      throw new UserError(
        `this model already uses RoPE scaling (${now.scaling}) trained on ${names.theta} ${currentTheta}; another base would break it. ` +
        `Leave out --rope-theta (only ${names.ctx} is changed then)`, 2);
    }
    if (now.ctx !== undefined && want.ctx <= now.ctx) {
      notes.push(`this model already handles ${now.ctx} tokens with its RoPE scaling (${now.scaling}); nothing to change. ` +
        `Use --ctx-size at run time for a smaller window`);
      return plan;
    }
    notes.push(`RoPE scaling kept as it is (${now.scaling}); positions beyond ${now.ctx ?? 'its trained length'} were never trained`);
    plan.ctx = { old: now.ctx, new: want.ctx };
    return plan;
  }
  if (want.ctx !== now.ctx) plan.ctx = { old: now.ctx, new: want.ctx };
  if (want.ropeTheta !== undefined) {
    if (want.ropeTheta !== now.theta) plan.theta = { old: now.theta, new: want.ropeTheta, why: '--rope-theta' };
  } else if (now.ctx === undefined || want.ctx > now.ctx) {
    const d = defaultRopeTheta(want.ctx);
    // Never lower the base a model already has: a smaller base shortens the distances RoPE can tell apart.
    if (d > currentTheta) plan.theta = { old: now.theta, new: d, why: `the default for ${want.ctx} tokens` };
  }
  if (now.ctx !== undefined && want.ctx < now.ctx) notes.push(`${want.ctx} is less than the model's ${now.ctx} tokens: this shortens its context`);
  if (plan.theta && plan.theta.new < currentTheta) notes.push(`the new RoPE base ${plan.theta.new} is smaller than the model's ${currentTheta}`);
  return plan;
}
