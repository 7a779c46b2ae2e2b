import type { LoadEvent } from './local/index.js';
import type { MemoryBudget } from './local/memory.js';
import type { SiteModel } from './siteModels.js';
import type { STRINGS } from './strings.js';

/**
 * What the page says about the model in this browser: the download (bytes, speed, time left), the load, then
 * how it runs (threads, and why one thread), or why it cannot. A model over the tab's budget waits for a choice.
 */

type T = (k: keyof typeof STRINGS.zh) => string;

const MB = 1e6;
export const size = (b: number) => b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / MB).toFixed(1)} MB`;

function fill(s: string, v: Record<string, string>): string {
  return s.replace(/\{(\w+)\}/g, (m, k: string) => v[k] ?? m);
}

export class RunPanel {
  constructor(private el: HTMLElement, private t: T) {}

  private show(text: string, state: string, ...extra: HTMLElement[]) {
    const p = document.createElement('span');
    p.textContent = text;
    this.el.replaceChildren(p, ...extra);
    this.el.dataset.state = state;
    this.el.hidden = false;
  }

  hide() {
    this.el.hidden = true;
    this.el.replaceChildren();
  }

  idle(model: SiteModel, onLoad: () => void) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'load';
    b.textContent = this.t('loadModel');
    b.onclick = onLoad;
    this.show(fill(this.t('notLoaded'), { model: model.id, size: size(model.bytes) }), 'idle', b);
  }

  event(e: LoadEvent) {
    if (e.phase === 'download') {
      const pct = e.total ? Math.floor((100 * e.loaded) / e.total) : 0;
      const eta = e.rate > 0 && e.total ? Math.ceil((e.total - e.loaded) / e.rate) : undefined;
      const bar = document.createElement('progress');
      bar.max = 100;
      bar.value = pct;
      this.show(fill(this.t('downloading'), {
        done: size(e.loaded), total: size(e.total), pct: String(pct), rate: size(e.rate), eta: eta === undefined ? '—' : `${eta} s`,
      }), 'download', bar);
    } else if (e.phase === 'load') {
      this.show(this.t('loadingMemory'), 'load');
    } else if (e.phase === 'ready') {
      const how = e.multithread && e.threads > 1
        ? fill(this.t('threadsMulti'), { n: String(e.threads) })
        : this.t(e.single === 'phone' ? 'threadsPhone' : e.single === 'one-core' ? 'threadsOneCore' : 'threadsSingle');
      const from = this.t(e.cached ? 'fromCache' : 'fromNetwork');
      this.show(fill(this.t('readyHere'), { model: e.model.id, how, from, secs: e.seconds.toFixed(1) }), 'ready');
    } else if (e.phase === 'error') {
      this.show(`${this.t('error')}: ${e.message}`, 'error');
    }
  }

  /** The model needs more than this tab may hold: say so, with a way to load it if the person insists. */
  memory(model: SiteModel, budget: MemoryBudget, onAnyway: () => void) {
    const anyway = document.createElement('button');
    anyway.type = 'button';
    anyway.className = 'load-anyway';
    anyway.textContent = this.t('loadAnyway');
    anyway.onclick = onAnyway;
    const declared = budget.declared !== undefined ? fill(this.t('declared'), { gb: String(budget.declared) }) : '';
    this.show(fill(this.t(budget.phone ? 'tooBigPhone' : 'tooBig'), {
      model: model.id, need: size(model.need), budget: size(budget.bytes), declared,
    }), 'memory', anyway);
  }
}
