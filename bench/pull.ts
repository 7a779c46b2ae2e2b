/**
 * Download benchmark: `llama3-zh pull` against `curl -L -o` (what the original README has users do by
 * hand, and what a single-stream download tool does), both fetching the same GGUF from a local hub that
 * speaks Hugging Face's API (resolve → 302 → CDN, Range, sha256 listing).
 *  1. A CDN that caps each connection (as hubs and mirrors do): curl's one stream against our ranged
 *     connections. Target: our time ≤ curl's / 3 with 8 connections.
 *  2. No cap (localhost: disk- and CPU-bound): what our checking (sha256 of every byte) and ranged writes cost.
 *  3. Ctrl-C halfway, then the same command: the bytes the second run fetches, against the file's size.
 * Rounds are interleaved (curl, ours, ours, …) so a noisy machine hits both alike.
 * Options: --size=256 (MiB) --cap=16 (MiB/s per connection) --rounds=2 --connections=8
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, startHub } from '../test/helpers/hub.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const MiB = 2 ** 20;
const SIZE = Number(args.get('size') ?? 256) * MiB;
const CAP = Number(args.get('cap') ?? 16) * MiB;
const ROUNDS = Number(args.get('rounds') ?? 2);
const CONNECTIONS = Number(args.get('connections') ?? 8);
const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const REPO = 'acme/bench-gguf';
const FILE = 'bench.Q4_K_M.gguf';

function run(cmd: string, argv: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

async function main() {
  execFileSync('curl', ['--version']);
  process.stderr.write(`making a ${SIZE / MiB} MiB test file…\n`);
  const data = randomBytes(SIZE, 1234);
  const files = [{ path: FILE, data }];
  const capped = await startHub({ repos: [{ hub: 'huggingface', repo: REPO, files }], throttle: CAP });
  const open = await startHub({ repos: [{ hub: 'huggingface', repo: REPO, files }] });
  const work = mkdtempSync(join(tmpdir(), 'bench-pull-'));
  const cli = join(ROOT, 'bin', 'llama3-zh.js');

  const curl = async (hubUrl: string) => {
    const out = join(work, 'curl.gguf');
    const s = await run('curl', ['-sS', '-L', '--fail', '-o', out, `${hubUrl}/${REPO}/resolve/main/${FILE}`], {});
    if (readFileSync(out).length !== SIZE) throw new Error('curl: wrong size');
    rmSync(out);
    return s;
  };
  const ours = async (hubUrl: string, connections: number) => {
    const home = join(work, `home-${connections}`);
    const s = await run(process.execPath, [cli, 'pull', REPO, '--connections', String(connections)], { HF_ENDPOINT: hubUrl, LLAMA3ZH_HOME: home });
    if (!existsSync(join(home, 'models', REPO, FILE))) throw new Error('pull: no file');
    rmSync(home, { recursive: true });
    return s;
  };

  const rows: { scene: string; tool: string; secs: number[] }[] = [];
  const record = (scene: string, tool: string, s: number) => {
    let r = rows.find((x) => x.scene === scene && x.tool === tool);
    if (!r) rows.push((r = { scene, tool, secs: [] }));
    r.secs.push(s);
    process.stderr.write(`  ${scene}: ${tool} ${s.toFixed(2)} s\n`);
  };
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`round ${round}/${ROUNDS}\n`);
    const cappedScene = `CDN capped at ${CAP / MiB} MiB/s per connection`;
    record(cappedScene, 'curl -L (1 stream)', await curl(capped.url));
    record(cappedScene, `llama3-zh pull (${CONNECTIONS} connections)`, await ours(capped.url, CONNECTIONS));
    record('no cap (localhost)', 'curl -L (1 stream)', await curl(open.url));
    record('no cap (localhost)', 'llama3-zh pull (1 connection)', await ours(open.url, 1));
    record('no cap (localhost)', `llama3-zh pull (${CONNECTIONS} connections)`, await ours(open.url, CONNECTIONS));
  }

  // Resume: interrupt a capped pull halfway, then run it again and count what the hub sends.
  const home = join(work, 'home-resume');
  // Two connections, so that Ctrl-C lands halfway rather than after the progress saved at the next second.
  const child = spawn(process.execPath, [cli, 'pull', REPO, '--connections', '2'], { env: { ...process.env, HF_ENDPOINT: capped.url, LLAMA3ZH_HOME: home }, stdio: 'ignore' });
  const state = join(home, 'models', REPO, `${FILE}.part.json`);
  const doneBytes = () => (existsSync(state) ? (JSON.parse(readFileSync(state, 'utf8')) as { done: number[] }).done.reduce((a, b) => a + b, 0) : 0);
  while (doneBytes() < SIZE / 2) await new Promise((r) => setTimeout(r, 100));
  const exited = new Promise((r) => child.on('close', r));
  child.kill('SIGINT');
  await exited;
  const kept = doneBytes();
  capped.served.clear();
  await run(process.execPath, [cli, 'pull', REPO], { HF_ENDPOINT: capped.url, LLAMA3ZH_HOME: home });
  const refetched = capped.served.get(FILE) ?? 0;

  await capped.close();
  await open.close();
  rmSync(work, { recursive: true, force: true });

  const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
  console.log(`\n${SIZE / MiB} MiB GGUF, ${ROUNDS} rounds, median time (ours includes the sha256 check of every byte, hashed as it arrives)\n`);
  console.log('| scene | tool | seconds | MiB/s | vs curl |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const base = rows.find((x) => x.scene === r.scene && x.tool.startsWith('curl'))!;
    const s = median(r.secs);
    const ratio = median(base.secs) / s;
    console.log(`| ${r.scene} | ${r.tool} | ${s.toFixed(2)} | ${(SIZE / MiB / s).toFixed(0)} | ${r === base ? '1.00x' : ratio >= 1 ? `${ratio.toFixed(2)}x faster` : `${(1 / ratio).toFixed(2)}x slower`} |`);
  }
  console.log(`\nresume after Ctrl-C: ${(kept / MiB).toFixed(0)} MiB kept, the second run fetched ${(refetched / MiB).toFixed(1)} MiB ` +
    `(the missing ${((SIZE - kept) / MiB).toFixed(1)} MiB${refetched === SIZE - kept ? ', not a byte more' : ''})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
