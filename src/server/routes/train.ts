/** The training view's read-only endpoints, present only with `serve --train-dir DIR` (see trainRuns.ts). */
import type { Ctx, Route } from '../context.js';
import { ApiError, badRequest, sendJson } from '../http.js';
import { TrainRuns } from '../trainRuns.js';

/** Lines per answer: a page catching up on a long log asks again (`more`), no answer is megabytes. */
export const MAX_LOG_LINES = 1000;

/** `since`: a count of lines, as digits only ("-1", "1e3", "abc" and 16 digits or more are refused). */
function since(c: Ctx): number {
  const v = c.url.searchParams.get('since');
  if (v === null || v === '') return 0;
  if (!/^\d{1,15}$/.test(v)) throw badRequest(`since must be a whole number of lines already read (0 or more), not ${JSON.stringify(v.slice(0, 40))}`, 'since');
  return Number(v);
}

export function trainRoutes(dirs: string[]): Route[] {
  const runs = new TrainRuns(dirs);

  async function list(c: Ctx) {
    sendJson(c.res, 200, { runs: runs.list() }, { 'cache-control': 'no-store' });
  }

  /**
   * The lines after `since` of one run's trainer_log.jsonl, at most MAX_LOG_LINES. A page sends back the `log`
   * token it got: when the log has started over since (replaced, shrunk) — or `since` is past its end — the answer
   * starts from line 0 with `reset: true`, and the page drops what it had.
   */
  async function log(c: Ctx) {
    const id = c.url.searchParams.get('run');
    if (!id) throw badRequest('give the run: /api/train/log?run=ID (GET /api/train lists the ids)', 'run');
    const from = since(c);
    const r = runs.get(id);
    if (!r) throw new ApiError(404, `no training run ${JSON.stringify(id.slice(0, 80))}; GET /api/train lists the ids`, 'not_found_error', 'run');
    const token = c.url.searchParams.get('log');
    const reset = (token !== null && token !== r.log) || from > r.all.length;
    const start = reset ? 0 : from;
    const lines = r.all.slice(start, start + MAX_LOG_LINES);
    const { all: _, ...summary } = r;
    sendJson(c.res, 200, { run: summary, reset, since: start, next: start + lines.length, total: r.all.length, more: start + lines.length < r.all.length, lines }, { 'cache-control': 'no-store' });
  }

  return [
    { method: 'GET', path: '/api/train', family: 'system', whileLoading: true, handler: list },
    { method: 'GET', path: '/api/train/log', family: 'system', whileLoading: true, handler: log },
  ];
}
