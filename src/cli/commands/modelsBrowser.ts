import { BROWSER_CTX, browserNeed } from '../../estimate/browser.js';
import { PHONE_MEMORY, WASM_MEMORY_LIMIT } from '../../estimate/browserLimits.js';
import { type BrowserFit } from '../../estimate/browserFit.js';
import { findQuant } from '../../estimate/inference.js';
import { countParams, NAMED_SHAPES } from '../../estimate/shape.js';
import { gib } from '../../estimate/terms.js';

/*
 * What `models` says about running a catalog model in a browser (`llama3-zh web export`): wllama reads the
 * weights whole into a wasm heap of at most 4 GiB, and a phone's browser kills a tab near 1.5 GiB.
 */

/** The small Llama-3.2 models the catalog lacks, as the yardstick for what a phone or a tab does hold. */
function smallNeed(key: '1b' | '3b'): number {
  const s = NAMED_SHAPES[key];
  return browserNeed(s, Math.round((countParams(s).total * findQuant('Q4_K_M').bpw) / 8)).bytes;
}

const where = (f: BrowserFit) => (f.phone ? 'a phone' : f.tab ? "a laptop's browser tab, not a phone" : 'neither a phone nor a browser tab');

/** The line under the table: how many of the listed models fit where, and what would. */
export function browserLine(fits: BrowserFit[]): string {
  const phones = fits.filter((f) => f.phone).length, tabs = fits.filter((f) => f.tab).length;
  const head = `Browser (llama3-zh web export, Q4_K_M, ${BROWSER_CTX} tokens):`;
  const limits = `a phone (${gib(PHONE_MEMORY)}) or a laptop's browser tab (${gib(WASM_MEMORY_LIMIT)}, WebAssembly's limit)`;
  const smallest = Math.min(...fits.map((f) => f.q4Bytes));
  const fit = tabs === 0
    ? `none of these ${fits.length} models fits ${limits}; the smallest needs ${gib(smallest)}.`
    : `${phones} of these ${fits.length} models fit a phone (${gib(PHONE_MEMORY)}), ${tabs} a laptop's browser tab (${gib(WASM_MEMORY_LIMIT)}).`;
  if (phones) return `${head} ${fit}`;
  return `${head} ${fit} A phone needs a model of about 1B (Llama-3.2-1B: ${gib(smallNeed('1b'))}), a laptop's tab holds one of up to `
    + `about 3B (Llama-3.2-3B: ${gib(smallNeed('3b'))}): a Chinese fine-tune of Llama-3.2-1B/3B, say.`;
}

/** `models NAME`'s browser row. */
export function browserDetail(f: BrowserFit): string {
  return `at Q4_K_M needs ${gib(f.q4Bytes)} (${gib(f.weightBytes)} of weights, ${f.ctx} tokens of context): fits ${where(f)}`;
}
