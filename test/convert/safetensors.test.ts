import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCheckpoint } from '../../src/convert/checkpoint.js';
import { readSafetensors, tensorData } from '../../src/convert/safetensors.js';
import { UserError } from '../../src/errors.js';

/** safetensors files written here by hand from the format's description, not by the code under test. */

const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));

interface T { name: string; dtype: string; shape: number[]; data: Buffer }

function file(tensors: T[], o: { metadata?: Record<string, string>; header?: (h: Record<string, unknown>) => unknown; pad?: number } = {}): Buffer {
  const h: Record<string, unknown> = o.metadata ? { __metadata__: o.metadata } : {};
  let at = 0;
  for (const t of tensors) {
    h[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.length] };
    at += t.data.length;
  }
  const json = Buffer.from(JSON.stringify(o.header ? o.header(h) : h) + ' '.repeat(o.pad ?? 0));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...tensors.map((t) => t.data)]);
}

const f32 = (...v: number[]) => Buffer.from(new Float32Array(v).buffer);
const bf16 = (...v: number[]) => Buffer.from(new Uint16Array(v).buffer);
const write = (name: string, bytes: Buffer) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };

const A: T = { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [2, 3], data: bf16(1, 2, 3, 4, 5, 6) };
const B: T = { name: 'model.norm.weight', dtype: 'F32', shape: [3], data: f32(0.5, 1, 2) };

test('a file reads as its header says, with its metadata; tensor bytes are read on demand and exact', () => {
  const p = write('one.safetensors', file([A, B], { metadata: { format: 'pt' }, pad: 5 }));
  const f = readSafetensors(p);
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.deepEqual(f.tensors.map((t) => [t.name, t.dtype, t.shape, t.bytes]), [[A.name, 'BF16', [2, 3], 12], [B.name, 'F32', [3], 12]]);
  assert.deepEqual(tensorData(f, f.byName.get(B.name)!), B.data);
  assert.deepEqual(tensorData(f, f.byName.get(A.name)!), A.data);
});

test('every damaged header is one clear error, and a lying length allocates nothing', () => {
  const good = file([A, B]);
  const lie = Buffer.from(good);
  lie.writeBigUInt64LE(2n ** 62n);
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from('abc'), /it has 3 bytes, less than the 8-byte header length/],
    [lie, /its header claims 4611686018427387904 bytes, over the 100000000 the format allows/],
    [good.subarray(0, 20), /its header claims \d+ bytes but the file has 20 \(truncated\?\)/],
    [good.subarray(0, good.length - 4), /its tensors need \d+ bytes but the file has \d+ \(truncated\?\)/],
    [Buffer.concat([good, Buffer.alloc(3)]), /it has 3 bytes after the last tensor/],
    [file([{ ...A, dtype: 'Q4' }]), /tensor "model\.embed_tokens\.weight" has dtype "Q4"; known: BOOL, U8/],
    [file([A], { header: (h) => ({ ...h, [A.name]: { ...(h[A.name] as object), shape: [2, 4] } }) }), /is \[2,4\] BF16 \(16 bytes\) but its data_offsets span 12/],
    [file([A, B], { header: (h) => ({ ...h, [B.name]: { ...(h[B.name] as object), data_offsets: [10, 22] } }) }), /tensor "model\.norm\.weight" overlaps the tensor before it/],
    [file([A], { header: (h) => ({ ...h, [A.name]: { ...(h[A.name] as object), data_offsets: [12] } }) }), /has data_offsets that are not \[begin, end\]/],
    [file([A], { header: () => [1, 2] }), /its header is not a JSON object/],
    [file([A], { metadata: { n: 1 as unknown as string } }), /"__metadata__\.n" is not a string/],
  ];
  for (const [bytes, msg] of cases) {
    const p = write('bad.safetensors', bytes);
    assert.throws(() => readSafetensors(p), (e: unknown) => e instanceof UserError && /^.*bad\.safetensors: not a usable safetensors file: /.test(e.message) && msg.test(e.message) && !e.message.includes('\n'), String(msg));
  }
});

test('a sharded checkpoint reads through its index; an index that disagrees with its shards is refused', () => {
  const ok = join(dir, 'sharded');
  mkdirSync(ok);
  writeFileSync(join(ok, 'model-00001-of-00002.safetensors'), file([A]));
  writeFileSync(join(ok, 'model-00002-of-00002.safetensors'), file([B]));
  const index = (map: Record<string, string>) => JSON.stringify({ metadata: { total_size: 24 }, weight_map: map });
  const map = { [A.name]: 'model-00001-of-00002.safetensors', [B.name]: 'model-00002-of-00002.safetensors' };
  writeFileSync(join(ok, 'model.safetensors.index.json'), index(map));
  const c = readCheckpoint(ok);
  assert.deepEqual([...c.tensors.keys()].sort(), [A.name, B.name].sort());
  assert.deepEqual(tensorData(c.tensors.get(B.name)!.file, c.tensors.get(B.name)!), B.data);

  const variant = (name: string, m: Record<string, unknown>, msg: RegExp, first: T[] = [A]) => {
    const d = join(dir, name);
    mkdirSync(d);
    writeFileSync(join(d, 'model-00001-of-00002.safetensors'), file(first));
    writeFileSync(join(d, 'model-00002-of-00002.safetensors'), file([B]));
    writeFileSync(join(d, 'model.safetensors.index.json'), index(m as Record<string, string>));
    assert.throws(() => readCheckpoint(d), (e: unknown) => e instanceof UserError && msg.test(e.message), String(msg));
  };
  variant('missing', { ...map, x: 'model-00003-of-00003.safetensors' }, /model-00003-of-00003\.safetensors is missing: model\.safetensors\.index\.json lists it/);
  const C: T = { name: 'lm_head.weight', dtype: 'F32', shape: [1], data: f32(7) };
  variant('unlisted', map, /model-00001-of-00002\.safetensors holds tensor "lm_head\.weight", which model\.safetensors\.index\.json does not list/, [A, C]);
  variant('moved', { [A.name]: map[A.name], [B.name]: map[A.name] }, /model\.safetensors\.index\.json puts tensor "model\.norm\.weight" in model-00001-of-00002\.safetensors, which does not hold it/);
  variant('escape', { ...map, [B.name]: '../one.safetensors' }, /the weight_map names "\.\.\/one\.safetensors", which is not a file name in the folder/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => readCheckpoint(empty), /has no model\.safetensors and no model\.safetensors\.index\.json/);
});
