/** A GGUF file we cannot read; the message names the file and what is wrong with it. */
export class GgufError extends Error {
  override name = 'GgufError';
}
