import { VOCAB_SIZE } from '../gguf/llama3Vocab.js';
import { encodeF32, type Rng } from '../gguf/numbers.js';
import { TensorType } from '../gguf/types.js';
import type { TensorData, TensorSpec } from '../gguf/writer.js';
import type { Shape } from './model.js';

/** A tensor as a stream of random bytes of the right layout: cheap to make, even for an 8B model. */
function randomData(type: number, elements: number, rng: Rng): TensorData {
  return async (write) => {
    const CHUNK_BLOCKS = 1 << 17;
    if (type === TensorType.Q8_0) {
      const blocks = elements / 32;
      const scale = 0x0ce8; // f16 ≈ 0.0003: weights with std ≈ 0.02
      for (let b = 0; b < blocks; b += CHUNK_BLOCKS) {
        const n = Math.min(CHUNK_BLOCKS, blocks - b);
        const buf = Buffer.alloc(n * 34);
        const words = new Uint32Array(8);
        for (let i = 0; i < n; i++) {
          buf.writeUInt16LE(scale, i * 34);
          rng.fill(words);
          Buffer.from(words.buffer).copy(buf, i * 34 + 2);
        }
        await write(buf);
      }
    } else if (type === TensorType.F16) {
      const CHUNK = 1 << 21;
      for (let e = 0; e < elements; e += CHUNK) {
        const n = Math.min(CHUNK, elements - e);
        const out = new Uint16Array(n);
        for (let i = 0; i < n; i++) {
          const r = rng.nextU32();
          out[i] = (r & 0x83ff) | ((6 + ((r >>> 10) & 3)) << 10); // |w| in [2^-9, 2^-5)
        }
        await write(new Uint8Array(out.buffer));
      }
    } else {
      throw new Error(`no random data for tensor type ${type}`);
    }
  };
}

/** The tensors of a model with random weights (for tests and benchmarks), drawn lazily in file order. */
export function randomTensors(shape: Shape, wtype: number, rng: Rng): TensorSpec[] {
  const { layers, embd, ff, heads, kvHeads } = shape;
  const kvDim = (embd / heads) * kvHeads;
  const ones = (n: number) => encodeF32(new Float32Array(n).fill(1));
  const matrix = (name: string, cols: number, rows: number): TensorSpec =>
    ({ name, dims: [cols, rows], type: wtype, data: randomData(wtype, cols * rows, rng) });
  const tensors: TensorSpec[] = [matrix('token_embd.weight', embd, VOCAB_SIZE)];
  tensors.push({ name: 'output_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
  if (!shape.tied) tensors.push(matrix('output.weight', embd, VOCAB_SIZE));
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}.`;
    tensors.push({ name: p + 'attn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    tensors.push(matrix(p + 'attn_q.weight', embd, embd), matrix(p + 'attn_k.weight', embd, kvDim));
    tensors.push(matrix(p + 'attn_v.weight', embd, kvDim), matrix(p + 'attn_output.weight', embd, embd));
    tensors.push({ name: p + 'ffn_norm.weight', dims: [embd], type: TensorType.F32, data: ones(embd) });
    tensors.push(matrix(p + 'ffn_gate.weight', embd, ff), matrix(p + 'ffn_up.weight', embd, ff), matrix(p + 'ffn_down.weight', ff, embd));
  }
  return tensors;
}
