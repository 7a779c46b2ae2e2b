import { relative } from 'node:path';
import { UserError } from '../../errors.js';
import { writeFileAtomic } from '../../util/files.js';
import { parseFlags } from '../flags.js';
import { latest, newsworthy, RunFollower, progressText, summaryText } from '../../train/follow.js';
import { sleep } from '../../train/process.js';
import { openRun } from '../../train/runDir.js';
import { svgLossChart, terminalLossChart } from '../../train/plot.js';

const HELP = `llama3-zh train watch DIR [--plot loss.svg] [--once]

Follows a run started anywhere — \`train run\` in another terminal, run.sh on a cluster node writing to a
shared disk — from DIR's trainer_log.jsonl: progress and a loss chart, redrawn in place on a terminal. Ends
when the run does (its final model saved); Ctrl-C stops watching (the run goes on).

  --plot FILE   write the loss curve as an SVG to FILE, on every update and at the end
  --once        print where the run is now, and the chart, and exit`;

const POLL_MS = 500;

export async function watchCommand(args: string[]): Promise<void> {
  const { values: v, positionals } = parseFlags('train watch', args, { plot: { type: 'string' }, once: { type: 'boolean' } }, true);
  if (v.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length !== 1) throw new UserError('usage: llama3-zh train watch DIR [--plot loss.svg] [--once] (llama3-zh train watch --help)', 2);
  const run = openRun(positionals[0]);
  const logShown = relative(process.cwd(), run.trainerLog) || run.trainerLog;
  const follower = new RunFollower(run.trainerLog, run.outputDir);
  const out = process.stdout;
  const tty = !!out.isTTY && !v.once;
  const chart = () => terminalLossChart(follower.lines, { width: Math.min(100, out.columns ?? 80), height: 10 });
  const plot = () => {
    if (v.plot) writeFileAtomic(v.plot, svgLossChart(follower.lines, { title: `${relative(process.cwd(), run.dir) || run.dir}: training loss` }));
  };

  if (v.once) {
    follower.poll();
    const last = latest(follower.lines);
    if (!last) {
      console.log(`no step logged yet: ${logShown} ${follower.finished() ? 'is missing, but the run has finished' : 'has no entries'}`);
    } else {
      console.log(progressText(last));
      for (const row of chart()) console.log(row);
      const state = follower.finished() ? 'finished' : follower.trained() ? 'saving the model' : 'running';
      console.log(`${state}: ${summaryText(follower.lines)}`);
    }
    plot();
    return;
  }

  // The plot from the start: a --plot that cannot be written fails now, not at the first update.
  plot();
  // Watching is not the run: Ctrl-C ends the watch with status 0, after the last plot.
  let stop = false;
  const onSignal = () => { stop = true; };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  let drawn = 0;
  // Not a terminal: a line per new entry, as `train run` writes them.
  const appended = (n: number) => {
    const all = follower.lines;
    for (let i = all.length - n; i < all.length; i++) if (newsworthy(all[i], all[i - 1])) out.write(`${progressText(all[i])}\n`);
  };
  const redraw = () => {
    const block = [progressText(latest(follower.lines)!), ...chart()];
    // Back to the block's first line, then each line cleared and written again.
    out.write(`${drawn ? `\x1b[${drawn}F` : ''}${block.map((l) => `${l}\x1b[K\n`).join('')}\x1b[J`);
    drawn = block.length;
  };
  try {
    let waiting = false;
    let saving = false;
    for (;;) {
      const { added, reset } = follower.poll();
      if (reset) {
        out.write(`the trainer log was started over (overwrite_output_dir)\n`);
        drawn = 0;
      }
      if (added.length || reset) {
        plot(); // first: whoever sees the new line finds the plot with it
        if (tty) redraw();
        else appended(added.length);
      } else if (!follower.last && !waiting) {
        out.write(`waiting for ${logShown}…\n`);
        waiting = true;
      }
      if (!saving && follower.trained() && !follower.finished()) {
        out.write(`${tty ? '\n' : ''}the last step is logged; waiting for LLaMA-Factory to save the model in ${relative(process.cwd(), run.outputDir) || run.outputDir}…\n`);
        saving = true;
        drawn = 0;
      }
      if (follower.finished() || stop) {
        // What the trainer wrote between this poll and the final model appearing.
        const rest = follower.poll().added;
        if (!tty) appended(rest.length);
        else if (rest.length) redraw();
        break;
      }
      await sleep(POLL_MS);
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  plot();
  if (!tty && follower.last) for (const row of chart()) out.write(`${row}\n`);
  const finished = follower.finished();
  out.write(`${finished ? 'finished' : 'stopped watching'}: ${summaryText(follower.lines)}${v.plot ? `; loss plot: ${v.plot}` : ''}\n`);
}
