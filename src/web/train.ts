/**
 * The training view (`serve --train-dir DIR`): the watched runs' progress and a live loss curve. It polls
 * GET /api/train and GET /api/train/log every 2 s, asking only for the lines after the ones it has (`since`, and the
 * log's token: when the log starts over the server says `reset` and the page drops its lines). Polling, not a
 * stream: many tabs, proxies and a server restart all just work. The chart is src/train/plot.ts, the same code
 * as `train watch --plot`.
 */
import DOMPurify from 'dompurify';
import { fmt, svgLossChart, type ChartLine } from '../train/plot.js';
import type { STRINGS } from './strings.js';

type Key = keyof typeof STRINGS.zh;
type Status = 'waiting' | 'running' | 'finished' | 'failed';

interface LogLine extends ChartLine {
  accuracy?: number; reward?: number; epoch?: number; percentage?: number; elapsed_time?: string; remaining_time?: string; throughput?: number;
}
interface Summary {
  id: string; name: string; recipe?: string; model?: string; stage?: string; status: Status; note?: string; lines: number; log: string;
  reading?: boolean;
  /** Seconds the log has been quiet, when that is overdue (the trainer may be gone). */
  quiet?: number;
  /** null: the trainer logged NaN or inf (JSON has no word for them), which is exactly what a diverged run shows. */
  last: LogLine | null; latest: Partial<Record<'loss' | 'eval_loss' | 'accuracy' | 'reward' | 'lr' | 'epoch' | 'throughput', number | null>>;
}
interface LogPage { run: Summary; reset: boolean; next: number; more: boolean; lines: LogLine[] }

const POLL_MS = 2000;
/** Pages fetched per tick when catching up on a long log (1000 lines each). */
const CATCH_UP = 20;
const NOTES: Record<string, Key> = { 'no run folder yet': 'noteFolder', 'no train.yaml yet': 'noteYaml', 'train.yaml cannot be read': 'noteBadYaml' };
const STATUS: Record<Status, Key> = { waiting: 'statusWaiting', running: 'statusRunning', finished: 'statusFinished', failed: 'statusFailed' };

/** A number of the log for people: NaN where the trainer wrote NaN or inf (the server sends them as null). */
const shown = (v: number | null | undefined, f: (n: number) => string): string | undefined =>
  v === undefined ? undefined : typeof v === 'number' && Number.isFinite(v) ? f(v) : 'NaN';

/** "2h 05m", "17m": how long the log has been quiet. */
const duration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m` : `${Math.floor(s / 60)}m`);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export interface Training { render(): void }

/** Shows the tab when the server watches runs (GET /api/train answers), and runs the view while it is open. */
export async function initTraining(api: (path: string) => Promise<Response>, t: (k: Key) => string): Promise<Training | undefined> {
  const probe = await api('/api/train').catch(() => undefined);
  if (!probe?.ok) return undefined;
  let runs: Summary[] = ((await probe.json()) as { runs: Summary[] }).runs;
  /** Each run's lines as far as read, and the log they belong to. */
  const logs = new Map<string, { token: string; lines: LogLine[] }>();
  let selected = localStorage.getItem('llama3zh.trainRun') ?? '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  let drawn = '';

  const tab = $<HTMLButtonElement>('train-tab');
  const select = $<HTMLSelectElement>('train-run');
  tab.hidden = false;
  select.onchange = () => { selected = select.value; localStorage.setItem('llama3zh.trainRun', selected); render(); void tick(); };

  const open = () => location.hash === '#train';
  function show() {
    const on = open();
    document.body.classList.toggle('view-train', on);
    $('train').hidden = !on;
    tab.textContent = t(on ? 'chat' : 'training');
    if (on) { render(); void tick(); } else clearTimeout(timer);
  }
  tab.onclick = () => { location.hash = open() ? '' : '#train'; };
  window.addEventListener('hashchange', show);

  /** The selected run's new lines, page by page (the server sends at most 1000 at a time). */
  async function fetchLines(id: string) {
    const have = logs.get(id) ?? { token: '', lines: [] };
    for (let i = 0; i < CATCH_UP; i++) {
      const q = new URLSearchParams({ run: id, since: String(have.lines.length), ...(have.token ? { log: have.token } : {}) });
      const res = await api(`/api/train/log?${q}`);
      if (!res.ok) return;
      const page = (await res.json()) as LogPage;
      if (page.reset) have.lines = [];
      have.token = page.run.log;
      have.lines.push(...page.lines);
      runs = runs.map((r) => (r.id === id ? page.run : r));
      logs.set(id, have);
      // `reading`: the server reads a long log a few MiB per request, so there is more to ask for at once.
      if (!page.more && !page.run.reading) return;
    }
  }

  async function tick() {
    clearTimeout(timer);
    try {
      if (!document.hidden) {
        const res = await api('/api/train');
        if (res.ok) runs = ((await res.json()) as { runs: Summary[] }).runs;
        const run = current();
        if (run) await fetchLines(run.id);
        render();
      }
    } catch { /* the server is restarting: try again at the next tick */ }
    if (open()) timer = setTimeout(() => void tick(), POLL_MS);
  }

  const current = () => runs.find((r) => r.id === selected) ?? runs[0];

  /** A label and its number, kept together in the grid (a <div> in a <dl> is valid HTML). */
  function stat(label: Key, value: string | undefined, cls: string): HTMLElement[] {
    if (value === undefined) return [];
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = t(label);
    const dd = document.createElement('dd');
    dd.textContent = value;
    dd.className = cls;
    div.append(dt, dd);
    return [div];
  }

  function render() {
    if (!open()) return;
    const run = current();
    if (select.options.length !== runs.length || [...select.options].some((o, i) => o.value !== runs[i].id)) {
      select.replaceChildren(...runs.map((r) => new Option(r.name, r.id)));
    }
    select.hidden = runs.length < 2;
    if (!run) return;
    select.value = run.id;
    const lines = logs.get(run.id)?.lines ?? [];
    const last = run.last;
    const badge = $('train-status');
    badge.textContent = t(STATUS[run.status]);
    badge.dataset.status = run.status;
    $('train-name').textContent = run.name;
    const quiet = run.quiet !== undefined ? t('trainQuiet').replace('{t}', duration(run.quiet)) : undefined;
    $('train-meta').textContent = [run.recipe, run.model, run.stage, run.note ? (NOTES[run.note] ? t(NOTES[run.note]) : run.note) : undefined, quiet].filter(Boolean).join(' · ');
    const pct = last?.percentage ?? 0;
    $('train-bar').style.width = `${Math.min(100, Math.max(0, pct))}%`;
    const l = run.latest;
    $('train-stats').replaceChildren(
      ...stat('trainSteps', last ? `${last.current_steps} / ${last.total_steps} (${pct}%)` : undefined, 'steps'),
      ...stat('trainLoss', shown(l.loss, fmt), 'loss'),
      ...stat('trainEvalLoss', shown(l.eval_loss, fmt), 'eval-loss'),
      ...stat('trainAccuracy', shown(l.accuracy, (v) => `${+(v * 100).toFixed(1)}%`), 'accuracy'),
      ...stat('trainReward', shown(l.reward, fmt), 'reward'),
      ...stat('trainLr', shown(l.lr, fmt), 'lr'),
      ...stat('trainEpoch', shown(l.epoch, (v) => v.toFixed(2)), 'epoch'),
      ...stat('trainElapsed', last?.elapsed_time, 'elapsed'),
      ...stat('trainEta', run.status === 'running' && run.quiet === undefined ? last?.remaining_time : undefined, 'eta'),
      ...stat('trainThroughput', shown(l.throughput, String), 'throughput'),
    );
    // Redrawn only when something changed: the same SVG every 2 s would only make the page flicker.
    const key = `${run.id}|${lines.length}|${logs.get(run.id)?.token}|${t('chartLoss')}`;
    if (key === drawn) return;
    drawn = key;
    const svg = svgLossChart(lines, {
      labels: { step: t('chartStep'), loss: t('chartLoss'), smoothed: t('chartSmoothed'), eval: t('chartEval'), lr: t('chartLr'), empty: t('chartEmpty') },
    });
    // Our own markup with escaped names, and sanitized all the same: nothing from a log can become script.
    $('train-chart').innerHTML = DOMPurify.sanitize(svg, { USE_PROFILES: { svg: true } });
  }

  show();
  return { render: () => { drawn = ''; tab.textContent = t(open() ? 'chat' : 'training'); render(); } };
}
