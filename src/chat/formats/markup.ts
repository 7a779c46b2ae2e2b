/** The special-token texts of the Llama-3 formats, and the header every Llama-3 turn opens with. */
export const BOS = '<|begin_of_text|>';
export const EOT = '<|eot_id|>';
/** End of message: Llama 3.1 ends a turn that waits for a built-in tool's result with it. */
export const EOM = '<|eom_id|>';
export const END_OF_TEXT = '<|end_of_text|>';
export const HEADER = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

/** Special tokens the model writes at the end of its turn, and the start of a new header (a leaked turn). */
export const LLAMA3_STOPS = [EOT, END_OF_TEXT, '<|start_header_id|>'];
