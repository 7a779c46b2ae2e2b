import { createInterface } from 'node:readline/promises';
import { UserError } from '../errors.js';
import { humanBytes } from '../util/human.js';
import type { HubId } from '../hub/hubs.js';
import { planPull, type PullOptions, type PullPlan, type PullReporter, type PullResult, runPull } from '../hub/pull.js';
import { NeedsConversionError } from '../hub/modelRef.js';
import { NotDownloadedError, resolveLocal, type ResolvedModel } from '../hub/resolve.js';
import { AUTO_TYPE, convertFirst, isStale } from './convertFirst.js';
import { duration, progressBar } from './progress.js';

/** `--source hf|huggingface|ms|modelscope` */
export function parseSource(v: string | undefined): HubId | undefined {
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'hf' || s === 'huggingface' || s === 'hf-mirror') return 'huggingface';
  if (s === 'ms' || s === 'modelscope') return 'modelscope';
  throw new UserError(`--source must be hf (Hugging Face, or the mirror in HF_ENDPOINT) or modelscope (got "${v}")`, 2);
}

export function describePlan(p: PullPlan): string {
  const s = p.selection;
  const what = s.format === 'gguf'
    ? `${s.files.length > 1 ? `${s.primary} (+${s.files.length - 1} parts)` : s.primary}${s.quant ? ` (${s.quant})` : ''}`
    : `${s.files.length} files of the safetensors model`;
  const left = p.total - p.have;
  return `${p.repo} @ ${p.commit.slice(0, 12)} from ${p.hub.label}: ${what}, ${humanBytes(p.total)}` +
    (p.have > 0 ? ` (${humanBytes(left)} left to fetch)` : '');
}

/** The progress a pull shows on stderr: one bar over all its bytes, then one while hashing. */
export function cliReporter(): PullReporter {
  const bar = progressBar('downloading');
  let done = 0;
  let total = 0;
  let verify: ReturnType<typeof progressBar> | undefined;
  let verifyDone = 0;
  return {
    plan(p) {
      total = p.total;
      done = p.have;
      if (p.selection.note) console.error(`note: ${p.selection.note}`);
      bar.start(total, done);
    },
    bytes(n) {
      done += n;
      bar.update(done, total);
    },
    verifying(file, bytes) {
      verify = progressBar(`checking ${file}`);
      verifyDone = 0;
      verify.start(bytes);
    },
    verified(n) {
      if (!verify) return;
      verifyDone += n;
      verify.update(verifyDone);
    },
    fileDone() {
      if (verify) { verify.done(); verify = undefined; }
      if (done >= total) bar.done();
    },
  };
}

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Abort on Ctrl-C while `run` works; a second Ctrl-C exits at once. The handler stays registered until `run` ends
 * (not `once`): util/files.ts removes temp files on a signal and, when it is the only listener left, ends the
 * process by the signal — which a `once` handler, gone by the time files.ts counts, let it do mid-cleanup.
 */
export async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onInt = () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  try {
    return await run(ac.signal);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onInt);
  }
}

/** Run a planned pull on the terminal: bar, Ctrl-C kept resumable, a summary line. */
export async function pullWithUi(plan: PullPlan, o: PullOptions = {}): Promise<PullResult> {
  const started = performance.now();
  const result = await withInterrupt(async (signal) => {
    try {
      return await runPull(plan, { ...o, signal, report: cliReporter() });
    } catch (e) {
      if (!signal.aborted) throw e;
      process.stderr.write('\n');
      throw new UserError(`interrupted; what was fetched is kept in ${plan.repo}'s folder as .part files: run the same command to resume`, 130);
    }
  });
  const secs = (performance.now() - started) / 1000;
  const rate = result.fetched / Math.max(secs, 0.001);
  console.error(
    `pulled ${plan.repo}: ${humanBytes(plan.total)}` +
    (result.fetched ? `, fetched ${humanBytes(result.fetched)} in ${duration(secs)} (${humanBytes(rate)}/s)` : ', nothing to fetch') +
    (result.resumed ? `, resumed after ${humanBytes(result.resumed)}` : '') +
    (result.present ? `, ${humanBytes(result.present)} already there` : ''),
  );
  return result;
}

/**
 * A model the user named, ready to load: a path, a stored model, or a hub model pulled now — with --yes, or
 * after asking on a terminal. Without a terminal it fails with the pull command. A Hugging Face folder (a path,
 * or pulled: a catalog model that has only safetensors weights) is converted first (convertFirst.ts).
 */
export async function ensureModel(arg: string, o: { yes?: boolean; source?: HubId; command?: string } = {}): Promise<ResolvedModel> {
  const command = o.command ?? 'chat';
  try {
    return await fresh(resolveLocal(arg, o.source), arg, o, command);
  } catch (e) {
    if (e instanceof NeedsConversionError) return convertFirst(e, { yes: o.yes, command });
    if (!(e instanceof NotDownloadedError)) throw e;
    const interactive = process.stdin.isTTY && process.stderr.isTTY;
    if (!o.yes && !interactive) throw e;
    // A GGUF where the hub has one; else (a catalog model with only safetensors weights) the folder, converted after.
    const plan = await planPull(e.ref, { source: o.source });
    const convert = plan.selection.format === 'safetensors' ? `; it has no GGUF, so its safetensors are converted to ${AUTO_TYPE} after the download` : '';
    console.error(`${arg} is not downloaded: ${describePlan(plan)}${convert}`);
    if (!o.yes && !(await confirm(`Download it${convert ? ' and convert it' : ''} now? [y/N] `))) throw new UserError(`not downloaded; to fetch it later: llama3-zh pull ${arg}`);
    await pullWithUi(plan, { source: o.source });
    try {
      return await fresh(resolveLocal(arg, o.source), arg, o, command);
    } catch (e2) {
      // Asked once for both: the download was the question.
      if (e2 instanceof NeedsConversionError) return convertFirst(e2, { yes: true, command });
      throw e2;
    }
  }
}

/** A stored conversion whose folder has changed since is made again. */
async function fresh(r: ResolvedModel, arg: string, o: { yes?: boolean }, command: string): Promise<ResolvedModel> {
  if (!isStale(r)) return r;
  const c = r.created!;
  console.error(`${c.adapter ?? c.source} has changed since it was converted; converting it again`);
  // A merged adapter is made again from its adapter folder (which finds its base again): from the base alone, the
  // model would silently lose the adapter.
  return convertFirst(new NeedsConversionError(c.adapter ?? c.source, arg, c.name ? undefined : r.repo, r.catalog), { yes: o.yes, command });
}