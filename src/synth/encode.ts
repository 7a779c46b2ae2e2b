import { encodeF16, encodeF32, encodeQ8_0 } from '../gguf/numbers.js';
import { TensorType } from '../gguf/types.js';

/** Tensor data of `values` in a GGUF tensor type (F32, F16 or Q8_0). */
export function encodeAs(type: number, values: Float32Array): Uint8Array {
  if (type === TensorType.F32) return encodeF32(values);
  if (type === TensorType.F16) return encodeF16(values);
  return encodeQ8_0(values);
}
