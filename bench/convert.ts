/**
 * Conversion benchmark: a Llama-3-8B-shaped Hugging Face checkpoint (random bf16 weights in 4 shards, made once
 * under .cache/bench-models) converted the way a user converts one, each step its own process so peak RSS is the
 * step's own:
 *  1. the floor: copying the checkpoint's bytes through a process (read + write in 8 MiB chunks; neither fsyncs)
 *  2. `llama3-zh convert --type f16` (every bf16 value re-encoded, q/k rows permuted) — target within 1.5x of 1
 *  3. `llama3-zh quantize F16 Q4_K_M` beside llama.cpp's own `llama-quantize` on the same file, alternately —
 *     target within 1.1x; the two outputs are compared byte for byte
 *  4. `llama3-zh convert --type q4_k_m` (convert and quantize in one run)
 * Peak RSS of every step is read from /proc (VmHWM); target under 1 GiB for convert.
 * llama-quantize: --llama-quantize=PATH or LLAMA3ZH_LLAMA_QUANTIZE, built from node-llama-cpp's bundled source
 * (README, "bench:convert"); without it step 3 runs ours alone.
 * Options: --preset=8b|1b --threads=N --rounds=1 --llama-quantize=PATH --keep (keep the outputs)
 *          --convert-only (steps 1 and 2: minutes instead of most of an hour for the 8B on 2 cores)
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { progressBar } from '../src/cli/progress.js';
import { freeBytes } from '../src/util/files.js';
import { humanBytes } from '../src/util/human.js';
import { writeLlama3Tokenizer } from '../test/helpers/hfTokenizer.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const preset = args.get('preset') ?? '8b';
const threads = Number(args.get('threads') ?? availableParallelism());
const rounds = Number(args.get('rounds') ?? 1);
const llamaQuantize = args.get('llama-quantize') ?? process.env.LLAMA3ZH_LLAMA_QUANTIZE;
const keep = args.has('keep');
const convertOnly = args.has('convert-only');

interface Shape { hidden: number; layers: number; heads: number; kv: number; ff: number; vocab: number; tied: boolean; ctx: number }
const SHAPES: Record<string, Shape> = {
  // Meta-Llama-3.1-8B and Llama-3.2-1B, as their config.json files give them.
  '8b': { hidden: 4096, layers: 32, heads: 32, kv: 8, ff: 14336, vocab: 128256, tied: false, ctx: 131072 },
  '1b': { hidden: 2048, layers: 16, heads: 32, kv: 8, ff: 8192, vocab: 128256, tied: true, ctx: 131072 },
};
const shape = SHAPES[preset];
if (!shape) throw new Error(`--preset must be one of ${Object.keys(SHAPES).join(', ')}`);

/** The checkpoint's tensors in the order transformers saves them. */
function tensorList(s: Shape): Array<{ name: string; shape: number[] }> {
  const head = s.hidden / s.heads;
  const out = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden] }];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}self_attn.k_proj.weight`, shape: [s.kv * head, s.hidden] },
      { name: `${p}self_attn.v_proj.weight`, shape: [s.kv * head, s.hidden] },
      { name: `${p}self_attn.o_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}mlp.gate_proj.weight`, shape: [s.ff, s.hidden] },
      { name: `${p}mlp.up_proj.weight`, shape: [s.ff, s.hidden] },
      { name: `${p}mlp.down_proj.weight`, shape: [s.hidden, s.ff] },
      { name: `${p}input_layernorm.weight`, shape: [s.hidden] },
      { name: `${p}post_attention_layernorm.weight`, shape: [s.hidden] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [s.hidden] });
  if (!s.tied) out.push({ name: 'lm_head.weight', shape: [s.vocab, s.hidden] });
  return out;
}

const bytesOf = (t: { shape: number[] }) => t.shape.reduce((a, b) => a * b, 1) * 2;

/** Random bf16 values of about N(0, 0.02) (norms near 1): a 64 MiB block, rotated so no two tensors are equal. */
function randomBlock(): Uint16Array {
  const out = new Uint16Array(32 << 20);
  let x = 0x9e3779b9;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    // Sum of 4 uniform bytes ≈ normal; scaled to σ ≈ 0.02.
    const g = (((x & 255) + ((x >>> 8) & 255) + ((x >>> 16) & 255) + (x >>> 24)) - 510) / 147.8;
    f[0] = g * 0.02;
    out[i] = u[0] >>> 16;
  }
  return out;
}

/** Writes the checkpoint in shards of about 5 GB, as transformers' save_pretrained does, with its index. */
async function makeCheckpoint(dir: string, s: Shape) {
  const tensors = tensorList(s);
  const total = tensors.reduce((a, t) => a + bytesOf(t), 0);
  const shards: Array<typeof tensors> = [[]];
  let inShard = 0;
  for (const t of tensors) {
    if (inShard > 0 && inShard + bytesOf(t) > 5e9) { shards.push([]); inShard = 0; }
    shards[shards.length - 1].push(t);
    inShard += bytesOf(t);
  }
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const block = new Uint8Array(randomBlock().buffer);
  const ones = new Uint16Array(s.hidden).fill(0x3f80); // bf16 1.0
  const bar = progressBar(`writing the ${preset} bf16 checkpoint`);
  bar.start(total);
  let done = 0;
  let rot = 0;
  const weightMap: Record<string, string> = {};
  for (let k = 0; k < shards.length; k++) {
    const file = `model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const t of shards[k]) {
      header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [off, off + bytesOf(t)] };
      off += bytesOf(t);
      weightMap[t.name] = file;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const fd = openSync(join(tmp, file), 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    for (const t of shards[k]) {
      let left = bytesOf(t);
      if (t.shape.length === 1) { writeSync(fd, new Uint8Array(ones.buffer, 0, left)); done += left; continue; }
      while (left > 0) {
        const start = (rot = (rot + 4099 * 2) % (block.length / 2)) & ~1;
        const n = Math.min(left, block.length - start);
        writeSync(fd, block, start, n);
        left -= n; done += n;
        bar.update(done);
      }
    }
    fsyncSync(fd);
    closeSync(fd);
  }
  bar.done();
  writeFileSync(join(tmp, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  writeFileSync(join(tmp, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0, bos_token_id: 128000, eos_token_id: 128001,
    hidden_act: 'silu', hidden_size: s.hidden, initializer_range: 0.02, intermediate_size: s.ff, max_position_embeddings: s.ctx,
    mlp_bias: false, model_type: 'llama', num_attention_heads: s.heads, num_hidden_layers: s.layers, num_key_value_heads: s.kv,
    pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: { factor: 8, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: 'llama3' },
    rope_theta: 500000, tie_word_embeddings: s.tied, torch_dtype: 'bfloat16', transformers_version: '4.43.0', use_cache: true, vocab_size: s.vocab,
  }, null, 2));
  writeFileSync(join(tmp, 'generation_config.json'), JSON.stringify({ bos_token_id: 128000, eos_token_id: 128001, do_sample: true, temperature: 0.6, top_p: 0.9 }, null, 2));
  writeLlama3Tokenizer(tmp);
  renameSync(tmp, dir);
}

/** Runs a command, polling its peak RSS (VmHWM) from /proc; returns seconds and that peak. */
function timed(cmd: string, argv: string[]): Promise<{ secs: number; peak: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err = (err + d).slice(-4000); });
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch { /* exited */ }
    }, 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve({ secs: (performance.now() - t0) / 1000, peak });
    });
  });
}

/** The floor: every byte of the checkpoint read and written once through a process, in 8 MiB chunks (no fsync, as convert). */
const COPY = `const fs=require('fs');const [out,...ins]=process.argv.slice(1);const o=fs.openSync(out,'w');const b=Buffer.alloc(8<<20);
for(const f of ins){const i=fs.openSync(f,'r');let n;while((n=fs.readSync(i,b,0,b.length,null))>0)fs.writeSync(o,b,0,n);fs.closeSync(i);}fs.closeSync(o);`;

const cli = join(process.cwd(), 'bin', 'llama3-zh.js');
const dir = join(process.cwd(), '.cache', 'bench-models', `hf-${preset}-bf16`);
const outDir = join(process.cwd(), '.cache', 'bench-convert');
const ckptBytes = tensorList(shape).reduce((a, t) => a + bytesOf(t), 0);
// Disk the run needs at its peak, beyond the checkpoint: the f16 GGUF and two Q4_K_M files (deleted after the
// comparison, as the f16 file is), then convert --type q4_k_m's temporary bf16 file and its output.
const q4 = ckptBytes * 0.31;
const need = (existsSync(dir) ? 0 : ckptBytes) + ckptBytes + 2 * q4 + (1 << 30);
const free = freeBytes(process.cwd());
if (free !== undefined && free < need) {
  console.error(`bench:convert needs ${humanBytes(need)} free here and has ${humanBytes(free)}; free some space or use --preset=1b`);
  process.exit(1);
}
if (!existsSync(dir)) await makeCheckpoint(dir, shape);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const shards = tensorList(shape).length && Object.values(JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>);
const shardFiles = [...new Set(shards as string[])].sort().map((f) => join(dir, f));
const size = (p: string) => statSync(p).size;
const gbps = (bytes: number, secs: number) => (bytes / secs / 1e9).toFixed(2);
const rows: string[][] = [];
const row = (what: string, r: { secs: number; peak: number }, bytes: number) => {
  rows.push([what, r.secs.toFixed(1), gbps(bytes, r.secs), humanBytes(r.peak)]);
  console.error(`  ${what}: ${r.secs.toFixed(1)} s, ${gbps(bytes, r.secs)} GB/s, peak RSS ${humanBytes(r.peak)}`);
};
console.error(`checkpoint: ${dir} (${humanBytes(ckptBytes)} bf16, ${shardFiles.length} shards); ${threads} threads, ${rounds} round(s)`);

const f16 = join(outDir, 'f16.gguf');
let copy = Infinity;
let conv = Infinity;
for (let r = 0; r < rounds; r++) {
  const c = await timed(process.execPath, ['-e', COPY, join(outDir, 'copy.bin'), ...shardFiles]);
  rmSync(join(outDir, 'copy.bin'));
  row('copy (floor)', c, ckptBytes);
  copy = Math.min(copy, c.secs);
  rmSync(f16, { force: true });
  const v = await timed(process.execPath, [cli, 'convert', dir, '--out', f16, '--type', 'f16', '--threads', String(threads)]);
  row('convert → f16', v, ckptBytes);
  conv = Math.min(conv, v.secs);
}
let ours = Infinity;
let theirs = Infinity;
let identical: boolean | undefined;
for (let r = 0; r < (convertOnly ? 0 : rounds); r++) {
  const a = join(outDir, 'ours-q4_k_m.gguf');
  const b = join(outDir, 'llama-quantize-q4_k_m.gguf');
  rmSync(a, { force: true });
  const o = await timed(process.execPath, [cli, 'quantize', f16, a, 'Q4_K_M', '--threads', String(threads)]);
  row('quantize f16 → Q4_K_M (ours)', o, size(f16));
  ours = Math.min(ours, o.secs);
  if (llamaQuantize) {
    rmSync(b, { force: true });
    const t = await timed(llamaQuantize, [f16, b, 'Q4_K_M', String(threads)]);
    row('quantize f16 → Q4_K_M (llama-quantize)', t, size(f16));
    theirs = Math.min(theirs, t.secs);
    identical = size(a) === size(b) && (await sameBytes(a, b));
  }
  if (!keep) { rmSync(a, { force: true }); rmSync(b, { force: true }); }
}
if (!keep) rmSync(f16, { force: true });
const direct = join(outDir, 'direct-q4_k_m.gguf');
if (!convertOnly) {
  const d = await timed(process.execPath, [cli, 'convert', dir, '--out', direct, '--type', 'q4_k_m', '--threads', String(threads)]);
  row('convert → Q4_K_M in one run', d, ckptBytes);
}

console.log(`\nbench:convert (${preset}, ${humanBytes(ckptBytes)} bf16 checkpoint, ${threads} threads)`);
console.log(['step', 'seconds', 'GB/s', 'peak RSS'].join('\t'));
for (const r of rows) console.log(r.join('\t'));
console.log(`convert f16 / copy: ${(conv / copy).toFixed(2)}x (target ≤ 1.5x)`);
if (convertOnly) console.log('quantize: not run (--convert-only)');
else if (llamaQuantize) console.log(`quantize ours / llama-quantize: ${(ours / theirs).toFixed(2)}x (target ≤ 1.1x); outputs ${identical ? 'byte-identical' : 'DIFFER'}`);
else console.log('quantize: no llama-quantize given (--llama-quantize=PATH), ours alone');
if (!keep) rmSync(outDir, { recursive: true, force: true });

async function sameBytes(a: string, b: string): Promise<boolean> {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.alloc(8 << 20);
  const bb = Buffer.alloc(8 << 20);
  try {
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, null);
      const nb = readSync(fb, bb, 0, bb.length, null);
      if (na !== nb || ba.compare(bb, 0, nb, 0, na) !== 0) return false;
      if (na === 0) return true;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}
